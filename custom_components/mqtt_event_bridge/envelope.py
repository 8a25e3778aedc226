"""Where an outgoing event's JSON payload is assembled and checked."""

from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import lru_cache
from random import getrandbits
from typing import Any, NamedTuple

from homeassistant.helpers.json import json_bytes

from .const import MAX_PAYLOAD_BYTES

# A version 4 UUID is 122 random bits with the version (4) and the RFC 4122
# variant (10) fixed in place.
_UUID4_CLEAR = ~((0xF << 76) | (0x3 << 62))
_UUID4_SET = (0x4 << 76) | (0x2 << 62)


# Ids made ahead, taken from the end, UUID_BATCH at a time: after an event
# has gone out (make_ids_ahead), so that no event waits while a batch is
# made; an event makes one itself only when a burst has used them all.
UUID_BATCH = 64
_ready_ids: list[str] = []


def _uuid4_text(bits: int) -> str:
    text = f"{bits & _UUID4_CLEAR | _UUID4_SET:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def random_uuid4() -> str:
    """Return a random (version 4) UUID in its canonical text form.

    What str(uuid.uuid4()) returns, from Python's fast generator instead of
    the OS's: event ids must be unique, not secret. The system call cost a
    fifth of the time of building an event on a cold cache.

    Made in batches: one event at a time, with the loop idle in between,
    the generator and the formatting ran cold for every event (about 19 us
    of the forwarding handler's 200 us, timed with wrappers in the
    forwarding benchmark); in a batch they run warm, and an event only
    takes an id from the list.
    """
    if not _ready_ids:
        _make_ids()
    return _ready_ids.pop()


def make_ids_ahead() -> None:
    """Make a batch of ids when fewer than a batch are left.

    Called once an event is with the broker's client. A batch made by the
    event that found the list empty held that event up: a batch of 256
    delayed every 256th forwarded event by about 0.3 ms.
    """
    if len(_ready_ids) < UUID_BATCH:
        _make_ids()


def _make_ids() -> None:
    _ready_ids.extend([_uuid4_text(getrandbits(128)) for _ in range(UUID_BATCH)])


@lru_cache(maxsize=64)
def _ttl_delta(ttl: int) -> timedelta:
    """Give a TTL as a timedelta: built once per TTL in use (it takes 1.3 us)."""
    return timedelta(seconds=ttl)


# Keys the bridge sets itself; a caller's data may not use them.
RESERVED_KEYS = frozenset({"event_id", "event_type", "timestamp", "ttl", "expires_at"})


class EnvelopeError(ValueError):
    """A caller's data cannot become an event; `reason` is a translation key."""

    def __init__(self, reason: str, **placeholders: str) -> None:
        """Remember the translation key and its placeholders."""
        super().__init__(reason)
        self.reason = reason
        self.placeholders = placeholders


class OutgoingEvent(NamedTuple):
    """One event, ready to go to the broker.

    A named tuple: immutable like a frozen dataclass, and built several times
    faster, on the path of every event.
    """

    event_id: str
    topic: str
    # UTF-8 JSON, as it goes on the wire.
    payload: bytes
    qos: int
    expires_at: datetime


def build_event(
    *,
    topic: str,
    event_type: str,
    data: Mapping[str, Any],
    qos: int,
    ttl: int,
    now: datetime,
    event_id: str | None = None,
) -> OutgoingEvent:
    """Wrap a caller's data in the envelope and encode it with HA's JSON encoder.

    The encoder writes the two datetimes as `isoformat()` would, and gives the
    UTF-8 bytes that go on the wire: nothing on an event's way is formatted or
    encoded twice. `event_id` is given only to rebuild an event already
    announced to a caller.
    """
    if clashes := RESERVED_KEYS.intersection(data):
        raise EnvelopeError("reserved_key", keys=", ".join(sorted(clashes)))
    if event_id is None:
        event_id = random_uuid4()
    expires_at = now + _ttl_delta(ttl)
    envelope = {
        "event_id": event_id,
        "event_type": event_type,
        "timestamp": now,
        "ttl": ttl,
        "expires_at": expires_at,
        **data,
    }
    return _encoded(envelope, event_id, topic, qos, expires_at)


class Route(NamedTuple):
    """Where one kind of forwarded event goes, and for how long it is valid."""

    topic: str
    event_type: str
    qos: int
    ttl: int
    ttl_delta: timedelta

    @classmethod
    def of(cls, *, topic: str, event_type: str, qos: int, ttl: int) -> "Route":
        """Give a kind of event's route; built once, not on each event's path."""
        return cls(topic, event_type, qos, ttl, _ttl_delta(ttl))


def forwarded_event(
    route: Route, data: Any, origin: str, context_id: str, now: datetime
) -> OutgoingEvent:
    """Wrap an HA event's data in the envelope, under keys of its own.

    What build_event does, in one positional call and without the check for
    reserved keys (these keys cannot clash): this runs inside the bus's call
    of every forwarded event, before HA's MQTT client can write it, and on a
    cold cache each call on the way cost about a microsecond.
    """
    event_id = random_uuid4()
    expires_at = now + route.ttl_delta
    envelope = {
        "event_id": event_id,
        "event_type": route.event_type,
        "timestamp": now,
        "ttl": route.ttl,
        "expires_at": expires_at,
        "data": data,
        "origin": origin,
        "context_id": context_id,
    }
    return _encoded(envelope, event_id, route.topic, route.qos, expires_at)


def _encoded(
    envelope: dict[str, Any],
    event_id: str,
    topic: str,
    qos: int,
    expires_at: datetime,
) -> OutgoingEvent:
    """Encode an envelope; raise EnvelopeError when it cannot be, or is too large."""
    try:
        payload = json_bytes(envelope)
    except TypeError as err:
        raise EnvelopeError("not_serializable", error=str(err)) from err
    if (size := len(payload)) > MAX_PAYLOAD_BYTES:
        raise EnvelopeError(
            "payload_too_large", size=str(size), limit=str(MAX_PAYLOAD_BYTES)
        )
    # Positional: built from keywords, a named tuple takes 1.7 times as long.
    return OutgoingEvent(event_id, topic, payload, qos, expires_at)
