"""Where feedback on `<prefix>/responses/#` is parsed, checked and counted.

A response comes from anyone who can publish to the broker, so it is treated
as untrusted data: size-limited, never rendered as a template, and no error in
it may escape into HA's MQTT message loop.
"""

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import json
import logging
import time
from typing import Any

from homeassistant.components import mqtt
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.util import dt as dt_util

from .const import (
    MAX_RESPONSE_BYTES,
    RECENT_RESPONSES,
    REJECT_LOG_INTERVAL,
    SUCCESS_STATUSES,
)
from .publisher import EventPublisher
from .topics import responses_filter

_LOGGER = logging.getLogger(__name__)

# Optional keys and the JSON types they must have.
_OPTIONAL_TYPES: dict[str, tuple[type, ...]] = {
    "event_id": (str,),
    "message": (str,),
    "duration_ms": (int, float),
    "timestamp": (str,),
    "ttl": (int,),
}


class ResponseRejected(ValueError):  # noqa: N818 - it is an outcome, not a fault
    """A message on the response topics that is ignored; `reason` says why."""

    def __init__(self, reason: str) -> None:
        """Remember why."""
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, kw_only=True, slots=True)
class Response:
    """One accepted response."""

    topic: str
    automation_id: str
    status: str
    succeeded: bool
    received_at: datetime
    payload: dict[str, Any]


def _check_types(payload: dict[str, Any]) -> None:
    for key in ("automation_id", "status"):
        if key not in payload:
            raise ResponseRejected("missing_field")
        if not isinstance(payload[key], str) or not payload[key]:
            raise ResponseRejected("wrong_type")
    for key, types in _OPTIONAL_TYPES.items():
        value = payload.get(key)
        # JSON true/false are ints to Python: refuse them where a number is due.
        if value is not None and (
            not isinstance(value, types) or isinstance(value, bool)
        ):
            raise ResponseRejected("wrong_type")


def _is_stale(payload: dict[str, Any], default_ttl: int, now: datetime) -> bool:
    """Tell whether `timestamp + ttl` has passed; without a timestamp it cannot be."""
    if (raw := payload.get("timestamp")) is None:
        return False
    if (sent := dt_util.parse_datetime(raw)) is None:
        raise ResponseRejected("wrong_type")
    if sent.tzinfo is None:
        sent = sent.replace(tzinfo=dt_util.UTC)
    return sent + timedelta(seconds=payload.get("ttl", default_ttl)) < now


def parse_response(
    topic: str, raw: bytes, *, default_ttl: int, now: datetime
) -> Response:
    """Turn a message into a Response, or raise ResponseRejected."""
    if len(raw) > MAX_RESPONSE_BYTES:
        raise ResponseRejected("oversized")
    try:
        payload = json.loads(raw)
    except ValueError as err:  # also covers bytes that are not UTF-8
        raise ResponseRejected("not_json") from err
    if not isinstance(payload, dict):
        raise ResponseRejected("not_object")
    _check_types(payload)
    if _is_stale(payload, default_ttl, now):
        raise ResponseRejected("stale")
    status: str = payload["status"]
    return Response(
        topic=topic,
        automation_id=payload["automation_id"],
        status=status,
        succeeded=status.lower() in SUCCESS_STATUSES,
        received_at=now,
        payload=payload,
    )


@dataclass(kw_only=True, slots=True)
class ResponseCounters:
    """What the response topics brought since the counters started."""

    received: int = 0
    failed: int = 0
    rejected: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)


class ResponseListener:
    """Subscribes to one entry's response topics and keeps what they tell."""

    def __init__(
        self,
        hass: HomeAssistant,
        *,
        prefix: str,
        qos: int,
        default_ttl: int,
        publisher: EventPublisher,
    ) -> None:
        """Prepare; nothing is subscribed before `async_start`."""
        self._hass = hass
        self._topic = responses_filter(prefix)
        self._qos = qos
        self._default_ttl = default_ttl
        self._publisher = publisher
        self._listeners: list[Callable[[Response | None], None]] = []
        self._last_reject_log = -REJECT_LOG_INTERVAL
        self.counters = ResponseCounters()
        self.last: Response | None = None
        self.last_round_trip_ms: float | None = None
        self.recent: deque[Response] = deque(maxlen=RECENT_RESPONSES)

    async def async_start(self) -> CALLBACK_TYPE:
        """Subscribe and return how to unsubscribe.

        HA's MQTT client renews the subscription by itself after a reconnect.
        """
        return await mqtt.async_subscribe(
            self._hass, self._topic, self._async_message, self._qos, encoding=None
        )

    @callback
    def async_add_listener(
        self, update: Callable[[Response | None], None]
    ) -> CALLBACK_TYPE:
        """Call `update` after every message: with the response, or None if rejected."""
        self._listeners.append(update)
        return lambda: self._listeners.remove(update)

    @callback
    def _async_message(self, msg: mqtt.ReceiveMessage) -> None:
        payload = msg.payload
        raw = payload.encode() if isinstance(payload, str) else bytes(payload)
        response: Response | None = None
        try:
            response = parse_response(
                msg.topic, raw, default_ttl=self._default_ttl, now=dt_util.utcnow()
            )
        except ResponseRejected as err:
            self._async_rejected(msg.topic, err.reason)
        else:
            self._async_accepted(response)
        for update in self._listeners:
            update(response)

    @callback
    def _async_rejected(self, topic: str, reason: str) -> None:
        counters = self.counters
        counters.rejected += 1
        counters.rejected_by_reason[reason] = (
            counters.rejected_by_reason.get(reason, 0) + 1
        )
        now = time.monotonic()
        if now - self._last_reject_log >= REJECT_LOG_INTERVAL:
            self._last_reject_log = now
            _LOGGER.warning(
                "Ignored a response on %s (%s); %d ignored so far, "
                "further ones are logged at most once a minute",
                topic,
                reason,
                counters.rejected,
            )

    @callback
    def _async_accepted(self, response: Response) -> None:
        self.counters.received += 1
        if not response.succeeded:
            self.counters.failed += 1
        self.last = response
        self.recent.append(response)
        event_id = response.payload.get("event_id")
        if event_id is not None and (
            accepted := self._publisher.async_accepted_at(event_id)
        ):
            self.last_round_trip_ms = (time.monotonic() - accepted) * 1000
