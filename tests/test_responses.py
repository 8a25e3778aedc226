"""Responses on <prefix>/responses/#: accepted, rejected, counted, shown."""

import asyncio
from datetime import timedelta, timezone
import json
import logging
import random
from typing import Any

from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import restore_state
from homeassistant.helpers.json import json_bytes
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_mqtt_message,
    async_fire_time_changed,
    async_mock_service,
)
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.mqtt_event_bridge.const import (
    MAX_RESPONSE_BYTES,
    RESPONSE_EVENT_BURST,
    RESPONSE_EVENT_RATE,
)
from custom_components.mqtt_event_bridge.models import BridgeConfigEntry
from custom_components.mqtt_event_bridge.ratelimit import TokenBucket
from custom_components.mqtt_event_bridge.responses import (
    ResponseRejected,
    parse_response,
)
from tests.conftest import call_action, readme_example

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


async def _settle(hass: HomeAssistant) -> None:
    """Let the sensors catch up: after the first message they follow once a second."""
    await hass.async_block_till_done()
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=2))
    await hass.async_block_till_done()


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
    await _settle(hass)

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
    await _settle(hass)
    assert _state(hass, LAST) == "error"
    assert (_state(hass, RECEIVED), _state(hass, FAILED)) == ("2", "1")
    event = hass.states.get(EVENT)
    assert event is not None
    # A response cannot overwrite the entity's own event_type.
    assert event.attributes["event_type"] == "failure"


@pytest.mark.usefixtures("init_integration")
async def test_a_response_cannot_set_attributes_with_a_meaning(
    hass: HomeAssistant,
) -> None:
    """Name, picture, icon, location and the like stay out of the event's attributes."""
    meaningful = {
        "friendly_name": "Front door unlocked",
        "entity_picture": "https://tracker.example/pixel.png",
        "icon": "mdi:lock-open",
        "latitude": 48.85,
        "longitude": 2.35,
        "gps_accuracy": 5,
        "entity_id": ["lock.front_door"],
        "unit_of_measurement": "%",
        "device_class": "doorbell",
        "state_class": "measurement",
    }
    _fire(hass, {"automation_id": "a", "status": "success", "note": "n", **meaningful})
    await _settle(hass)
    event = hass.states.get(EVENT)
    assert event is not None
    assert event.attributes["note"] == "n"
    # Absent, or the entity's own (its name).
    for key, value in meaningful.items():
        assert event.attributes.get(key) != value, key
    assert event.attributes["friendly_name"] == "MQTT Event Bridge ha-ai Response"


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
    await _settle(hass)
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
    await _settle(hass)
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
    await _settle(hass)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len([r for r in warnings if "Ignored a response" in r.message]) == 1
    assert _state(hass, REJECTED) == "20"


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_round_trip_of_our_own_event(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A response naming an event we published gives the round trip in ms."""
    response = await call_action(
        hass, "publish_event", {"event_type": "suggestion/generated"}
    )
    _fire(hass, {"automation_id": "a", "status": "ok", "event_id": "someone-elses"})
    await _settle(hass)
    assert _state(hass, ROUND_TRIP) == "unknown"

    _fire(
        hass, {"automation_id": "a", "status": "ok", "event_id": response["event_id"]}
    )
    await _settle(hass)
    round_trip = float(_state(hass, ROUND_TRIP))
    assert 0 <= round_trip < 10_000


async def test_other_prefix_and_unload(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Only our prefix counts, and nothing is counted once unloaded."""
    entry: BridgeConfigEntry = init_integration
    listener = entry.runtime_data.responses
    _fire(hass, {"automation_id": "a", "status": "ok"}, topic="other/responses/x")
    await _settle(hass)
    assert _state(hass, RECEIVED) == "0"

    assert await hass.config_entries.async_unload(entry.entry_id)
    _fire(hass, {"automation_id": "a", "status": "ok"})
    await _settle(hass)
    assert listener.counters.received == 0
    assert _state(hass, RECEIVED) == "unavailable"


@pytest.mark.usefixtures("init_integration")
async def test_readme_failure_automation(hass: HomeAssistant) -> None:
    """The documented example automation notifies on a failure, not on a success."""
    calls = async_mock_service(hass, "notify", "notify")
    automation = readme_example("failed-response")
    assert await async_setup_component(hass, "automation", {"automation": automation})
    _fire(hass, {"automation_id": "porch", "status": "success"})
    await _settle(hass)
    assert calls == []
    # A second event in the same millisecond would not change the state.
    await asyncio.sleep(0.002)
    _fire(hass, {"automation_id": "porch", "status": "error", "message": "bulb gone"})
    await _settle(hass)
    assert [call.data["message"] for call in calls] == ["porch failed: bulb gone"]


# What an attacker on the broker sends (issue: a hostile broker client).
GOOD = {"automation_id": "a", "status": "ok"}
DEEP: Any = "bottom"
for _ in range(300):
    DEEP = [DEEP]


def _nested(levels: int) -> dict[str, Any]:
    """A response whose `data` key makes it `levels` deep in all."""
    value: Any = 1
    for _ in range(levels - 1):
        value = {"level": value}
    return {**GOOD, "data": value}


@pytest.mark.usefixtures("init_integration")
@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        # Values HA's JSON encoder cannot write, in any key.
        (
            b'{"automation_id":"a","status":"ok","n":123456789012345678901234567890}',
            "not_json",
        ),
        (b'{"automation_id":"a","status":"ok","n":-9223372036854775809}', "not_json"),
        (b'{"automation_id":"a","status":"ok","d":1e400}', "not_json"),
        (b'{"automation_id":"a","status":"ok","duration_ms":NaN}', "not_json"),
        (b'{"automation_id":"a","status":"ok","duration_ms":-Infinity}', "not_json"),
        ({**GOOD, "deep": DEEP}, "invalid_value"),
        (_nested(17), "invalid_value"),
        (b'{"automation_id":"a","status":"ok","x":"\\ud800"}', "invalid_value"),
        (b'{"automation_id":"a","status":"ok","\\udfff":1}', "invalid_value"),
        (b'{"automation_id":"a","status":"\\ud800"}', "invalid_value"),
        (b'{"automation_id":"a","status":"ok","l":[{"k":"\\udc00"}]}', "invalid_value"),
        # Text that is not UTF-8 JSON.
        (json.dumps(GOOD).encode("utf-16"), "not_json"),
        (json.dumps(GOOD).encode("utf-32"), "not_json"),
        (json.dumps(GOOD).encode("utf-16-be"), "not_json"),
        (b"\xef\xbb\xbf" + json.dumps(GOOD).encode(), "not_json"),
        # Values of the right type that cannot be used.
        ({**GOOD, "status": "x" * 256}, "invalid_value"),
        ({**GOOD, "duration_ms": -1}, "invalid_value"),
        ({**GOOD, "ttl": 10**14}, "invalid_value"),
        ({**GOOD, "ttl": 0}, "invalid_value"),
        ({**GOOD, "timestamp": "9999-12-31T23:59:59+00:00"}, "invalid_value"),
        ({**GOOD, "timestamp": "2026-02-30T10:00:00"}, "invalid_value"),
        ({**GOOD, "timestamp": "2026-11-30T10:00:00+99:00"}, "invalid_value"),
    ],
)
async def test_hostile_responses_are_rejected(
    hass: HomeAssistant, payload: Any, reason: str
) -> None:
    """Nothing HA cannot write, or cannot use, gets in; each is counted by reason."""
    _fire(hass, payload)
    await _settle(hass)
    rejected = hass.states.get(REJECTED)
    assert rejected is not None
    assert (rejected.state, rejected.attributes.get(reason)) == ("1", 1)
    assert _state(hass, RECEIVED) == "0"
    assert _state(hass, EVENT) == "unknown"


