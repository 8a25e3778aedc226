"""Sensors: what the response topics told, and how publishing goes."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory, UnitOfTime
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import ExtraStoredData, RestoreEntity
from homeassistant.helpers.typing import StateType

from .const import JSON_INT_MAX
from .entity import BridgeEntity
from .forwarding import ForwardCounters
from .models import BridgeConfigEntry, BridgeRuntimeData
from .responses import ResponseCounters
from .sender import PublishCounters

# Entities only read state kept by the listener; no update is ever polled.
PARALLEL_UPDATES = 0


def _last_response_attributes(data: BridgeRuntimeData) -> dict[str, Any] | None:
    if (last := data.responses.last) is None:
        return None
    return {
        "automation_id": last.automation_id,
        "topic": last.topic,
        "received_at": last.received_at.isoformat(),
        "event_id": last.payload.get("event_id"),
        "message": last.payload.get("message"),
        "duration_ms": last.payload.get("duration_ms"),
    }


def _follow_responses(
    data: BridgeRuntimeData, update: Callable[[], None]
) -> Callable[[], None]:
    return data.responses.async_add_listener(update)


def _follow_forwarder(
    data: BridgeRuntimeData, update: Callable[[], None]
) -> Callable[[], None]:
    return data.forwarder.async_add_listener(update)


def _follow_publisher(
    data: BridgeRuntimeData, update: Callable[[], None]
) -> Callable[[], None]:
    return data.publisher.async_add_listener(update)


@dataclass(frozen=True, kw_only=True)
class BridgeSensorDescription(SensorEntityDescription):
    """How a sensor reads the bridge's state."""

    value_fn: Callable[[BridgeRuntimeData], StateType]
    follow_fn: Callable[[BridgeRuntimeData, Callable[[], None]], Callable[[], None]]
    attributes_fn: Callable[[BridgeRuntimeData], dict[str, Any] | None] = lambda _: None
    # What must survive a restart: given the saved value and attributes.
    restore_fn: (
        Callable[[BridgeRuntimeData, object, Mapping[str, Any]], None] | None
    ) = None


def _responses(data: BridgeRuntimeData) -> ResponseCounters:
    return data.responses.counters


def _published(data: BridgeRuntimeData) -> PublishCounters:
    return data.publisher.counters


def _forwarded(data: BridgeRuntimeData) -> ForwardCounters:
    return data.forwarder.counters


_FOLLOW: dict[
    Callable[[BridgeRuntimeData], Any],
    Callable[[BridgeRuntimeData, Callable[[], None]], Callable[[], None]],
] = {
    _responses: _follow_responses,
    _published: _follow_publisher,
    _forwarded: _follow_forwarder,
}


def _counter(
    key: str,
    counters: Callable[[BridgeRuntimeData], Any],
    field: str,
    *,
    diagnostic: bool = True,
    attributes_fn: Callable[[BridgeRuntimeData], dict[str, Any] | None] = (
        lambda _: None
    ),
) -> BridgeSensorDescription:
    """Describe a counter that only grows and survives a restart."""

    def restore(data: BridgeRuntimeData, value: object, _: Mapping[str, Any]) -> None:
        if (count := _stored_count(str(value))) is not None:
            target = counters(data)
            setattr(target, field, getattr(target, field) + count)

    return BridgeSensorDescription(
        key=key,
        translation_key=key,
        entity_category=EntityCategory.DIAGNOSTIC if diagnostic else None,
        state_class=SensorStateClass.TOTAL_INCREASING,
        value_fn=lambda data: int(getattr(counters(data), field)),
        follow_fn=_FOLLOW[counters],
        attributes_fn=attributes_fn,
        restore_fn=restore,
    )


