"""Where feedback on `<prefix>/responses/#` is parsed, checked and counted.

A response comes from anyone who can publish to the broker, so it is treated
as untrusted data: size-limited, never rendered as a template, and no error in
it may escape into HA's MQTT message loop.
"""

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import json
import logging
import math
from typing import Any

from homeassistant.components import mqtt
from homeassistant.const import MAX_LENGTH_STATE_STATE
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.util import dt as dt_util

from .const import (
    JSON_INT_MAX,
    JSON_INT_MIN,
    MAX_RESPONSE_BYTES,
    MAX_RESPONSE_DEPTH,
    MAX_TTL,
    MIN_TTL,
    RECENT_RESPONSES,
    RESPONSE_EVENT_BURST,
    RESPONSE_EVENT_RATE,
    SUCCESS_STATUSES,
)
from .ratelimit import LogLimiter, TokenBucket, Updates
from .topics import responses_filter
from .waits import ResponseWaits, RoundTrips

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


def _refuse_constant(name: str) -> None:
    """NaN and Infinity are not JSON, and not writable as HA state."""
    raise ValueError(name)


def _finite_float(text: str) -> float:
    if not math.isfinite(value := float(text)):  # 1e400 reads as infinity
        raise ValueError(text)
    return value


def _int_that_fits(text: str) -> int:
    if not JSON_INT_MIN <= (value := int(text)) <= JSON_INT_MAX:
        raise ValueError(text)
    return value


def _loads(raw: bytes) -> Any:
    """Read strict UTF-8 JSON, refusing what HA's JSON encoder cannot write back.

    Python's parser rather than HA's (orjson): orjson turns integers beyond 64
    bits into floats without a word, and those are refused here instead. Bytes
    in UTF-16 or UTF-32, or with a byte order mark, are not UTF-8 JSON.
    """
    try:
        return json.loads(
            raw.decode("utf-8"),
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
            parse_int=_int_that_fits,
        )
    except (ValueError, RecursionError) as err:  # also covers non-UTF-8 bytes
        raise ResponseRejected("not_json") from err


