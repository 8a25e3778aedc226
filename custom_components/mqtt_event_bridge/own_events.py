"""What the bridge itself causes on HA's bus, which forwarding must never send.

- state changes of its own entities, and of the event entities its discovery
  made (each echo of a published event changes one);
- `call_service` events of its own actions;
- anything whose context is, or descends from, the context of such a state
  change, however many automations or scripts lie between: an automation
  triggered by a bridge entity, the events it fires, the automations those
  trigger, the service calls they make and the state changes those cause.

Each automation or script that starts takes a context whose parent is what
triggered it; when that parent is known as caused, its own context is
remembered too. So a chain is followed one step at a time, at a bounded cost
per event (a set look-up), within the newest MAX_CAUSED_CONTEXTS contexts.
"""

from collections import OrderedDict
from typing import Any

from homeassistant.components.mqtt import DOMAIN as MQTT_DOMAIN
from homeassistant.const import EVENT_CALL_SERVICE, EVENT_STATE_CHANGED
from homeassistant.core import (
    CALLBACK_TYPE,
    Event,
    EventStateChangedData,
    HomeAssistant,
    callback,
)
from homeassistant.helpers import entity_registry as er

from .const import DOMAIN, MAX_CAUSED_CONTEXTS
from .discovery_payloads import DISCOVERY_ID_PREFIX

# HA's events that start a step of a chain, each with a context of its own
# whose parent is what triggered it.
_CHAIN_STEPS = ("automation_triggered", "script_started")


def _is_bridge_entity(entry: er.RegistryEntry) -> bool:
    """Tell the entities of any bridge: its own, and those its discovery made."""
    return entry.platform == DOMAIN or (
        entry.platform == MQTT_DOMAIN
        and entry.unique_id.startswith(DISCOVERY_ID_PREFIX)
    )


class OwnEvents:
    """Tells the events the bridge caused from all others."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Know nothing before `async_start`."""
        self._hass = hass
        # Contexts of the bridge entities' state changes, newest kept.
        self._caused: OrderedDict[str, None] = OrderedDict()
        self._own_entities: set[str] = set()

    @callback
    def async_start(self) -> CALLBACK_TYPE:
        """Follow the bridge's entities and their changes; return how to stop.

        Call it before listening to the events to judge: the bus calls the
        listeners of a type in the order they were added, so a bridge
        entity's own change is known before it is judged.
        """
        self._async_know_own_entities()
        stops = [
            self._hass.bus.async_listen(
                er.EVENT_ENTITY_REGISTRY_UPDATED, self._async_registry_updated
            ),
            # Inside the bus's call, before anything the change causes.
            self._hass.bus.async_listen(
                EVENT_STATE_CHANGED,
                self._async_own_state_changed,
                event_filter=self._async_is_own_state_change,
            ),
            *(
                self._hass.bus.async_listen(event_type, self._async_follow_chain)
                for event_type in _CHAIN_STEPS
            ),
        ]

        @callback
        def stop() -> None:
            for unsubscribe in stops:
                unsubscribe()

        return stop

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
        self._async_remember(event.context.id)

    @callback
    def _async_follow_chain(self, event: Event[Any]) -> None:
        """Remember the context of an automation or script the bridge started."""
        if self._async_descends(event):
            self._async_remember(event.context.id)

    @callback
    def _async_remember(self, context_id: str) -> None:
        self._caused[context_id] = None
        self._caused.move_to_end(context_id)
        if len(self._caused) > MAX_CAUSED_CONTEXTS:
            self._caused.popitem(last=False)

    @callback
    def _async_descends(self, event: Event[Any]) -> bool:
        context = event.context
        return context.id in self._caused or (
            context.parent_id is not None and context.parent_id in self._caused
        )

    @callback
    def async_is_own(self, event: Event[Any]) -> bool:
        """Tell whether the bridge caused an event (see the module's notes)."""
        # A bridge entity's own state change is in `_caused` already: its
        # listener was added before the forwarded types' listeners, and the
        # bus calls the listeners of a type in the order they were added.
        if self._async_descends(event):
            # What this event causes in turn is the bridge's too.
            self._async_remember(event.context.id)
            return True
        if event.event_type == EVENT_CALL_SERVICE:
            return bool(event.data.get("domain") == DOMAIN)
        return False
