"""The base of every entity a bridge has: one device per entry."""

from collections.abc import Callable

from homeassistant.components.mqtt import DOMAIN as MQTT_DOMAIN
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import Entity

from .const import DOMAIN
from .discovery_payloads import device_identifier, device_name
from .models import BridgeConfigEntry


class BridgeEntity(Entity):
    """An entity of one bridge, named from translations."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    # What the state showed when last written (nothing yet).
    _shown: object = None

    def __init__(self, entry: BridgeConfigEntry, key: str) -> None:
        """Tie the entity to the entry's device; the unique id survives restarts."""
        self._attr_unique_id = f"{entry.unique_id}_{key}"
        self._attr_device_info = DeviceInfo(
            # The bridge's own device: its sensors and Response entity. The
            # event types are on a device of their own, made by MQTT discovery
            # ("... events"), since newer HA keeps devices per config entry.
            identifiers={(DOMAIN, entry.entry_id)},
            name=device_name(entry.runtime_data.settings.topic_prefix),
            manufacturer="MQTT Event Bridge",
            model="Event bridge",
            entry_type=DeviceEntryType.SERVICE,
        )

    @callback
    def _async_follow(
        self, add_listener: Callable[[CALLBACK_TYPE], CALLBACK_TYPE]
    ) -> None:
        """Follow a part of the bridge until removed; called as the entity is added.

        The platform writes the state right after, so that is what it shows.
        """
        self.async_on_remove(add_listener(self._async_changed))
        self._shown = self._showing()

    def _showing(self) -> object:
        """Give what the state shows now: it is written only when this changes."""
        return (self.state, self.extra_state_attributes)

    @callback
    def _async_changed(self) -> None:
        """Write the state if what it shows changed.

        The bridge tells every entity of each change of its counters, and most
        changes are to one counter: an unchanged entity is not written again.
        """
        if (showing := self._showing()) != self._shown:
            self._shown = showing
            self.async_write_ha_state()


def device_config_entries(device: dr.DeviceEntry) -> set[str]:
    """Give the config entries a device belongs to, on every HA version.

    Newer HA gives each device one config entry (`config_entry_id`) and
    deprecates the set; older HA has only the set.
    """
    single: str | None = getattr(device, "config_entry_id", None)
    return {single} if single is not None else set(device.config_entries)


@callback
def _async_own_device(
    registry: dr.DeviceRegistry, identifier: tuple[str, str], entry_id: str
) -> dr.DeviceEntry | None:
    """Find the entry's device by its identifier, as each HA version allows.

    HA 2026.10 keeps identifiers unique per config entry only: the lookup by
    identifier alone is deprecated there, and goes in 2027.8.
    """
    by_entry = getattr(registry, "async_get_device_by_identifier", None)
    if by_entry is not None:
        found: dr.DeviceEntry | None = by_entry(identifier, entry_id)
        return found
    return registry.async_get_device(identifiers={identifier})


@callback
def async_split_shared_device(hass: HomeAssistant, entry: BridgeConfigEntry) -> None:
    """Part the bridge's device from the event types' device of earlier versions.

    Earlier versions gave the bridge's device MQTT discovery's identifier too,
    so that where HA shares devices between config entries one device held
    both. The event types' device keeps its id (device-trigger automations
    name it), so it keeps that identifier; the bridge's own entities move to a
    device of their own when their platforms set up.
    """
    registry = dr.async_get(hass)
    ours = (DOMAIN, entry.entry_id)
    shared = (MQTT_DOMAIN, device_identifier(entry.entry_id))
    device = _async_own_device(registry, ours, entry.entry_id)
    if device is None or shared not in device.identifiers:
        return
    if device_config_entries(device) == {entry.entry_id}:
        registry.async_update_device(device.id, new_identifiers={ours})
    else:
        registry.async_update_device(
            device.id,
            new_identifiers={shared},
            remove_config_entry_id=entry.entry_id,
        )
