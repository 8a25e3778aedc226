"""Sensors fed by the response topics."""

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory, UnitOfTime
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity
from homeassistant.helpers.typing import StateType

from .entity import BridgeEntity
from .models import BridgeConfigEntry
from .responses import Response, ResponseCounters, ResponseListener

# Entities only read state kept by the listener; no update is ever polled.
PARALLEL_UPDATES = 0


def _last_response_attributes(listener: ResponseListener) -> dict[str, Any] | None:
    if (last := listener.last) is None:
        return None
    return {
        "automation_id": last.automation_id,
        "topic": last.topic,
        "received_at": last.received_at.isoformat(),
        "event_id": last.payload.get("event_id"),
        "message": last.payload.get("message"),
        "duration_ms": last.payload.get("duration_ms"),
    }


def _add_received(counters: ResponseCounters, value: int) -> None:
    counters.received += value


def _add_failed(counters: ResponseCounters, value: int) -> None:
    counters.failed += value


def _add_rejected(counters: ResponseCounters, value: int) -> None:
    counters.rejected += value


@dataclass(frozen=True, kw_only=True)
class BridgeSensorDescription(SensorEntityDescription):
    """How a sensor reads the response listener."""

    value_fn: Callable[[ResponseListener], StateType]
    attributes_fn: Callable[[ResponseListener], dict[str, Any] | None] = lambda _: None
    # Counters that must survive a restart add their last state back in.
    restore_fn: Callable[[ResponseCounters, int], None] | None = None


SENSORS: tuple[BridgeSensorDescription, ...] = (
    BridgeSensorDescription(
        key="last_response",
        translation_key="last_response",
        value_fn=lambda listener: listener.last.status if listener.last else None,
        attributes_fn=_last_response_attributes,
    ),
    BridgeSensorDescription(
        key="responses_received",
        translation_key="responses_received",
        state_class=SensorStateClass.TOTAL_INCREASING,
        value_fn=lambda listener: listener.counters.received,
        restore_fn=_add_received,
    ),
    BridgeSensorDescription(
        key="failed_responses",
        translation_key="failed_responses",
        state_class=SensorStateClass.TOTAL_INCREASING,
        value_fn=lambda listener: listener.counters.failed,
        restore_fn=_add_failed,
    ),
    BridgeSensorDescription(
        key="rejected_responses",
        translation_key="rejected_responses",
        entity_category=EntityCategory.DIAGNOSTIC,
        state_class=SensorStateClass.TOTAL_INCREASING,
        value_fn=lambda listener: listener.counters.rejected,
        attributes_fn=lambda listener: dict(listener.counters.rejected_by_reason),
        restore_fn=_add_rejected,
    ),
    BridgeSensorDescription(
        key="response_round_trip",
        translation_key="response_round_trip",
        entity_category=EntityCategory.DIAGNOSTIC,
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MILLISECONDS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda listener: listener.last_round_trip_ms,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: BridgeConfigEntry,
    async_add_entities: AddEntitiesCallback,
) -> None:
    """Add the response sensors of a bridge."""
    async_add_entities(BridgeSensor(entry, description) for description in SENSORS)


class BridgeSensor(BridgeEntity, SensorEntity, RestoreEntity):
    """A sensor that shows part of what the response topics told."""

    entity_description: BridgeSensorDescription

    def __init__(
        self, entry: BridgeConfigEntry, description: BridgeSensorDescription
    ) -> None:
        """Bind the description to the entry's listener."""
        super().__init__(entry, description.key)
        self.entity_description = description
        self._listener = entry.runtime_data.responses

    async def async_added_to_hass(self) -> None:
        """Restore a counter, then follow the listener."""
        await super().async_added_to_hass()
        restore = self.entity_description.restore_fn
        if restore is not None and (last := await self.async_get_last_state()):
            # "unknown" or "unavailable" leave nothing to restore.
            with suppress(ValueError):
                restore(self._listener.counters, int(float(last.state)))
        self.async_on_remove(self._listener.async_add_listener(self._async_update))

    @callback
    def _async_update(self, _response: Response | None) -> None:
        self.async_write_ha_state()

    @property
    def native_value(self) -> StateType:
        """The value read from the listener."""
        return self.entity_description.value_fn(self._listener)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Details that belong with the value."""
        return self.entity_description.attributes_fn(self._listener)
