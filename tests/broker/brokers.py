"""Real brokers on free loopback ports, shared by the tests and scripts/bench.

mosquitto as users run it (or tuned), and RabbitMQ with its MQTT plugin. Each
is a child of the process that starts it and stops with it.
"""

import asyncio
from dataclasses import dataclass, field
import os
from pathlib import Path
import shutil
import signal
import socket
import subprocess
import time

from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant

HOST = "127.0.0.1"
WAIT = 10.0


@dataclass
class Broker:
    """A mosquitto of its own, which its user may stop, restart or freeze.

    mosquitto's defaults, as users run it; `nodelay` sends without Nagle's
    delay (as EMQX does), `persistence` keeps sessions and their queued
    messages across a restart.
    """

    workdir: Path
    nodelay: bool = False
    persistence: bool = False
    port: int = field(default_factory=lambda: free_port())
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        """Write the configuration."""
        self.conf = self.workdir / "mosquitto.conf"
        lines = [f"listener {self.port} {HOST}", "allow_anonymous true"]
        if self.nodelay:
            lines.append("set_tcp_nodelay true")
        if self.persistence:
            lines += ["persistence true", f"persistence_location {self.workdir}/"]
        self.conf.write_text("\n".join(lines) + "\n")

    def start(self) -> None:
        """Start (again) on the same port; saved sessions come back."""
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.process = subprocess.Popen(
            [binary, "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_listening(self.port, self.process)

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
        amqp, dist, epmd_port = free_port(), free_port(), free_port()
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
        wait_listening(epmd_port, self.epmd)
        self.process = subprocess.Popen(
            [RABBITMQ_SERVER],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_listening(self.port, self.process, limit=RABBITMQ_START)

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


def free_port() -> int:
    """Give a port free on the loopback address now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_listening(
    port: int, process: subprocess.Popen[bytes], limit: float = WAIT
) -> None:
    """Return once `port` accepts connections; raise if `process` ends first."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            msg = "the broker exited at start"
            raise RuntimeError(msg)
        try:
            socket.create_connection((HOST, port), timeout=0.2).close()
        except OSError:
            time.sleep(0.05)
        else:
            return
    msg = f"the broker did not listen on {HOST}:{port}"
    raise RuntimeError(msg)


async def async_wait_subscribed(hass: HomeAssistant, topic: str, qos: int) -> None:
    """Return once the broker has acknowledged HA's subscription to `topic`.

    HA batches subscriptions for about half a second. Newer HA tells when one
    is done; on older HA the client's subscriptions and pending operations
    are watched.
    """
    async with asyncio.timeout(WAIT):
        if (on_done := getattr(mqtt, "async_on_subscribe_done", None)) is not None:
            done = asyncio.Event()
            stop = on_done(hass, topic, qos, done.set)
            try:
                await done.wait()
            finally:
                stop()
            return
        client = hass.data[mqtt.DATA_MQTT].client
        # A filter with wildcards is not among the simple subscriptions.
        simple = "+" not in topic and "#" not in topic
        while (
            (simple and topic not in client._simple_subscriptions)
            or client._pending_subscriptions
            or client._pending_operations
        ):
            await asyncio.sleep(0.02)