SENSORS: tuple[BridgeSensorDescription, ...] = (
    BridgeSensorDescription(
        key="last_response",
        translation_key="last_response",
        value_fn=lambda data: data.responses.last.status
        if data.responses.last
        else None,
        attributes_fn=_last_response_attributes,
        follow_fn=_follow_responses,
        restore_fn=lambda data, value, attributes: data.responses.async_restore_last(
            value, attributes
        ),
    ),
    _counter("responses_received", _responses, "received", diagnostic=False),
    _counter("failed_responses", _responses, "failed", diagnostic=False),
    _counter(
        "rejected_responses",
        _responses,
        "rejected",
        attributes_fn=lambda data: dict(data.responses.counters.rejected_by_reason),
    ),
    BridgeSensorDescription(
        key="response_round_trip",
        translation_key="response_round_trip",
        entity_category=EntityCategory.DIAGNOSTIC,
        # The three measurements (round trip, outbox size, publish latency)
        # serve looking into delivery and are rarely needed: off until
        # enabled. The counters stay on: they show loss, and each is restored
        # from its entity's saved state.
        entity_registry_enabled_default=False,
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MILLISECONDS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda data: data.responses.last_round_trip_ms,
        follow_fn=_follow_responses,
    ),
    _counter("events_published", _published, "published"),
    _counter("events_expired", _published, "expired"),
    _counter("events_overflowed", _published, "overflowed"),
    _counter("publish_failures", _published, "failed"),
    _counter("events_unacknowledged", _published, "unacknowledged"),
    _counter("events_forwarded", _forwarded, "forwarded"),
    _counter(
        "forward_dropped",
        _forwarded,
        "dropped",
        attributes_fn=lambda data: dict(data.forwarder.counters.dropped_by_reason),
    ),
    BridgeSensorDescription(
        key="outbox_size",
        translation_key="outbox_size",
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda data: data.publisher.outbox_size,
        follow_fn=_follow_publisher,
    ),
    BridgeSensorDescription(
        key="last_publish_latency",
        translation_key="last_publish_latency",
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MILLISECONDS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda data: data.publisher.last_latency_ms,
        follow_fn=_follow_publisher,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: BridgeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the response sensors of a bridge."""
    async_add_entities(BridgeSensor(entry, description) for description in SENSORS)


def _stored_count(state: str) -> int | None:
    """Read a saved counter; None for what no counter shows.

    That is "unknown" and "unavailable", and what only an edited file holds:
    fractions, infinity, negative numbers, and numbers HA's JSON encoder
    could not write back (diagnostics) once counted on.
    """
    try:
        value = float(state)
        count = int(value)
    except (ValueError, OverflowError):  # not a number; NaN; infinity
        return None
    return count if count == value and 0 <= count <= JSON_INT_MAX else None


@dataclass(frozen=True, slots=True)
class SavedValue(ExtraStoredData):
    """A sensor's value and attributes, as read when HA saves them."""

    value: StateType
    attributes: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        """Give the saved form."""
        return {"value": self.value, "attributes": self.attributes}


class BridgeSensor(BridgeEntity, SensorEntity, RestoreEntity):
    """A sensor that shows one part of the bridge's state."""

    entity_description: BridgeSensorDescription

    def __init__(
        self, entry: BridgeConfigEntry, description: BridgeSensorDescription
    ) -> None:
        """Bind the description to the entry's listener."""
        super().__init__(entry, description.key)
        self.entity_description = description
        self._data = entry.runtime_data

    async def async_added_to_hass(self) -> None:
        """Restore what must survive a restart, then follow the state it shows."""
        await super().async_added_to_hass()
        description = self.entity_description
        if description.restore_fn is not None:
            if (saved := await self.async_get_last_extra_data()) is not None:
                stored = saved.as_dict()
                attributes = stored.get("attributes")
                description.restore_fn(
                    self._data,
                    stored.get("value"),
                    attributes if isinstance(attributes, dict) else {},
                )
            elif (last := await self.async_get_last_state()) is not None:
                # Saved by a version that kept only the written state.
                description.restore_fn(self._data, last.state, last.attributes)
        self._async_follow(partial(description.follow_fn, self._data))

    @property
    def extra_restore_state_data(self) -> "SavedValue":
        """The value now, not as last written (at most once a second).

        HA saves it when the entity is removed (reload, options change) and
        at its final write on stop: a counter comes back exact.
        """
        return SavedValue(self.native_value, self.extra_state_attributes)

    def _showing(self) -> object:
        # The value as read: cheaper than the state, which formats it.
        return (self.native_value, self.extra_state_attributes)

    @property
    def native_value(self) -> StateType:
        """The value read from the listener."""
        return self.entity_description.value_fn(self._data)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Details that belong with the value."""
        return self.entity_description.attributes_fn(self._data)
