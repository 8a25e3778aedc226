"""Responses on <prefix>/responses/#: accepted, rejected, counted, shown."""

import asyncio
from datetime import timedelta
import json
import logging
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_mqtt_message,
    async_mock_service,
)
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.mqtt_event_bridge.const import MAX_RESPONSE_BYTES
from custom_components.mqtt_event_bridge.models import BridgeConfigEntry
from tests.conftest import call_action

LAST = "sensor.mqtt_event_bridge_ha_ai_last_response"
RECEIVED = "sensor.mqtt_event_bridge_ha_ai_responses_received"
FAILED = "sensor.mqtt_event_bridge_ha_ai_failed_responses"
REJECTED = "sensor.mqtt_event_bridge_ha_ai_rejected_responses"
ROUND_TRIP = "sensor.mqtt_event_bridge_ha_ai_response_round_trip"
EVENT = "event.mqtt_event_bridge_ha_ai_response"
TOPIC = "ha-ai/responses/automation/hallway_lights"


def _fire(hass: HomeAssistant, payload: Any, topic: str = TOPIC) -> None:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    async_fire_mqtt_message(hass, topic, raw)


def _state(hass: HomeAssistant, entity_id: str) -> str:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state


async def test_subscribes_at_entry_qos(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    """The bridge subscribes to every response under its prefix."""
    ours = [
        (call.args[0], call.args[2])
        for call in mqtt_mock.async_subscribe.call_args_list
        if "/responses/" in call.args[0]
    ]
    assert ours == [("ha-ai/responses/#", 1)]


@pytest.mark.usefixtures("init_integration")
async def test_accepted_response_updates_everything(hass: HomeAssistant) -> None:
    """A valid response moves the sensors and fires the event entity."""
    _fire(
        hass,
        {
            "automation_id": "hallway_lights",
            "status": "success",
            "message": "done",
            "duration_ms": 12.5,
        },
    )
    await hass.async_block_till_done()

    last = hass.states.get(LAST)
    assert last is not None
    assert last.state == "success"
    assert last.attributes["automation_id"] == "hallway_lights"
    assert last.attributes["topic"] == TOPIC
    assert last.attributes["message"] == "done"
    assert last.attributes["duration_ms"] == 12.5
    assert dt_util.parse_datetime(last.attributes["received_at"]) is not None
    assert (_state(hass, RECEIVED), _state(hass, FAILED), _state(hass, REJECTED)) == (
        "1",
        "0",
        "0",
    )
    event = hass.states.get(EVENT)
    assert event is not None
    assert dt_util.parse_datetime(event.state) is not None
    assert event.attributes["event_type"] == "success"
    assert event.attributes["automation_id"] == "hallway_lights"
    assert event.attributes["message"] == "done"
    assert event.attributes["topic"] == TOPIC


@pytest.mark.usefixtures("init_integration")
async def test_failed_status_counts_as_failure(hass: HomeAssistant) -> None:
    """A status outside the success set is a failed response and a failure event."""
    _fire(hass, {"automation_id": "a", "status": "OK"})
    _fire(hass, {"automation_id": "a", "status": "error", "event_type": "spoof"})
    await hass.async_block_till_done()
    assert _state(hass, LAST) == "error"
    assert (_state(hass, RECEIVED), _state(hass, FAILED)) == ("2", "1")
    event = hass.states.get(EVENT)
    assert event is not None
    # A response cannot overwrite the entity's own event_type.
    assert event.attributes["event_type"] == "failure"


@pytest.mark.usefixtures("init_integration")
@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not json", "not_json"),
        (b"\xff\xfe\x00", "not_json"),
        ([1, 2], "not_object"),
        ("success", "not_object"),
        ({"status": "success"}, "missing_field"),
        ({"automation_id": "a"}, "missing_field"),
        ({"automation_id": 5, "status": "success"}, "wrong_type"),
        ({"automation_id": "a", "status": ""}, "wrong_type"),
        ({"automation_id": "a", "status": "ok", "duration_ms": "5"}, "wrong_type"),
        ({"automation_id": "a", "status": "ok", "ttl": True}, "wrong_type"),
        (
            {"automation_id": "a", "status": "ok", "timestamp": "yesterday"},
            "wrong_type",
        ),
        ({"automation_id": "a", "status": "ok", "event_id": 1}, "wrong_type"),
        (
            {"automation_id": "a", "status": "ok", "pad": "x" * MAX_RESPONSE_BYTES},
            "oversized",
        ),
    ],
)
async def test_rejected_responses(
    hass: HomeAssistant, payload: Any, reason: str
) -> None:
    """Each kind of bad message is ignored and counted by reason."""
    _fire(hass, payload)
    await hass.async_block_till_done()
    assert (_state(hass, RECEIVED), _state(hass, REJECTED)) == ("0", "1")
    rejected = hass.states.get(REJECTED)
    assert rejected is not None
    assert rejected.attributes[reason] == 1
    assert _state(hass, LAST) == "unknown"
    assert _state(hass, EVENT) == "unknown"


