"""The base of every entity a bridge has: one device per entry."""

from homeassistant.components.mqtt import DOMAIN as MQTT_DOMAIN
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import Entity

from .const import DOMAIN
from .discovery import device_identifier
from .models import BridgeConfigEntry


class BridgeEntity(Entity):
    """An entity of one bridge, named from translations."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, entry: BridgeConfigEntry, key: str) -> None:
        """Tie the entity to the entry's device; the unique id survives restarts."""
        self._attr_unique_id = f"{entry.unique_id}_{key}"
        self._attr_device_info = DeviceInfo(
            # Also MQTT discovery's id for the device: its event entities and
            # triggers join this device instead of making a second one.
            identifiers={
                (DOMAIN, entry.entry_id),
                (MQTT_DOMAIN, device_identifier(entry.entry_id)),
            },
            name=f"MQTT Event Bridge {entry.runtime_data.settings.topic_prefix}",
            manufacturer="MQTT Event Bridge",
            model="Event bridge",
            entry_type=DeviceEntryType.SERVICE,
        )
