"""MQTT Event Bridge: publish AI and camera events to MQTT through HA's own client."""

from homeassistant.components import mqtt
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType

from .actions import async_setup_actions
from .camera_event import CameraEvents
from .const import DOMAIN
from .discovery import DiscoveryPublisher
from .discovery_record import async_clear_discovery
from .entity import async_split_shared_device
from .first_event import FirstEventGate
from .forwarding import EventForwarder, ForwardSettings, forward_type
from .models import BridgeConfigEntry, BridgeRuntimeData, BridgeSettings
from .outbox import outbox_store
from .publisher import EventPublisher
from .responses import ResponseListener
from .thumbnails import ThumbnailView
from .waits import ResponseWaits, RoundTrips

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)
PLATFORMS = [Platform.BINARY_SENSOR, Platform.EVENT, Platform.SENSOR]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions and the thumbnail view once, whatever entries exist."""
    async_setup_actions(hass)
    hass.http.register_view(ThumbnailView())
    return True


async def async_setup_entry(hass: HomeAssistant, entry: BridgeConfigEntry) -> bool:
    """Set up one bridge once HA's MQTT client is there."""
    if not await mqtt.async_wait_for_mqtt_client(hass):
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN, translation_key="mqtt_not_ready"
        )
    entry.runtime_data = runtime = _runtime_data(hass, entry)
    async_split_shared_device(hass, entry)
    entry.async_on_unload(runtime.async_stop)
    await runtime.async_start(hass)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    entry.async_on_unload(entry.add_update_listener(_async_update_listener))
    return True


def _runtime_data(hass: HomeAssistant, entry: BridgeConfigEntry) -> BridgeRuntimeData:
    """Build a bridge's parts from its settings; nothing runs yet."""
    settings = BridgeSettings.from_entry(entry)
    waits = ResponseWaits(hass)
    publisher = EventPublisher(
        hass, entry, outbox_size=settings.outbox_size, waits=waits
    )
    discovery = DiscoveryPublisher(
        hass=hass,
        entry=entry,
        prefix=settings.topic_prefix,
        enabled=settings.discovery,
        configured_types=[
            *settings.event_types,
            # Offered from the start, only if the user asked for them.
            *(
                forward_type(event_type)
                for event_type in settings.forward_event_types
                if settings.forward_discovery
            ),
        ],
    )
    round_trips = RoundTrips()
    gate = FirstEventGate(
        hass,
        prefix=settings.topic_prefix,
        discovery=discovery,
        publisher=publisher,
        round_trips=round_trips,
    )
    return BridgeRuntimeData(
        settings=settings,
        publisher=publisher,
        responses=ResponseListener(
            hass,
            prefix=settings.topic_prefix,
            qos=settings.qos,
            default_ttl=settings.ttl,
            round_trips=round_trips,
            waits=waits,
        ),
        discovery=discovery,
        gate=gate,
        cameras=CameraEvents(
            hass,
            entry_id=entry.entry_id,
            gate=gate,
            base_url=settings.base_url,
            thumbnail_lifetime=settings.thumbnail_lifetime,
        ),
        waits=waits,
        round_trips=round_trips,
        forwarder=EventForwarder(
            hass,
            ForwardSettings(
                prefix=settings.topic_prefix,
                event_types=settings.forward_event_types,
                entities=settings.forward_entities,
                rate=settings.forward_rate,
                discovery=settings.forward_discovery,
                qos=settings.qos,
                ttl=settings.ttl,
            ),
            gate=gate,
            updates=publisher.updates,
        ),
    )


async def async_unload_entry(hass: HomeAssistant, entry: BridgeConfigEntry) -> bool:
    """Let the events in flight end, then unload the platforms.

    The entities save their counters as they go (see sensor.py): counted
    first, every send is in them. The outbox is saved on unload's last step.
    """
    await entry.runtime_data.async_quiesce()
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: BridgeConfigEntry) -> None:
    """Clear what a removed bridge left on the broker, and forget its outbox."""
    await async_clear_discovery(hass, entry.entry_id)
    await outbox_store(hass, entry.entry_id).async_remove()


async def _async_update_listener(hass: HomeAssistant, entry: BridgeConfigEntry) -> None:
    """Apply changed options or a new prefix by reloading."""
    await hass.config_entries.async_reload(entry.entry_id)
