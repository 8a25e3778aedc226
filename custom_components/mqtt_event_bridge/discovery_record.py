"""What an entry has offered and published by MQTT discovery, kept in a Store.

The event types offered (configured ones, and those first seen in a publish,
up to MAX_EVENT_TYPES), the configs published on each discovery topic, and the
prefix of the availability topic: so that removing the bridge, or a type, or
changing the prefix leaves nothing on the broker.
"""

import logging
from typing import Any, TypedDict

from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.storage import Store

from .const import CAMERA_EVENT_TYPE, DISCOVERY_STORAGE_VERSION, DOMAIN, MAX_EVENT_TYPES
from .ratelimit import LogLimiter
from .storage import async_load_store
from .topics import availability_topic, is_valid_name, prefix_error, topic_error

_LOGGER = logging.getLogger(__name__)
# Seconds a change waits before it is written, gathering those that follow.
SAVE_DELAY = 1


class StoredDiscovery(TypedDict):
    """What the discovery Store keeps for an entry."""

    event_types: list[str]
    # Discovery topic -> {component id: platform} published there.
    published: dict[str, dict[str, str]]
    prefix: str | None


def discovery_store(hass: HomeAssistant, entry_id: str) -> Store[StoredDiscovery]:
    """Where an entry's event types and published configs are remembered."""
    return Store(hass, DISCOVERY_STORAGE_VERSION, f"{DOMAIN}.{entry_id}.discovery")


class DiscoveryRecord:
    """One entry's offered event types and published configs, kept in a Store."""

    def __init__(
        self, hass: HomeAssistant, entry_id: str, configured_types: list[str]
    ) -> None:
        """Prepare; `async_load` reads what an earlier start kept."""
        self._store = discovery_store(hass, entry_id)
        self._configured = configured_types
        self._stored = StoredDiscovery(event_types=[], published={}, prefix=None)
        # Every type offered, for a cheap check on each publish.
        self._known: set[str] = set()
        self._limit_log = LogLimiter(_LOGGER)

    async def async_load(self) -> None:
        """Read what was offered and published before."""
        self._stored = _checked_stored(await async_load_store(self._store))
        # Camera events have their own entity and trigger, always offered.
        self._known = {
            CAMERA_EVENT_TYPE,
            *self._configured,
            *self._stored["event_types"],
        }

    async def async_save(self) -> None:
        """Write it now: the next start, or a removal, must know it."""
        await self._store.async_save(self._stored)

    @callback
    def async_save_later(self) -> None:
        """Write it soon, with the changes that follow."""
        self._store.async_delay_save(lambda: self._stored, SAVE_DELAY)

    @property
    def event_types(self) -> list[str]:
        """Configured types first, then those first seen in a publish."""
        seen = [t for t in self._stored["event_types"] if t not in self._configured]
        return [*self._configured, *seen]

    @property
    def published(self) -> dict[str, dict[str, str]]:
        """Discovery topic -> {component id: platform} published there (to update)."""
        return self._stored["published"]

    @property
    def prefix(self) -> str | None:
        """The topic prefix the availability was last published under."""
        return self._stored["prefix"]

    @prefix.setter
    def prefix(self, prefix: str) -> None:
        self._stored["prefix"] = prefix

    @callback
    def async_add(self, event_type: str) -> bool:
        """Remember a type seen in a publish; True when it is new and now offered."""
        if event_type in self._known:
            return False
        if len(self._stored["event_types"]) >= MAX_EVENT_TYPES:
            self._limit_log.warning(
                "Not adding event type %s to discovery: %d types are the limit",
                event_type,
                MAX_EVENT_TYPES,
            )
            return False
        self._known.add(event_type)
        self._stored["event_types"].append(event_type)
        self.async_save_later()
        return True


def _checked_stored(raw: Any) -> StoredDiscovery:
    """Keep what is sound of a (possibly hand-edited) Store; drop the rest."""
    stored = StoredDiscovery(event_types=[], published={}, prefix=None)
    if raw is None:
        return stored
    if not isinstance(raw, dict):
        raw = {}
    types = raw.get("event_types")
    if isinstance(types, list):
        valid = [t for t in types if isinstance(t, str) and is_valid_name(t)]
        stored["event_types"] = list(dict.fromkeys(valid))[:MAX_EVENT_TYPES]
    published = raw.get("published")
    if isinstance(published, dict):
        stored["published"] = {
            topic: components
            for topic, components in published.items()
            if isinstance(topic, str)
            and topic_error(topic) is None
            and isinstance(components, dict)
            and all(
                isinstance(key, str) and isinstance(value, str)
                for key, value in components.items()
            )
        }
    prefix = raw.get("prefix")
    if isinstance(prefix, str) and prefix_error(prefix) is None:
        stored["prefix"] = prefix
    if stored != raw:
        _LOGGER.warning(
            "Parts of the saved discovery state were not valid and are ignored"
        )
    return stored


async def async_clear_discovery(hass: HomeAssistant, entry_id: str) -> None:
    """Clear every config and the availability a removed entry left retained."""
    store = discovery_store(hass, entry_id)
    stored = _checked_stored(await async_load_store(store))
    if stored == StoredDiscovery(event_types=[], published={}, prefix=None):
        await store.async_remove()
        return
    topics = list(stored["published"])
    if stored["prefix"] is not None:
        topics.append(availability_topic(stored["prefix"]))
    for topic in topics:
        try:
            await mqtt.async_publish(hass, topic, "", 1, retain=True)
        except HomeAssistantError as err:
            _LOGGER.warning("Could not clear %s from the broker: %s", topic, err)
    await store.async_remove()
