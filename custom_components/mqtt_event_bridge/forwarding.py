"""Where the HA events a user picked are forwarded to MQTT, loop-free.

Each picked type gets a bus listener that runs inside the bus's own call: it
skips what the bridge itself caused, applies the type's rate limit (and, for
`state_changed`, the entity filter), wraps the event in the usual envelope and
hands it to the outbox, like an action's event; when nothing waits there, HA's
MQTT client takes it within the bus's call, as mqtt_eventstream's would. Nothing
waits for the broker here; the outbox does the rest (TTL, order, outages,
counters).

What the bridge causes, and so never forwards:
- state changes of its own entities, and of the event entities its discovery
  made (each echo of a published event changes one);
- `call_service` events of its own actions;
- anything whose context is, or descends from, the context of such a state
  change: an automation triggered by a bridge entity, the service calls it
  makes, and the state changes those cause.
"""

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
import logging
import re
from typing import Any

from homeassistant.components.mqtt import DOMAIN as MQTT_DOMAIN
from homeassistant.const import EVENT_CALL_SERVICE, EVENT_STATE_CHANGED
from homeassistant.core import (
    CALLBACK_TYPE,
    Event,
    EventStateChangedData,
    HomeAssistant,
    callback,
    valid_domain,
    valid_entity_id,
)
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entityfilter import (
    CONF_INCLUDE_DOMAINS,
    CONF_INCLUDE_ENTITIES,
    CONF_INCLUDE_ENTITY_GLOBS,
    FILTER_SCHEMA,
    EntityFilter,
)
from homeassistant.util import dt as dt_util

from .const import (
    DOMAIN,
    FORWARD_TYPE_PREFIX,
    JSON_INT_MAX,
    JSON_INT_MIN,
    MAX_CAUSED_CONTEXTS,
    MAX_FORWARD_DEPTH,
    MAX_FORWARD_TEXT,
)
from .discovery import DISCOVERY_ID_PREFIX
from .envelope import EnvelopeError, OutgoingEvent, build_event
from .first_event import FirstEventGate
from .ratelimit import LogLimiter, TokenBucket, Updates
from .topics import event_topic

_LOGGER = logging.getLogger(__name__)

_SURROGATE = re.compile("[\ud800-\udfff]")
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


def _text(value: str) -> str:
    """Make text valid Unicode: each lone surrogate becomes U+FFFD."""
    return _SURROGATE.sub("\ufffd", value)


def _object_text(value: object) -> str:
    """Give an object's text, cut at MAX_FORWARD_TEXT; its type's when it has none."""
    try:
        text = str(value)
    except Exception:  # noqa: BLE001 - any object's __str__ can fail
        return _text(f"<unprintable {type(value).__name__} object>")
    return _text(text[:MAX_FORWARD_TEXT])


def _int_text(value: int) -> str:
    """Give an integer beyond 64 bits as its digits, or its size past Python's limit."""
    try:
        return str(value)
    except ValueError:  # more digits than Python writes (sys.set_int_max_str_digits)
        sign = "negative " if value < 0 else ""
        return f"<{sign}integer of {value.bit_length()} bits>"


def json_safe(value: Any, depth: int = 0) -> Any:
    """Give `value` in a form HA's JSON encoder can write; never raises.

    Integers beyond 64 bits become their digits as text (`<integer of N
    bits>` past Python's limit of digits); lone surrogates become U+FFFD;
    objects and lists deeper than MAX_FORWARD_DEPTH become null; keys
    become text; tuples and sets become lists; dates and times their ISO
    text; objects with `as_dict` (states, contexts) what it gives, made safe
    in turn; anything else its text, cut at MAX_FORWARD_TEXT characters. An
    object that fails on the way (as_dict, iterating, str) is forwarded as
    its text, or as `<unprintable TYPE object>` when even that fails.
    """
    try:
        return _json_safe(value, depth)
    except Exception:  # noqa: BLE001 - any object can fail; it becomes text
        return _object_text(value)


