"""Where an outgoing event's JSON payload is assembled and checked."""

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple
import uuid

from homeassistant.helpers.json import json_bytes

from .const import MAX_PAYLOAD_BYTES


def new_event_id() -> str:
    """Give a fresh event id: a random UUID4 from the OS's secure generator.

    Ask and wait accepts an answer only for an event id it handed out, so an
    id must not follow from ids seen before: never Python's `random`.
    """
    return str(uuid.uuid4())


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
    """One event, ready to go to the broker."""

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
        event_id = new_event_id()
    expires_at = now + timedelta(seconds=ttl)
    envelope = {
        "event_id": event_id,
        "event_type": event_type,
        "timestamp": now,
        "ttl": ttl,
        "expires_at": expires_at,
        **data,
    }
    try:
        payload = json_bytes(envelope)
    except TypeError as err:
        raise EnvelopeError("not_serializable", error=str(err)) from err
    if (size := len(payload)) > MAX_PAYLOAD_BYTES:
        raise EnvelopeError(
            "payload_too_large", size=str(size), limit=str(MAX_PAYLOAD_BYTES)
        )
    return OutgoingEvent(
        event_id=event_id, topic=topic, payload=payload, qos=qos, expires_at=expires_at
    )