def _is_text(value: str) -> bool:
    """Tell whether a string can be written as UTF-8 (no lone surrogates)."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_json_safe(payload: dict[str, Any]) -> None:
    """Refuse deep nesting, and text that is not valid Unicode, anywhere."""
    # Each object or list with its level: the payload itself is level 1.
    stack: list[tuple[Any, int]] = [(payload, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list) and depth > MAX_RESPONSE_DEPTH:
            raise ResponseRejected("invalid_value")
        if isinstance(value, dict):
            if not all(_is_text(key) for key in value):
                raise ResponseRejected("invalid_value")
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str) and not _is_text(value):
            raise ResponseRejected("invalid_value")


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


def _check_values(payload: dict[str, Any]) -> None:
    """Values of the right type that still cannot be used."""
    # The status becomes a sensor's state, which HA limits to 255 characters.
    if len(payload["status"]) > MAX_LENGTH_STATE_STATE:
        raise ResponseRejected("invalid_value")
    if (duration := payload.get("duration_ms")) is not None and duration < 0:
        raise ResponseRejected("invalid_value")
    if (ttl := payload.get("ttl")) is not None and not MIN_TTL <= ttl <= MAX_TTL:
        raise ResponseRejected("invalid_value")


def _is_stale(payload: dict[str, Any], default_ttl: int, now: datetime) -> bool:
    """Tell whether `timestamp + ttl` has passed; without a timestamp it cannot be."""
    if (raw := payload.get("timestamp")) is None:
        return False
    try:
        # February 30, an offset of 99 hours, or a year past 9999 with the ttl.
        sent = dt_util.parse_datetime(raw)
        if sent is not None:
            if sent.tzinfo is None:
                sent = sent.replace(tzinfo=dt_util.UTC)
            return sent + timedelta(seconds=payload.get("ttl", default_ttl)) < now
    except (ValueError, OverflowError) as err:
        raise ResponseRejected("invalid_value") from err
    raise ResponseRejected("wrong_type")  # not a date and time at all


def parse_response(
    topic: str, raw: bytes, *, default_ttl: int, now: datetime
) -> Response:
    """Turn a message into a Response, or raise ResponseRejected.

    Whatever is accepted can be written by HA's JSON encoder: as state,
    attributes, restore data and recorder rows.
    """
    # The topic becomes an attribute too: it counts against the same bound.
    if len(raw) + len(topic) > MAX_RESPONSE_BYTES:
        raise ResponseRejected("oversized")
    payload = _loads(raw)
    if not isinstance(payload, dict):
        raise ResponseRejected("not_object")
    _check_payload(payload)
    if _is_stale(payload, default_ttl, now):
        raise ResponseRejected("stale")
    return _response(topic, payload, now)


def _check_payload(payload: dict[str, Any]) -> None:
    """Raise ResponseRejected unless HA can write all of it, of the right types."""
    _check_json_safe(payload)
    _check_types(payload)
    _check_values(payload)


def _response(topic: str, payload: dict[str, Any], received_at: datetime) -> Response:
    """Give the Response of a checked payload."""
    status: str = payload["status"]
    return Response(
        topic=topic,
        automation_id=payload["automation_id"],
        status=status,
        succeeded=status.lower() in SUCCESS_STATUSES,
        received_at=received_at,
        payload=payload,
    )


@dataclass(kw_only=True, slots=True)
class ResponseCounters:
    """What the response topics brought since the counters started."""

    received: int = 0
    failed: int = 0
    rejected: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    # Received, but beyond the event entity's rate: counted, not fired.
    not_fired: int = 0
    # Retained messages the broker replayed on subscribing: not new responses.
    retained_skipped: int = 0


class ResponseListener:
    """Subscribes to one entry's response topics and keeps what they tell."""

    def __init__(
        self,
        hass: HomeAssistant,
        *,
        prefix: str,
        qos: int,
        default_ttl: int,
        round_trips: RoundTrips,
        waits: ResponseWaits,
    ) -> None:
        """Prepare; nothing is subscribed before `async_start`."""
        self._hass = hass
        self._waits = waits
        self._topic = responses_filter(prefix)
        self._qos = qos
        self._default_ttl = default_ttl
        self._round_trips = round_trips
        self._response_listeners: list[Callable[[Response], None]] = []
        self._updates = Updates(hass)
        self._events = TokenBucket(
            capacity=RESPONSE_EVENT_BURST, rate=RESPONSE_EVENT_RATE
        )
        self._rejected_log = LogLimiter(_LOGGER)
        self._retained_log = LogLimiter(_LOGGER)
        self._not_fired_log = LogLimiter(_LOGGER)
        self.counters = ResponseCounters()
        self.last: Response | None = None
        self.last_round_trip_ms: float | None = None
        self.recent: deque[Response] = deque(maxlen=RECENT_RESPONSES)

    @callback
    def async_restore_last(self, status: object, attributes: Mapping[str, Any]) -> None:
        """Bring back the last response a restart or reload forgot.

        It passes the same checks as a response from the broker, or stays
        unknown; it is not counted again and fires nothing.
        """
        if self.last is not None or not isinstance(status, str):
            return
        payload: dict[str, Any] = {
            "automation_id": attributes.get("automation_id"),
            "status": status,
        }
        payload |= {
            key: attributes[key]
            for key in ("event_id", "message", "duration_ms")
            if attributes.get(key) is not None
        }
        topic, received = attributes.get("topic"), attributes.get("received_at")
        try:
            _check_payload(payload)
            when = (
                dt_util.parse_datetime(received) if isinstance(received, str) else None
            )
        except (ResponseRejected, ValueError):
            return
        if not isinstance(topic, str) or when is None or when.tzinfo is None:
            return
        self.last = _response(topic, payload, when)

    async def async_start(self) -> CALLBACK_TYPE:
        """Subscribe and return how to stop (unsubscribe, no more updates).

        HA's MQTT client renews the subscription by itself after a reconnect.
        """
        unsubscribe = await mqtt.async_subscribe(
            self._hass, self._topic, self._async_message, self._qos, encoding=None
        )

        @callback
        def stop() -> None:
            unsubscribe()
            self._updates.async_shutdown()

        return stop

    @callback
    def async_add_listener(self, update: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call `update` when counters or the last response changed.

        Right after the first message, then at most once a second.
        """
        return self._updates.async_add(update)

    @callback
    def async_add_response_listener(
        self, fire: Callable[[Response], None]
    ) -> CALLBACK_TYPE:
        """Call `fire` with accepted responses, at a bounded rate."""
        self._response_listeners.append(fire)
        return lambda: self._response_listeners.remove(fire)

    @callback
    def _async_message(self, msg: mqtt.ReceiveMessage) -> None:
        if msg.retain:
            # Replayed by the broker because we subscribed (on every load):
            # counting it would count it again after each reload or restart.
            # HA's own MQTT event entities skip these too.
            self.counters.retained_skipped += 1
            self._retained_log.warning(
                "Skipped a retained response on %.200s: responses are events, not "
                "states, so they must not be retained; clear it by publishing "
                "an empty retained message to that topic",
                msg.topic,
            )
            return
        payload = msg.payload
        raw = payload.encode() if isinstance(payload, str) else bytes(payload)
        try:
            response = parse_response(
                msg.topic, raw, default_ttl=self._default_ttl, now=dt_util.utcnow()
            )
        except ResponseRejected as err:
            self._async_rejected(msg.topic, err.reason)
        else:
            self._async_accepted(response)
        self._updates.async_changed()

    @callback
    def _async_rejected(self, topic: str, reason: str) -> None:
        counters = self.counters
        counters.rejected += 1
        counters.rejected_by_reason[reason] = (
            counters.rejected_by_reason.get(reason, 0) + 1
        )
        # The topic is cut: it can be 64 KiB long.
        self._rejected_log.warning(
            "Ignored a response on %.200s (%s); %d ignored so far",
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
        if event_id is not None:
            if (
                round_trip := self._round_trips.async_round_trip_ms(event_id)
            ) is not None:
                self.last_round_trip_ms = round_trip
            # Before the entity's rate limit: every answer reaches its caller.
            self._waits.async_answer(event_id, response.payload)
        if not self._response_listeners:
            return
        if not self._events.take():
            self.counters.not_fired += 1
            self._not_fired_log.warning(
                "Responses on %s come faster than the response entity fires "
                "(bursts of %d, then %g a second): all are counted, %d did not "
                "fire it so far",
                self._topic,
                RESPONSE_EVENT_BURST,
                RESPONSE_EVENT_RATE,
                self.counters.not_fired,
            )
            return
        for fire in self._response_listeners:
            fire(response)
