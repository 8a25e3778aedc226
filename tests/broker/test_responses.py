"""Responses published by an independent client reach the sensors and the event."""

import asyncio
import json

from homeassistant.core import HomeAssistant
from homeassistant.helpers import restore_state
from homeassistant.helpers.json import json_bytes
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from tests.broker.conftest import WAIT, Observer, async_wait_subscribed
from tests.conftest import call_action, make_entry

SENSOR = "sensor.mqtt_event_bridge_it_ai_"
EVENT = "event.mqtt_event_bridge_it_ai_response"


async def _async_state_becomes(hass: HomeAssistant, entity_id: str, value: str) -> None:
    async with asyncio.timeout(WAIT):
        while (state := hass.states.get(entity_id)) is None or state.state != value:
            await asyncio.sleep(0.02)


async def _async_bridge(hass: HomeAssistant) -> MockConfigEntry:
    """A bridge on prefix it/ai, once the broker has its response subscription."""
    entry = make_entry(prefix="it/ai", qos=1)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await async_wait_subscribed(hass, "it/ai/responses/#", 1)
    return entry


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_responses_from_the_broker(
    hass: HomeAssistant, mqtt_entry: MockConfigEntry, observer: Observer
) -> None:
    """A response and a failure arrive; a round trip to our own event is measured."""
    await _async_bridge(hass)

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


async def _async_publish(observer: Observer, topic: str, payload: bytes | str) -> None:
    observer.client.publish(topic, payload, qos=1).wait_for_publish(WAIT)


async def test_hostile_responses_from_the_broker(
    hass: HomeAssistant, mqtt_entry: MockConfigEntry, observer: Observer
) -> None:
    """Messages HA could not write are rejected; HA still saves every state."""
    await _async_bridge(hass)
    topic = "it/ai/responses/automation/x"
    hostile = [
        b'{"automation_id":"a","status":"ok","n":123456789012345678901234567890}',
        b'{"automation_id":"a","status":"ok","x":"\\ud800"}',
        b'{"automation_id":"a","status":"' + b"s" * 300 + b'"}',
        b'{"automation_id":"a","status":"ok","timestamp":"9999-12-31T23:59:59+00:00"}',
        b'{"automation_id":"a","status":"ok","ttl":100000000000000}',
        b'{"automation_id":"a","status":"ok","l":' + b"[" * 300 + b"]" * 300 + b"}",
    ]
    for payload in hostile:
        await _async_publish(observer, topic, payload)
    await _async_publish(
        observer, topic, json.dumps({"automation_id": "good", "status": "ok"})
    )
    await _async_state_becomes(hass, f"{SENSOR}responses_received", "1")
    await _async_state_becomes(hass, f"{SENSOR}rejected_responses", str(len(hostile)))
    event = hass.states.get(EVENT)
    assert event is not None
    assert event.attributes["automation_id"] == "good"
    json_bytes([state.as_dict() for state in hass.states.async_all()])
    await restore_state.async_get(hass).async_dump_states()


async def test_a_retained_response_counts_once(
    hass: HomeAssistant, mqtt_entry: MockConfigEntry, observer: Observer
) -> None:
    """One retained failure stays one failure through reloads and restarts."""
    entry = await _async_bridge(hass)
    observer.client.publish(
        "it/ai/responses/automation/porch",
        json.dumps({"automation_id": "porch", "status": "failed"}),
        qos=1,
        retain=True,
    ).wait_for_publish(WAIT)
    await _async_state_becomes(hass, f"{SENSOR}failed_responses", "1")

    for _ in range(3):
        assert await hass.config_entries.async_reload(entry.entry_id)
        await async_wait_subscribed(hass, "it/ai/responses/#", 1)
        listener = entry.runtime_data.responses
        # The broker replays the retained message to each new subscription.
        async with asyncio.timeout(WAIT):
            while listener.counters.retained_skipped < 1:
                await asyncio.sleep(0.02)
    await hass.async_block_till_done()
    for sensor, value in (("failed_responses", "1"), ("responses_received", "1")):
        state = hass.states.get(f"{SENSOR}{sensor}")
        assert state is not None
        assert state.state == value
    # Clear the retained message, as the warning tells users to.
    observer.client.publish(
        "it/ai/responses/automation/porch", b"", qos=1, retain=True
    ).wait_for_publish(WAIT)
