"""Where an outgoing event's JSON payload is assembled and checked."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
import uuid

from homeassistant.helpers.json import json_dumps

from .const import MAX_PAYLOAD_BYTES

# Keys the bridge sets itself; a caller's data may not use them.
RESERVED_KEYS = frozenset({"event_id", "event_type", "timestamp", "ttl", "expires_at"})


class EnvelopeError(ValueError):
    """A caller's data cannot become an event; `reason` is a translation key."""

    def __init__(self, reason: str, **placeholders: str) -> None:
        """Remember the translation key and its placeholders."""
        super().__init__(reason)
        self.reason = reason
        self.placeholders = placeholders


@dataclass(frozen=True, kw_only=True, slots=True)
class OutgoingEvent:
    """One event, ready to go to the broker."""

    event_id: str
    topic: str
    payload: str
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

    `event_id` is given only to rebuild an event already announced to a caller.
    """
    if clashes := RESERVED_KEYS.intersection(data):
        raise EnvelopeError("reserved_key", keys=", ".join(sorted(clashes)))
    if event_id is None:
        event_id = str(uuid.uuid4())
    expires_at = now + timedelta(seconds=ttl)
    envelope = {
        "event_id": event_id,
        "event_type": event_type,
        "timestamp": now.isoformat(),
        "ttl": ttl,
        "expires_at": expires_at.isoformat(),
        **data,
    }
    try:
        payload = json_dumps(envelope)
    except TypeError as err:
        raise EnvelopeError("not_serializable", error=str(err)) from err
    size = len(payload.encode())
    if size > MAX_PAYLOAD_BYTES:
        raise EnvelopeError(
            "payload_too_large", size=str(size), limit=str(MAX_PAYLOAD_BYTES)
        )
    return OutgoingEvent(
        event_id=event_id, topic=topic, payload=payload, qos=qos, expires_at=expires_at
    )
