"""MQTT 5 message expiry: a stale event is dropped by the broker too."""

import asyncio
import json

from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant
from paho.mqtt.client import Client, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.mqtt_event_bridge.models import BridgeConfigEntry
from custom_components.mqtt_event_bridge.mqtt_client import PUBLISH_TAKES_EXPIRY
from tests.broker.conftest import HOST, WAIT, Broker
from tests.conftest import call_action, make_entry


class OfflineSubscriber:
    """An MQTT 5 client whose session, and queue, outlive its disconnects."""

    def __init__(self, port: int) -> None:
        """Prepare the client; `async_connect` opens the session."""
        self._port = port
        self._loop = asyncio.get_running_loop()
        self.messages: asyncio.Queue[MQTTMessage] = asyncio.Queue()
        self._ready = asyncio.Event()
        self.client = Client(
            CallbackAPIVersion.VERSION2,
            client_id="offline",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_ready
        self.client.on_connect = self._on_connect

    # paho calls these from its own thread.
    def _on_message(self, _client: Client, _userdata: object, msg: MQTTMessage) -> None:
        self._loop.call_soon_threadsafe(self.messages.put_nowait, msg)

    def _on_ready(self, *_: object) -> None:
        self._loop.call_soon_threadsafe(self._ready.set)

    def _on_connect(
        self,
        _client: Client,
        _userdata: object,
        _flags: object,
        _reason: ReasonCode,
        _properties: object,
    ) -> None:
        self._loop.call_soon_threadsafe(self._ready.set)

    async def async_connect(self, *, subscribe: bool) -> None:
        """Connect, keeping the session for five minutes after a disconnect."""
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 300
        self._ready.clear()
        self.client.connect(HOST, self._port, clean_start=False, properties=properties)
        self.client.loop_start()
        async with asyncio.timeout(WAIT):
            await self._ready.wait()
        if subscribe:
            self._ready.clear()
            self.client.subscribe("it/ai/events/#", qos=1)
            async with asyncio.timeout(WAIT):
                await self._ready.wait()

    def disconnect(self) -> None:
        """Go offline; the broker queues QoS 1 messages for the session."""
        self.client.disconnect()
        self.client.loop_stop()


@pytest.mark.parametrize("mqtt_protocol", ["5", "3.1.1"])
async def test_broker_drops_what_expired_while_queued(
    hass: HomeAssistant,
    mqtt_protocol: str,
    mqtt_entry: MockConfigEntry,
    mosquitto: Broker,
) -> None:
    """A 1 s event does not reach a subscriber that was offline for 3 s; 60 s does.

    Only where HA can pass the expiry (newer HA) over an MQTT 5 connection;
    elsewhere the broker knows no expiry and delivers both, as before. Newer
    HA moves a 3.1.1 connection to MQTT 5 whenever the broker supports it, so
    what counts is the protocol HA's client ends up using.
    """
    subscriber = OfflineSubscriber(mosquitto.port)
    await subscriber.async_connect(subscribe=True)
    subscriber.disconnect()

    entry = make_entry(prefix="it/ai", qos=1)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    bridge: BridgeConfigEntry = entry
    publisher = bridge.runtime_data.publisher
    short = await call_action(hass, "publish_event", {"event_type": "x", "ttl": 1})
    long = await call_action(hass, "publish_event", {"event_type": "x", "ttl": 60})
    async with asyncio.timeout(WAIT):
        while publisher.counters.published < 2:
            await asyncio.sleep(0.05)
    assert publisher.counters.failed == 0

    await asyncio.sleep(3)
    await subscriber.async_connect(subscribe=False)
    try:
        received = []
        async with asyncio.timeout(WAIT):
            while long["event_id"] not in received:
                received.append(
                    json.loads((await subscriber.messages.get()).payload)["event_id"]
                )
        await asyncio.sleep(0.5)
        while not subscriber.messages.empty():
            received.append(
                json.loads(subscriber.messages.get_nowait().payload)["event_id"]
            )
    finally:
        subscriber.disconnect()

    mqtt5 = hass.data[mqtt.DATA_MQTT].client.is_mqttv5
    assert mqtt5 or mqtt_protocol == "3.1.1"
    broker_expires = PUBLISH_TAKES_EXPIRY and mqtt5
    assert (short["event_id"] in received) is not broker_expires
