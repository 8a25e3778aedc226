"""The envelope every outgoing event is wrapped in."""

from datetime import UTC, datetime, timedelta
import json
import random
import uuid

import pytest

from custom_components.mqtt_event_bridge.const import MAX_PAYLOAD_BYTES
from custom_components.mqtt_event_bridge.envelope import (
    EnvelopeError,
    build_event,
    new_event_id,
)

NOW = datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=UTC)


def _build(data: dict[str, object], ttl: int = 30) -> dict[str, object]:
    event = build_event(
        topic="t", event_type="suggestion/generated", data=data, qos=1, ttl=ttl, now=NOW
    )
    payload = json.loads(event.payload)
    assert payload["event_id"] == event.event_id
    assert event.expires_at == NOW + timedelta(seconds=ttl)
    return payload


def test_envelope_keys_and_data_at_top_level() -> None:
    """Bridge keys plus the caller's keys, flat."""
    payload = _build({"suggestion": "lights off", "nested": {"a": [1, 2]}}, ttl=45)
    assert uuid.UUID(str(payload.pop("event_id"))).version == 4
    assert payload == {
        "event_type": "suggestion/generated",
        "timestamp": "2026-11-23T10:00:00.123456+00:00",
        "ttl": 45,
        "expires_at": "2026-11-23T10:00:45.123456+00:00",
        "suggestion": "lights off",
        "nested": {"a": [1, 2]},
    }


def test_event_ids_are_unique() -> None:
    """Consumers de-duplicate on event_id, so no two events share one."""
    ids = {_build({})["event_id"] for _ in range(100)}
    assert len(ids) == 100


def test_timestamps_read_like_isoformat() -> None:
    """A whole second has no fraction, as isoformat() writes it."""
    whole = NOW.replace(microsecond=0)
    event = build_event(topic="t", event_type="e", data={}, qos=0, ttl=60, now=whole)
    payload = json.loads(event.payload)
    assert payload["timestamp"] == whole.isoformat() == "2026-11-23T10:00:00+00:00"
    assert payload["expires_at"] == "2026-11-23T10:01:00+00:00"


def test_limit_counts_bytes_not_characters() -> None:
    """The limit is on the UTF-8 payload: a two-byte letter counts twice."""
    with pytest.raises(EnvelopeError) as err:
        _build({"x": "é" * (MAX_PAYLOAD_BYTES // 2)})
    assert err.value.reason == "payload_too_large"


def test_ha_types_are_encoded() -> None:
    """HA's JSON encoder turns datetimes and sets into JSON."""
    payload = _build({"when": NOW, "tags": {"a"}})
    assert payload["when"] == "2026-11-23T10:00:00.123456+00:00"
    assert payload["tags"] == ["a"]


@pytest.mark.parametrize(
    "key", ["event_id", "event_type", "timestamp", "ttl", "expires_at"]
)
def test_reserved_keys_refused(key: str) -> None:
    """A caller cannot overwrite what the bridge sets."""
    with pytest.raises(EnvelopeError) as err:
        _build({key: "x", "other": 1})
    assert err.value.reason == "reserved_key"
    assert err.value.placeholders == {"keys": key}


def test_unserialisable_refused() -> None:
    """Data JSON cannot express is refused."""
    with pytest.raises(EnvelopeError) as err:
        _build({"thing": object()})
    assert err.value.reason == "not_serializable"


def test_size_limit() -> None:
    """The encoded payload may reach the limit but not pass it."""
    base = build_event(
        topic="t",
        event_type="suggestion/generated",
        data={"x": ""},
        qos=1,
        ttl=30,
        now=NOW,
    )
    room = MAX_PAYLOAD_BYTES - len(base.payload)
    at_limit = build_event(
        topic="t",
        event_type="suggestion/generated",
        data={"x": "a" * room},
        qos=1,
        ttl=30,
        now=NOW,
    )
    assert len(at_limit.payload) == MAX_PAYLOAD_BYTES
    with pytest.raises(EnvelopeError) as err:
        build_event(
            topic="t",
            event_type="suggestion/generated",
            data={"x": "a" * (room + 1)},
            qos=1,
            ttl=30,
            now=NOW,
        )
    assert err.value.reason == "payload_too_large"
    assert err.value.placeholders == {
        "size": str(MAX_PAYLOAD_BYTES + 1),
        "limit": str(MAX_PAYLOAD_BYTES),
    }


def test_event_ids_are_uuid4() -> None:
    """Event ids are canonical version 4 UUIDs, all different."""
    ids = {new_event_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    for text in list(ids)[:1000]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


def test_event_ids_do_not_follow_from_pythons_random_state() -> None:
    """Ids come from the OS's secure generator, not from `random`.

    Ask and wait takes the id as the secret an answer must know. With
    `random` seeded the same way twice, the ids made after each seeding
    share nothing (any generator driven by `random`, batched or not, would
    repeat itself), and none is the UUID4 `random` makes from that seed.
    """
    state = random.getstate()
    try:
        runs = []
        for _ in range(2):
            random.seed(1234)
            runs.append({new_event_id() for _ in range(200)})
        random.seed(1234)
        from_random = {
            str(uuid.UUID(int=random.getrandbits(128), version=4)) for _ in range(200)
        }
    finally:
        random.setstate(state)
    assert runs[0].isdisjoint(runs[1])
    assert from_random.isdisjoint(runs[0] | runs[1])
