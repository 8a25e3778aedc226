"""Where the HA events a user picked are forwarded to MQTT, loop-free.

Each picked type gets a bus listener that runs inside the bus's own call: it
skips what the bridge itself caused, applies the type's rate limit (and, for
`state_changed`, the entity filter), wraps the event in the usual envelope and
hands it to the outbox, like an action's event. Nothing waits for the broker
here; the outbox does the rest (TTL, order, outages,
counters). What the bridge itself causes is never forwarded (own_events.py).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
import logging
import re
from typing import Any

from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import (
    CALLBACK_TYPE,
    Event,
    HomeAssistant,
    callback,
    valid_domain,
    valid_entity_id,
)
from homeassistant.helpers.entityfilter import (
    CONF_INCLUDE_DOMAINS,
    CONF_INCLUDE_ENTITIES,
    CONF_INCLUDE_ENTITY_GLOBS,
    FILTER_SCHEMA,
    EntityFilter,
)
from homeassistant.util import dt as dt_util

from .const import FORWARD_TYPE_PREFIX, MAX_PAYLOAD_BYTES
from .envelope import EnvelopeError, OutgoingEvent, build_event
from .first_event import FirstEventGate
from .json_safe import TooLarge, json_safe, text_of
from .own_events import OwnEvents
from .ratelimit import LogLimiter, TokenBucket, Updates
from .topics import event_topic

_LOGGER = logging.getLogger(__name__)

_GLOB = re.compile(r"[a-z0-9_.*?]+")


def forward_type(event_type: str) -> str:
    """Give the envelope type (and discovery type) of a forwarded HA event type."""
    return f"{FORWARD_TYPE_PREFIX}{event_type}"


def entity_filter(items: Iterable[str]) -> EntityFilter | None:
    """Build HA's entity filter from entity ids, domains and globs.

    An item with `*` or `?` is a glob (`sensor.*_temperature`), one with a dot
    an entity id, any other a domain. None when there are no items (every
    entity passes). Raises ValueError for an item that is none of them.
    """
    items = list(items)
    if not items:
        return None
    config: dict[str, list[str]] = {
        CONF_INCLUDE_DOMAINS: [],
        CONF_INCLUDE_ENTITIES: [],
        CONF_INCLUDE_ENTITY_GLOBS: [],
    }
    for item in items:
        if "*" in item or "?" in item:
            if _GLOB.fullmatch(item) is None:
                raise ValueError(item)
            config[CONF_INCLUDE_ENTITY_GLOBS].append(item)
        elif "." in item:
            if not valid_entity_id(item):
                raise ValueError(item)
            config[CONF_INCLUDE_ENTITIES].append(item)
        elif valid_domain(item):
            config[CONF_INCLUDE_DOMAINS].append(item)
        else:
            raise ValueError(item)
    made: EntityFilter = FILTER_SCHEMA(config)
    return made


@dataclass(kw_only=True, slots=True)
class ForwardCounters:
    """What became of the events of the picked types."""

    forwarded: int = 0
    # Forwarded after json_safe changed their data.
    made_safe: int = 0
    # Caused by the bridge itself: never forwarded (not a loss).
    own: int = 0
    dropped: int = 0
    dropped_by_reason: dict[str, int] = field(default_factory=dict)


@dataclass(kw_only=True, slots=True)
class ForwardSettings:
    """What one bridge forwards, and how."""

    prefix: str
    event_types: tuple[str, ...]
    entities: tuple[str, ...]
    rate: int
    discovery: bool
    qos: int
    ttl: int


class EventForwarder:
    """Forwards the picked HA event types of one bridge."""

    def __init__(
        self,
        hass: HomeAssistant,
        settings: ForwardSettings,
        *,
        gate: FirstEventGate,
        updates: Updates,
    ) -> None:
        """Prepare; nothing listens before `async_start`."""
        self._hass = hass
        self._settings = settings
        self._gate = gate
        self._filter = entity_filter(settings.entities)
        self._buckets = {
            event_type: TokenBucket(capacity=settings.rate, rate=settings.rate)
            for event_type in settings.event_types
        }
        self._own = OwnEvents(hass)
        self._unsubscribe: list[CALLBACK_TYPE] = []
        # The publisher's: a forwarded event changes its counters too, and it
        # tells the entities once the event is sent, so the bus's call of the
        # event needs to tell no one.
        self._updates = updates
        self._rate_log = LogLimiter(_LOGGER)
        self._drop_log = LogLimiter(_LOGGER)
        self._safe_log = LogLimiter(_LOGGER)
        self.counters = ForwardCounters()

    @property
    def event_types(self) -> tuple[str, ...]:
        """The HA event types forwarded."""
        return self._settings.event_types

    @callback
    def async_start(self) -> CALLBACK_TYPE:
        """Listen to the picked types; return how to stop."""
        if self._settings.event_types:
            self._unsubscribe.append(self._own.async_start())
        for event_type in self._settings.event_types:
            self._unsubscribe.append(
                self._hass.bus.async_listen(event_type, self._async_forward)
            )
        return self._async_stop

    @callback
    def _async_stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    @callback
    def async_add_listener(self, update: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call `update` (at most once a second) when the counters change.

        A forwarded event is counted at once and shown when the publisher
        says it changed: once the event is sent, or has joined the outbox.
        """
        return self._updates.async_add(update)

    @callback
    def _async_forward(self, event: Event[Any]) -> None:
        """Forward one event of a picked type, unless it must not be."""
        event_type = str(event.event_type)
        if self._own.async_is_own(event):
            self.counters.own += 1
            return
        if (
            self._filter is not None
            and event_type == EVENT_STATE_CHANGED
            and not self._filter(str(event.data.get("entity_id")))
        ):
            return
        if not self._buckets[event_type].take():
            self._async_dropped("rate_limited")
            self._rate_log.warning(
                "Forwarding %s: more than %d events a second, the rest are dropped",
                event_type,
                self._settings.rate,
            )
            return
        if (outgoing := self._async_build(event_type, event)) is None:
            return
        self.counters.forwarded += 1
        # The way every event takes: the outbox, then a sender on the loop's
        # next turn (a hand-over within the bus's call measured no faster).
        offered = forward_type(event_type) if self._settings.discovery else None
        self._gate.async_submit(offered, outgoing)

    @callback
    def _async_build(self, event_type: str, event: Event[Any]) -> OutgoingEvent | None:
        """Wrap an event in the envelope; made safe, or dropped counted."""
        try:
            return self._envelope(event_type, event.data, event)
        except EnvelopeError as err:
            if err.reason != "not_serializable":
                self._async_drop(event_type, err)
                return None
        try:
            # One level down from the envelope, where the depth is counted.
            outgoing = self._envelope(event_type, json_safe(event.data, 1), event)
        except TooLarge:
            # Known before walking it all: more than a payload can hold.
            self._async_drop(
                event_type,
                EnvelopeError(
                    "payload_too_large",
                    size=f"more than {MAX_PAYLOAD_BYTES}",
                    limit=str(MAX_PAYLOAD_BYTES),
                ),
            )
            return None
        except EnvelopeError as err:
            self._async_drop(event_type, err)
            return None
        self.counters.made_safe += 1
        self._safe_log.warning(
            "Forwarding %s: data HA's JSON encoder cannot write was made safe"
            " (large integers as text, deep nesting cut, invalid text replaced)",
            event_type,
        )
        return outgoing

    def _envelope(self, event_type: str, data: Any, event: Event[Any]) -> OutgoingEvent:
        """Wrap an HA event's data in the envelope, under keys of its own."""
        kind = forward_type(event_type)
        return build_event(
            topic=event_topic(self._settings.prefix, kind),
            event_type=kind,
            data={
                "data": data,
                "origin": event.origin.value,
                "context_id": text_of(event.context.id),
            },
            qos=self._settings.qos,
            ttl=self._settings.ttl,
            # Not time_fired: this runs inside the bus's call, at the same moment.
            now=dt_util.utcnow(),
        )

    @callback
    def _async_drop(self, event_type: str, err: EnvelopeError) -> None:
        self._async_dropped(err.reason)
        self._drop_log.warning(
            "Forwarding %s: an event was dropped (%s: %s)",
            event_type,
            err.reason,
            ", ".join(f"{key} {value}" for key, value in err.placeholders.items()),
        )

    @callback
    def _async_dropped(self, reason: str) -> None:
        self.counters.dropped += 1
        by_reason = self.counters.dropped_by_reason
        by_reason[reason] = by_reason.get(reason, 0) + 1
        self._updates.async_changed()
