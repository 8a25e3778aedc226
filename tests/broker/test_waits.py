"""Ask and wait against a real broker, with a responder that is its own MQTT client."""

import asyncio
from collections.abc import Iterator
import json
import threading

from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant
from paho.mqtt.client import Client, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from tests.broker.conftest import HOST, WAIT, Broker, async_wait_subscribed
from tests.conftest import call_action, make_entry


@pytest.fixture
def responder(mosquitto: Broker) -> Iterator[Client]:
    """Answer every event on it/ai/events/# at once, from paho's own thread."""
    client = Client(CallbackAPIVersion.VERSION2, client_id="responder")

    def on_message(answering: Client, _userdata: object, message: MQTTMessage) -> None:
        event = json.loads(message.payload)
        answering.publish(
            "it/ai/responses/automation/responder",
            json.dumps(
                {
                    "automation_id": "responder",
                    "status": "success",
                    "event_id": event["event_id"],
                    "answer": event["n"] * 2,
                }
            ),
            qos=1,
        )

    subscribed = threading.Event()
    client.on_message = on_message
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_connect = lambda connected, *_: connected.subscribe(
        "it/ai/events/#", qos=1
    )
    client.connect(HOST, mosquitto.port)
    client.loop_start()
    try:
        assert subscribed.wait(WAIT)
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.mark.parametrize("qos", [0, 1, 2])
async def test_each_question_gets_its_answer(
    hass: HomeAssistant, mqtt_entry: MockConfigEntry, responder: Client, qos: int
) -> None:
    """50 calls at once, each waiting: every one returns its own answer.

    HA's paho client is read as HA set it up: the bridge patches nothing.
    """
    entry = make_entry(prefix="it/ai", qos=qos)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await async_wait_subscribed(hass, "it/ai/responses/#", qos)
    paho = hass.data[mqtt.DATA_MQTT].client._mqttc
    reads = paho.loop_read

    async with asyncio.timeout(WAIT):
        asking = asyncio.gather(
            *(
                call_action(
                    hass,
                    "publish_event",
                    {
                        "event_type": "question/asked",
                        "data": {"n": n},
                        "response_timeout": WAIT,
                    },
                )
                for n in range(50)
            )
        )
        # The answers take a round trip through the broker; the waits open
        # on the calls' first step.
        while not entry.runtime_data.waits.open:
            await asyncio.sleep(0)
        assert paho.loop_read == reads
        results = await asking
    for n, result in enumerate(results):
        assert result["outcome"] == "answered"
        assert result["response"]["event_id"] == result["event_id"]
        assert result["response"]["answer"] == n * 2
    assert entry.runtime_data.waits.open == 0
    assert paho.loop_read == reads
