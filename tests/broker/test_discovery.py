"""MQTT discovery end to end: HA's own discovery, a real broker, an automation."""

import asyncio
import json
from typing import Any

from homeassistant.components.device_automation import (
    DeviceAutomationType,
    async_get_device_automations,
)
from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component
from paho.mqtt.client import Client, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_mock_service,
)

from custom_components.mqtt_event_bridge.const import CONF_EVENT_TYPES, DISCOVERY_QOS
from tests.broker.conftest import HOST, WAIT, Broker, Observer, async_wait_subscribed
from tests.conftest import call_action, make_entry

SUGGESTION = "event.mqtt_event_bridge_it_ai_events_suggestion_generated"
STATUS = "event.mqtt_event_bridge_it_ai_events_status_analysis_complete"


async def _until(predicate: Any) -> None:
    async with asyncio.timeout(WAIT):
        while not predicate():
            await asyncio.sleep(0.05)


async def _retained_messages(port: int) -> dict[str, bytes]:
    """Everything the broker keeps retained, seen by a fresh client."""
    loop = asyncio.get_running_loop()
    seen: dict[str, bytes] = {}
    subscribed = asyncio.Event()

    def on_message(_client: Client, _userdata: object, msg: MQTTMessage) -> None:
        if msg.retain:
            seen[msg.topic] = msg.payload

    client = Client(CallbackAPIVersion.VERSION2, client_id="retained-check")
    client.on_message = on_message

    def on_subscribe(*_: object) -> None:
        loop.call_soon_threadsafe(subscribed.set)

    def on_connect(connected: Client, *_: object) -> None:
        connected.subscribe("#")

    client.on_subscribe = on_subscribe
    client.on_connect = on_connect
    client.connect(HOST, port)
    client.loop_start()
    try:
        async with asyncio.timeout(WAIT):
            await subscribed.wait()
        # Retained messages follow the subscription acknowledgement at once.
        await asyncio.sleep(0.5)
    finally:
        client.disconnect()
        client.loop_stop()
    return seen


async def test_discovered_entities_triggers_and_cleanup(
    hass: HomeAssistant,
    mqtt_entry: MockConfigEntry,
    mosquitto: Broker,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """From retained configs to a fired automation, and nothing left behind."""
    entry = make_entry(prefix="it/ai", qos=1)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await _until(lambda: entity_registry.async_get(SUGGESTION) is not None)
    await _until(lambda: entity_registry.async_get(STATUS) is not None)

    # The device of the discovered entities: the bridge's own where HA lets
    # config entries share a device, else one of the MQTT integration.
    suggestion = entity_registry.async_get(SUGGESTION)
    assert suggestion is not None
    assert suggestion.device_id is not None
    device = device_registry.async_get(suggestion.device_id)
    assert device is not None
    assert device.name == "MQTT Event Bridge it/ai events"
    triggers = await async_get_device_automations(
        hass, DeviceAutomationType.TRIGGER, [device.id]
    )
    [trigger] = [
        t
        for t in triggers[device.id]
        if t["domain"] == "mqtt" and t["subtype"] == "suggestion/generated"
    ]
    calls = async_mock_service(hass, "test", "fired")
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "triggers": [trigger],
                "actions": [
                    {
                        "action": "test.fired",
                        "data": {"event_id": "{{ trigger.payload_json.event_id }}"},
                    }
                ],
            }
        },
    )
    await async_wait_subscribed(
        hass, "it/ai/events/suggestion/generated", DISCOVERY_QOS
    )
    await _until(
        lambda: (state := hass.states.get(SUGGESTION)) is not None
        and state.state == "unknown"
    )

    response = await call_action(
        hass,
        "publish_event",
        {"event_type": "suggestion/generated", "data": {"suggestion": "lights off"}},
    )
    await _until(lambda: len(calls) == 1)
    assert calls[0].data["event_id"] == response["event_id"]
    await _until(
        lambda: (state := hass.states.get(SUGGESTION)) is not None
        and state.state != "unknown"
    )
    state = hass.states.get(SUGGESTION)
    assert state is not None
    assert state.attributes["event_type"] == "suggestion/generated"
    assert state.attributes["suggestion"] == "lights off"

    # A type dropped in the options disappears from HA.
    hass.config_entries.async_update_entry(
        entry, options={CONF_EVENT_TYPES: ["suggestion/generated"]}
    )
    await _until(lambda: entity_registry.async_get(STATUS) is None)
    assert entity_registry.async_get(SUGGESTION) is not None

    # Removing the bridge removes its entities and leaves the broker clean.
    await hass.config_entries.async_remove(entry.entry_id)
    await _until(lambda: entity_registry.async_get(SUGGESTION) is None)
    retained = await _retained_messages(mosquitto.port)
    ours = [
        topic
        for topic in retained
        if topic.startswith("it/ai/") or "mqtt_event_bridge" in topic
    ]
    assert ours == []


async def test_the_first_event_of_a_new_type_fires_its_entity(
    hass: HomeAssistant,
    mqtt_entry: MockConfigEntry,
    observer: Observer,
    entity_registry: er.EntityRegistry,
) -> None:
    """The first event of a type never seen waits until HA listens, then fires.

    Events of known types are not held back meanwhile, and the new type's
    events keep their order.
    """
    entry = make_entry(prefix="it/ai", qos=1)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await _until(lambda: entity_registry.async_get(SUGGESTION) is not None)
    await async_wait_subscribed(
        hass, "it/ai/events/suggestion/generated", DISCOVERY_QOS
    )

    new_entity = "event.mqtt_event_bridge_it_ai_events_brand_new"
    fired: list[str] = []

    @callback
    def record(event: Event[EventStateChangedData]) -> None:
        state = event.data["new_state"]
        if event.data["entity_id"] == new_entity and state and "n" in state.attributes:
            fired.append(state.attributes["event_id"])

    hass.bus.async_listen(EVENT_STATE_CHANGED, record)
    first = await call_action(
        hass, "publish_event", {"event_type": "brand/new", "data": {"n": 1}}
    )
    second = await call_action(
        hass, "publish_event", {"event_type": "brand/new", "data": {"n": 2}}
    )
    known = await call_action(
        hass, "publish_event", {"event_type": "suggestion/generated"}
    )
    arrived = [json.loads((await observer.async_next()).payload) for _ in range(3)]
    assert [event["event_id"] for event in arrived] == [
        known["event_id"],
        first["event_id"],
        second["event_id"],
    ]
    await _until(lambda: len(fired) == 2)
    assert fired == [first["event_id"], second["event_id"]]