def _json_safe(value: Any, depth: int) -> Any:  # noqa: PLR0911 - one per kind
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        return value if JSON_INT_MIN <= value <= JSON_INT_MAX else _int_text(value)
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    # Looked up on the type, as HA's own objects define it: an instance's
    # __getattr__ is not asked.
    as_dict = getattr(type(value), "as_dict", None)
    if as_dict is None and not isinstance(
        value, Mapping | list | tuple | set | frozenset
    ):
        return _object_text(value)
    if depth >= MAX_FORWARD_DEPTH:
        return None
    if as_dict is not None:
        return json_safe(value.as_dict(), depth + 1)
    if isinstance(value, Mapping):
        return {
            _text(key) if isinstance(key, str) else _object_text(key): json_safe(
                item, depth + 1
            )
            for key, item in value.items()
        }
    return [json_safe(item, depth + 1) for item in value]


def _is_bridge_entity(entry: er.RegistryEntry) -> bool:
    """Tell the entities of any bridge: its own, and those its discovery made."""
    return entry.platform == DOMAIN or (
        entry.platform == MQTT_DOMAIN
        and entry.unique_id.startswith(DISCOVERY_ID_PREFIX)
    )


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
        # Contexts of the bridge entities' state changes, newest kept.
        self._caused: OrderedDict[str, None] = OrderedDict()
        self._own_entities: set[str] = set()
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
            self._async_know_own_entities()
            self._unsubscribe += [
                self._hass.bus.async_listen(
                    er.EVENT_ENTITY_REGISTRY_UPDATED, self._async_registry_updated
                ),
                # Inside the bus's call, before anything the change causes.
                self._hass.bus.async_listen(
                    EVENT_STATE_CHANGED,
                    self._async_own_state_changed,
                    event_filter=self._async_is_own_state_change,
                ),
            ]
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
    def _async_registry_updated(
        self, event: Event[er.EventEntityRegistryUpdatedData]
    ) -> None:
        # Only the entity the event names is looked at: an integration that
        # adds hundreds of entities fires one event for each.
        data = event.data
        if data["action"] == "update" and "old_entity_id" in data:
            self._own_entities.discard(data["old_entity_id"])
        entity_id = data["entity_id"]
        entry = (
            None
            if data["action"] == "remove"
            else er.async_get(self._hass).async_get(entity_id)
        )
        if entry is not None and _is_bridge_entity(entry):
            self._own_entities.add(entity_id)
        else:
            self._own_entities.discard(entity_id)

    @callback
    def _async_know_own_entities(self) -> None:
        self._own_entities = {
            entry.entity_id
            for entry in er.async_get(self._hass).entities.values()
            if _is_bridge_entity(entry)
        }

    @callback
    def _async_is_own_state_change(self, data: EventStateChangedData) -> bool:
        return data["entity_id"] in self._own_entities

    @callback
    def _async_own_state_changed(self, event: Event[EventStateChangedData]) -> None:
        """Remember the context of a bridge entity's change, to know what it causes."""
        self._caused[event.context.id] = None
        if len(self._caused) > MAX_CAUSED_CONTEXTS:
            self._caused.popitem(last=False)

    @callback
    def _async_is_own(self, event: Event[Any]) -> bool:
        """Tell whether the bridge caused an event (see the module's notes)."""
        # A bridge entity's own state change is in `_caused` already: its
        # listener was added before the forwarded types' listeners, and the
        # bus calls the listeners of a type in the order they were added.
        context = event.context
        if context.id in self._caused or (
            context.parent_id is not None and context.parent_id in self._caused
        ):
            return True
        if event.event_type == EVENT_CALL_SERVICE:
            return bool(event.data.get("domain") == DOMAIN)
        return False

    @callback
    def _async_forward(self, event: Event[Any]) -> None:
        """Forward one event of a picked type, unless it must not be."""
        event_type = str(event.event_type)
        if self._async_is_own(event):
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
        # At once, like mqtt_eventstream: the bus's call includes the hand-over
        # to HA's MQTT client, which saves a turn of the loop and its work.
        offered = forward_type(event_type) if self._settings.discovery else None
        self._gate.async_submit(offered, outgoing, at_once=True)

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
                "context_id": json_safe(event.context.id),
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