@pytest.mark.usefixtures("init_integration")
async def test_stale_responses(hass: HomeAssistant) -> None:
    """Timestamp + ttl in the past is stale; without a ttl the entry's applies."""
    now = dt_util.utcnow()
    old = (now - timedelta(seconds=40)).isoformat()
    _fire(hass, {"automation_id": "a", "status": "ok", "timestamp": old, "ttl": 30})
    _fire(hass, {"automation_id": "a", "status": "ok", "timestamp": old})
    # Still valid: its own ttl is long enough; a naive timestamp is read as UTC.
    naive = (now - timedelta(seconds=40)).replace(tzinfo=None).isoformat()
    _fire(hass, {"automation_id": "a", "status": "ok", "timestamp": naive, "ttl": 60})
    await hass.async_block_till_done()
    rejected = hass.states.get(REJECTED)
    assert rejected is not None
    assert rejected.state == "2"
    assert rejected.attributes["stale"] == 2
    assert _state(hass, RECEIVED) == "1"


async def test_rejections_do_not_flood_the_log(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Many bad messages give one warning, not one each."""
    for _ in range(20):
        _fire(hass, b"garbage")
    await hass.async_block_till_done()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len([r for r in warnings if "Ignored a response" in r.message]) == 1
    assert _state(hass, REJECTED) == "20"


async def test_round_trip_of_our_own_event(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A response naming an event we published gives the round trip in ms."""
    response = await call_action(
        hass, "publish_event", {"event_type": "suggestion/generated"}
    )
    _fire(hass, {"automation_id": "a", "status": "ok", "event_id": "someone-elses"})
    await hass.async_block_till_done()
    assert _state(hass, ROUND_TRIP) == "unknown"

    _fire(
        hass, {"automation_id": "a", "status": "ok", "event_id": response["event_id"]}
    )
    await hass.async_block_till_done()
    round_trip = float(_state(hass, ROUND_TRIP))
    assert 0 <= round_trip < 10_000


async def test_other_prefix_and_unload(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Only our prefix counts, and nothing is counted once unloaded."""
    entry: BridgeConfigEntry = init_integration
    listener = entry.runtime_data.responses
    _fire(hass, {"automation_id": "a", "status": "ok"}, topic="other/responses/x")
    await hass.async_block_till_done()
    assert _state(hass, RECEIVED) == "0"

    assert await hass.config_entries.async_unload(entry.entry_id)
    _fire(hass, {"automation_id": "a", "status": "ok"})
    await hass.async_block_till_done()
    assert listener.counters.received == 0
    assert _state(hass, RECEIVED) == "unavailable"


@pytest.mark.usefixtures("init_integration")
async def test_readme_failure_automation(hass: HomeAssistant) -> None:
    """The README's example automation notifies on a failure, not on a success."""
    calls = async_mock_service(hass, "notify", "notify")
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "triggers": [
                    {
                        "trigger": "state",
                        "entity_id": EVENT,
                        "not_from": "unavailable",
                        "not_to": "unavailable",
                    }
                ],
                "conditions": [
                    {
                        "condition": "state",
                        "entity_id": EVENT,
                        "attribute": "event_type",
                        "state": "failure",
                    }
                ],
                "actions": [
                    {
                        "action": "notify.notify",
                        "data": {
                            "message": "{{ trigger.to_state.attributes.automation_id }}"
                            " failed: {{ trigger.to_state.attributes.message"
                            " | default('no message') }}"
                        },
                    }
                ],
            }
        },
    )
    _fire(hass, {"automation_id": "porch", "status": "success"})
    await hass.async_block_till_done()
    assert calls == []
    # A second event in the same millisecond would not change the state.
    await asyncio.sleep(0.002)
    _fire(hass, {"automation_id": "porch", "status": "error", "message": "bulb gone"})
    await hass.async_block_till_done()
    assert [call.data["message"] for call in calls] == ["porch failed: bulb gone"]
