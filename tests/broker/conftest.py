"""A real mosquitto, HA's real MQTT client on it, and an independent observer.

Everything about delivery is tested here against the broker users run, with
its default settings, started on a free port on 127.0.0.1 for each test.
"""

import asyncio
from collections.abc import AsyncGenerator, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from homeassistant.components import mqtt
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from paho.mqtt.client import Client, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from tests.broker.brokers import (
    HOST,
    WAIT,
    Broker,
    RabbitMQ,
    async_wait_subscribed,
    free_port,
)

__all__ = [
    "HOST",
    "WAIT",
    "Broker",
    "RabbitMQ",
    "async_wait_subscribed",
    "free_port",
]


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
    broker = Broker(tmp_path, persistence=True)
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
