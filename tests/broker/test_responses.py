"""Responses published by an independent client reach the sensors and the event."""

import asyncio
import json

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from tests.broker.conftest import WAIT, Observer, async_wait_subscribed
from tests.conftest import call_action, make_entry

SENSOR = "sensor.mqtt_event_bridge_it_ai_"
EVENT = "event.mqtt_event_bridge_it_ai_response"


async def _async_state_becomes(hass: HomeAssistant, entity_id: str, value: str) -> None:
    async with asyncio.timeout(WAIT):
        while (state := hass.states.get(entity_id)) is None or state.state != value:
            await asyncio.sleep(0.02)


async def test_responses_from_the_broker(
    hass: HomeAssistant, mqtt_entry: MockConfigEntry, observer: Observer
) -> None:
    """A response and a failure arrive; a round trip to our own event is measured."""
    entry = make_entry(prefix="it/ai", qos=1)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await async_wait_subscribed(hass, "it/ai/responses/#", 1)

    observer.client.publish(
        "it/ai/responses/automation/porch",
        json.dumps({"automation_id": "porch", "status": "success"}),
        qos=1,
    ).wait_for_publish(WAIT)
    await _async_state_becomes(hass, f"{SENSOR}responses_received", "1")
    last = hass.states.get(f"{SENSOR}last_response")
    assert last is not None
    assert last.state == "success"
    assert last.attributes["automation_id"] == "porch"
    event = hass.states.get(EVENT)
    assert event is not None
    assert event.attributes["event_type"] == "success"

    response = await call_action(
        hass, "publish_event", {"event_type": "person/detected"}
    )
    # The observer sees our event, then answers it as an automation would.
    seen = json.loads((await observer.async_next()).payload)
    while seen.get("event_id") != response["event_id"]:
        seen = json.loads((await observer.async_next()).payload)
    observer.client.publish(
        "it/ai/responses/automation/door",
        json.dumps(
            {"automation_id": "door", "status": "failed", "event_id": seen["event_id"]}
        ),
        qos=1,
    ).wait_for_publish(WAIT)
    await _async_state_becomes(hass, f"{SENSOR}failed_responses", "1")
    round_trip = hass.states.get(f"{SENSOR}response_round_trip")
    assert round_trip is not None
    assert 0 < float(round_trip.state) < WAIT * 1000
    event = hass.states.get(EVENT)
    assert event is not None
    assert event.attributes["event_type"] == "failure"
    assert event.attributes["event_id"] == response["event_id"]
