"""A real mosquitto, HA's real MQTT client on it, and an independent observer.

Everything about delivery is tested here against the broker users run, with
its default settings, started on a free port on 127.0.0.1 for each test.
"""

import asyncio
from collections.abc import AsyncGenerator, Generator
from dataclasses import dataclass, field
import os
from pathlib import Path
import shutil
import signal
import socket
import subprocess
import time
from typing import Any

from homeassistant.components import mqtt
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from paho.mqtt.client import Client, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

HOST = "127.0.0.1"
WAIT = 10.0


@dataclass
class Broker:
    """A mosquitto of the test's own, which the test may stop, restart or freeze."""

    port: int
    conf: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start (again) on the same port; saved sessions come back."""
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.process = subprocess.Popen(
            [binary, "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_listening(self.port, self.process)

    def stop(self) -> None:
        """Stop as a service manager would; mosquitto saves its sessions."""
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            self.process.wait(timeout=WAIT)
            self.process = None

    def freeze(self) -> None:
        """Keep connections open but answer nothing, like a hung broker."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """Let a frozen broker go on."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


@dataclass
class RabbitMQ:
    """RabbitMQ with its MQTT plugin (Debian's rabbitmq-server), on free ports.

    Another broker users run. Its node and the epmd it needs are the test's
    own children, in the test run's process group: they stop with the test,
    and with the run if it is killed.
    """

    port: int
    workdir: Path
    process: subprocess.Popen[bytes] | None = None
    epmd: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start epmd, then the node; MQTT is up once its listener answers."""
        amqp, dist, epmd_port = _free_port(), _free_port(), _free_port()
        (self.workdir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = {HOST}:{amqp}\n"
            f"mqtt.listeners.tcp.default = {HOST}:{self.port}\n"
            "mqtt.allow_anonymous = true\nloopback_users = none\n"
        )
        (self.workdir / "enabled_plugins").write_text("[rabbitmq_mqtt].\n")
        env = {
            **os.environ,
            "HOME": str(self.workdir),
            "RABBITMQ_NODENAME": f"bridge-test-{self.port}@localhost",
            "RABBITMQ_CONFIG_FILE": str(self.workdir / "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.workdir / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.workdir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.workdir / "log"),
            "RABBITMQ_PID_FILE": str(self.workdir / "pid"),
            "RABBITMQ_DIST_PORT": str(dist),
            "ERL_EPMD_PORT": str(epmd_port),
            # The script then becomes the Erlang VM itself (no wrapper shell).
            "RUNNING_UNDER_SYSTEMD": "true",
        }
        epmd = next(Path("/usr/lib/erlang").glob("erts-*/bin/epmd"))
        # In the foreground, unlike the one the node would start as a daemon.
        self.epmd = subprocess.Popen(
            [str(epmd), "-port", str(epmd_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_listening(epmd_port, self.epmd)
        self.process = subprocess.Popen(
            [RABBITMQ_SERVER],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_listening(self.port, self.process, limit=RABBITMQ_START)

    def stop(self) -> None:
        """Stop the node, then its epmd."""
        for process in (self.process, self.epmd):
            if process is None:
                continue
            process.terminate()
            try:
                process.wait(timeout=WAIT * 3)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.process = self.epmd = None


# Debian's rabbitmq-server, run as the test's own node (not the service).
RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
# Seconds the node takes to start its MQTT listener: about 20 on 2 cores.
RABBITMQ_START = 90.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _wait_listening(
    port: int, process: subprocess.Popen[bytes], limit: float = WAIT
) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert process.poll() is None, "the broker exited at start"
        try:
            socket.create_connection((HOST, port), timeout=0.2).close()
        except OSError:
            time.sleep(0.05)
        else:
            return
    pytest.fail(f"the broker did not listen on {HOST}:{port}")


@pytest.fixture
def first_events_not_held() -> None:
    """Against the real broker, the first events of a new type wait as for users."""


@pytest.fixture
def mosquitto(socket_enabled: None, tmp_path: Path) -> Generator[Broker]:
    """Start mosquitto on a free loopback port.

    Network settings are mosquitto's defaults, as users run it. Persistence is
    on so that the observer's session, and the messages queued for it, outlive
    a restart of the broker.
    """
    port = _free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        f"listener {port} {HOST}\nallow_anonymous true\n"
        f"persistence true\npersistence_location {tmp_path}/\n"
    )
    broker = Broker(port, conf)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


async def _async_wait_for(predicate: object, what: str) -> None:
    assert callable(predicate)
    async with asyncio.timeout(WAIT):
        while not predicate():
            await asyncio.sleep(0.02)
    assert predicate(), what


@pytest.fixture
def mqtt_protocol() -> str | None:
    """MQTT protocol of HA's connection ("3.1.1", "5"); None keeps HA's default."""
    return None


@pytest.fixture
async def mqtt_entry(
    hass: HomeAssistant,
    mock_hass_config: None,
    mosquitto: Broker,
    mqtt_protocol: str | None,
) -> AsyncGenerator[MockConfigEntry]:
    """HA's real MQTT integration, connected to the test's broker.

    Every entry is unloaded before the broker stops.
    """
    data: dict[str, Any] = {mqtt.CONF_BROKER: HOST, "port": mosquitto.port}
    if mqtt_protocol is not None:
        data["protocol"] = mqtt_protocol
    entry = MockConfigEntry(
        domain=mqtt.DOMAIN,
        data=data,
        # No birth message: it would go out 5 s after connecting, mid-test.
        options={mqtt.CONF_BIRTH_MESSAGE: {}},
        version=1,
        minor_version=2,
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await _async_wait_for(lambda: mqtt.is_connected(hass), "HA's MQTT client connects")
    yield entry
    for loaded in reversed(hass.config_entries.async_entries()):
        if loaded.state is ConfigEntryState.LOADED:
            assert await hass.config_entries.async_unload(loaded.entry_id)
    await hass.async_block_till_done()


@dataclass
class Observer:
    """An independent paho client that records what the broker delivers."""

    client: Client
    loop: asyncio.AbstractEventLoop
    messages: asyncio.Queue[MQTTMessage] = field(default_factory=asyncio.Queue)

    async def async_next(self) -> MQTTMessage:
        """Return the next event or response the broker delivered.

        Availability and discovery messages are control traffic, skipped here.
        """
        async with asyncio.timeout(WAIT):
            while True:
                message = await self.messages.get()
                if not message.topic.endswith("/availability") and not (
                    message.topic.startswith("homeassistant/")
                ):
                    return message


@pytest.fixture
async def observer(mosquitto: Broker) -> AsyncGenerator[Observer]:
    """Subscribe to everything at QoS 2 once the broker has acknowledged it.

    Its session is persistent and it reconnects within a second, so across a
    broker restart it misses no QoS 1 or 2 message.
    """
    loop = asyncio.get_running_loop()
    client = Client(
        CallbackAPIVersion.VERSION2, client_id="observer", clean_session=False
    )
    client.reconnect_delay_set(min_delay=1, max_delay=1)
    result = Observer(client, loop)
    subscribed = asyncio.Event()

    # paho calls these from its own thread.
    def on_message(_client: Client, _userdata: object, message: MQTTMessage) -> None:
        loop.call_soon_threadsafe(result.messages.put_nowait, message)

    def on_subscribe(*_: object) -> None:
        loop.call_soon_threadsafe(subscribed.set)

    def on_connect(connected: Client, *_: object) -> None:
        connected.subscribe("#", qos=2)

    client.on_message = on_message
    client.on_subscribe = on_subscribe
    client.on_connect = on_connect
    client.connect(HOST, mosquitto.port)
    client.loop_start()
    try:
        async with asyncio.timeout(WAIT):
            await subscribed.wait()
        yield result
    finally:
        client.disconnect()
        client.loop_stop()


async def async_wait_subscribed(hass: HomeAssistant, topic: str, qos: int) -> None:
    """Return once the broker has acknowledged HA's subscription to `topic`.

    HA batches subscriptions for about half a second. Newer HA tells when one is
    done; on older HA the client's pending subscriptions and operations are
    watched until both are empty.
    """
    if (on_done := getattr(mqtt, "async_on_subscribe_done", None)) is not None:
        done = asyncio.Event()
        stop = on_done(hass, topic, qos, done.set)
        try:
            async with asyncio.timeout(WAIT):
                await done.wait()
        finally:
            stop()
        return
    client = hass.data[mqtt.DATA_MQTT].client
    await _async_wait_for(
        lambda: topic not in client._pending_subscriptions
        and not client._pending_operations,
        f"subscription to {topic}",
    )