@pytest.mark.usefixtures("init_integration")
async def test_a_long_topic_counts_against_the_bound(hass: HomeAssistant) -> None:
    """A 60 KB topic cannot carry 60 KB into the attributes."""
    _fire(hass, GOOD, topic=f"ha-ai/responses/{'t' * 60_000}")
    await _settle(hass)
    rejected = hass.states.get(REJECTED)
    assert rejected is not None
    assert rejected.attributes["oversized"] == 1


@pytest.mark.usefixtures("init_integration")
async def test_what_is_accepted_can_be_written_by_ha(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """After hostile messages and the edge cases that are fine, HA saves every state.

    The restore-state save and /api/states write all states with HA's JSON
    encoder: one value it cannot write breaks them for every entity.
    """
    hostile = [
        b'{"automation_id":"a","status":"ok","n":123456789012345678901234567890}',
        json.dumps({**GOOD, "deep": DEEP}).encode(),
        b'{"automation_id":"a","status":"ok","x":"\\ud800"}',
        b'{"automation_id":"a","status":"ok","duration_ms":1e400}',
    ]
    for payload in hostile:
        _fire(hass, payload)
    edge = {
        **_nested(16),
        "status": "s" * 255,
        "duration_ms": 1.5e300,
        "big": 2**64 - 1,
        "small": -(2**63),
        "text": "caf\u00e9 \U0001f600",
        "ttl": 86_400,
        # The largest offset there is; the time itself is now (it must not be stale).
        "timestamp": dt_util.now(timezone(timedelta(hours=14))).isoformat(),
    }
    _fire(hass, edge)
    await _settle(hass)
    assert (_state(hass, RECEIVED), _state(hass, REJECTED)) == ("1", "4")

    states = hass.states.async_all()
    json_bytes([state.as_dict() for state in states])
    await restore_state.async_get(hass).async_dump_states()
    saved = {
        item["state"]["entity_id"]: item
        for item in hass_storage[restore_state.STORAGE_KEY]["data"]
    }
    assert saved[EVENT]["state"]["attributes"]["big"] == 2**64 - 1
    assert saved[LAST]["state"]["state"] == "s" * 255


# JSON texts a hostile publisher might send, as they go on the wire.
_HOSTILE_VALUES = (
    "0",
    "-0",
    "1.5",
    "1e308",
    "1e400",
    "-1e400",
    "4.9e-324",
    "9223372036854775807",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775809",
    "123456789012345678901234567890",
    "true",
    "null",
    "NaN",
    "Infinity",
    '"ok"',
    '""',
    '"\\u0000"',
    '"\\ud800"',
    '"\\udfff\\ud800"',
    '"\\ud83d\\ude00"',
    '"2026-12-01T10:00:00Z"',
    '"2026-02-30T10:00:00"',
    '"9999-12-31T23:59:59+00:00"',
)
_HOSTILE_KEYS = (
    '"automation_id"',
    '"status"',
    '"event_id"',
    '"message"',
    '"duration_ms"',
    '"timestamp"',
    '"ttl"',
    '"x"',
    '"\\ud800"',
    '""',
)


def _random_json(rng: random.Random, depth: int = 0) -> str:
    roll = rng.random()
    if depth > 20 or roll < 0.45:
        return rng.choice(_HOSTILE_VALUES)
    if roll < 0.7:
        items = ",".join(_random_json(rng, depth + 1) for _ in range(rng.randint(0, 3)))
        return f"[{items}]"
    pairs = ",".join(
        f"{rng.choice(_HOSTILE_KEYS)}:{_random_json(rng, depth + 1)}"
        for _ in range(rng.randint(0, 4))
    )
    return f"{{{pairs}}}"


def test_random_payloads_are_refused_or_writable() -> None:
    """Seeded random responses: each is rejected, or HA's encoder writes all of it."""
    rng = random.Random(20261201)  # noqa: S311 - a repeatable test, not a secret
    now = dt_util.utcnow()
    accepted = 0
    for _ in range(3_000):
        fields = ['"automation_id":"a"', '"status":"ok"']
        fields += [
            f"{rng.choice(_HOSTILE_KEYS)}:{_random_json(rng, 1)}"
            for _ in range(rng.randint(0, 5))
        ]
        rng.shuffle(fields)
        raw = ("{" + ",".join(fields) + "}").encode()
        try:
            response = parse_response(TOPIC, raw, default_ttl=30, now=now)
        except ResponseRejected:
            continue
        accepted += 1
        json_bytes(response.payload)
    # Both sides are exercised.
    assert 300 < accepted < 2_700


async def test_retained_responses_are_skipped(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A retained message replayed on subscribing is no new response, and not counted.

    (HA's client hands a retained message to a subscription once; the broker
    replays it on every new subscription, that is on every reload: see the
    real-broker test.)
    """
    for index in range(3):
        async_fire_mqtt_message(
            hass,
            f"{TOPIC}{index}",
            json.dumps({"automation_id": "a", "status": "failed"}),
            retain=True,
        )
    await _settle(hass)
    assert (_state(hass, RECEIVED), _state(hass, FAILED), _state(hass, REJECTED)) == (
        "0",
        "0",
        "0",
    )
    assert _state(hass, EVENT) == "unknown"
    entry: BridgeConfigEntry = init_integration
    assert entry.runtime_data.responses.counters.retained_skipped == 3
    assert len([r for r in caplog.records if "retained response" in r.message]) == 1


async def test_state_writes_are_bounded(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """A flood of valid responses is counted exactly, with few state writes."""
    entry: BridgeConfigEntry = init_integration
    listener = entry.runtime_data.responses
    clock = [0.0]
    listener._events = TokenBucket(
        capacity=RESPONSE_EVENT_BURST, rate=RESPONSE_EVENT_RATE, clock=lambda: clock[0]
    )
    writes: dict[str, int] = {}

    @callback
    def count(event: Event[EventStateChangedData]) -> None:
        entity_id = event.data["entity_id"]
        writes[entity_id] = writes.get(entity_id, 0) + 1

    hass.bus.async_listen(EVENT_STATE_CHANGED, count)
    for index in range(50):
        _fire(hass, {"automation_id": f"a{index}", "status": "failed"})
    await _settle(hass)
    assert (_state(hass, RECEIVED), _state(hass, FAILED)) == ("50", "50")
    assert _state(hass, LAST) == "failed"
    assert writes[EVENT] == RESPONSE_EVENT_BURST
    assert listener.counters.not_fired == 50 - RESPONSE_EVENT_BURST
    # The sensors: once at once, once after the cooldown.
    assert writes[RECEIVED] <= 2
    assert writes[LAST] <= 2

    clock[0] += 5  # five seconds refill five events
    for index in range(10):
        _fire(hass, {"automation_id": f"b{index}", "status": "ok"})
    await _settle(hass)
    assert writes[EVENT] == RESPONSE_EVENT_BURST + 5
    assert listener.counters.not_fired == 50 - RESPONSE_EVENT_BURST + 5
    assert _state(hass, RECEIVED) == "60"
