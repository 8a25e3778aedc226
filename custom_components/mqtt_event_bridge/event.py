"""An event entity that fires on accepted responses, at a bounded rate."""

from homeassistant.components.event import EventEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import BridgeEntity
from .models import BridgeConfigEntry
from .responses import Response

PARALLEL_UPDATES = 0

EVENT_SUCCESS = "success"
EVENT_FAILURE = "failure"
# Attributes HA or its frontend give a meaning of their own, whatever the
# entity: a response may not set them. The frontend's list of such names
# (STATE_ATTRIBUTES), the event entity's own, and a location, which would put
# the entity on the map (and in distance and closest() in templates).
_RESERVED_ATTRIBUTES = frozenset(
    {
        "assumed_state",
        "attribution",
        "custom_ui_more_info",
        "custom_ui_state_card",
        "device_class",
        "editable",
        "emulated_hue",
        "emulated_hue_name",
        "entity_id",
        "entity_picture",
        "event_type",
        "event_types",
        "friendly_name",
        "gps_accuracy",
        "haaska_hidden",
        "haaska_name",
        "icon",
        "initial_state",
        "last_reset",
        "latitude",
        "longitude",
        "restored",
        "state_class",
        "supported_features",
        "unit_of_measurement",
    }
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: BridgeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the response event entity of a bridge."""
    async_add_entities([ResponseEvent(entry)])


class ResponseEvent(BridgeEntity, EventEntity):
    """Fires `success` or `failure` with the response's keys as attributes."""

    _attr_translation_key = "response"

    def __init__(self, entry: BridgeConfigEntry) -> None:
        """Bind to the entry's listener."""
        super().__init__(entry, "response")
        self._attr_event_types = [EVENT_SUCCESS, EVENT_FAILURE]
        self._listener = entry.runtime_data.responses

    async def async_added_to_hass(self) -> None:
        """Follow the listener."""
        await super().async_added_to_hass()
        self.async_on_remove(
            self._listener.async_add_response_listener(self._async_response)
        )

    @callback
    def _async_response(self, response: Response) -> None:
        attributes = {
            key: value
            for key, value in response.payload.items()
            if key not in _RESERVED_ATTRIBUTES
        }
        attributes["topic"] = response.topic
        self._trigger_event(
            EVENT_SUCCESS if response.succeeded else EVENT_FAILURE, attributes
        )
        self.async_write_ha_state()
