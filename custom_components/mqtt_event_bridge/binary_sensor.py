"""Whether HA's MQTT client is connected to the broker."""

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import BridgeEntity
from .models import BridgeConfigEntry

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: BridgeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the broker connection sensor of a bridge."""
    async_add_entities([BrokerConnected(entry)])


class BrokerConnected(BridgeEntity, BinarySensorEntity):
    """On while events can go to the broker; off while they wait in the outbox."""

    _attr_translation_key = "broker_connected"
    _attr_device_class = BinarySensorDeviceClass.CONNECTIVITY
    _attr_entity_category = EntityCategory.DIAGNOSTIC

    def __init__(self, entry: BridgeConfigEntry) -> None:
        """Bind to the entry's publisher."""
        super().__init__(entry, "broker_connected")
        self._publisher = entry.runtime_data.publisher

    async def async_added_to_hass(self) -> None:
        """Follow the publisher."""
        await super().async_added_to_hass()
        self._async_follow(self._publisher.async_add_listener)

    @property
    def is_on(self) -> bool:
        """Connected or not."""
        return self._publisher.connected
