"""When MQTT discovery configs and the bridge's availability are published.

Each known event type becomes an MQTT `event` entity and a device trigger on
the bridge's device, for HA's MQTT integration (this HA, or another one on the
same broker) to create. Configs are retained and published again whenever
MQTT connects or HA's birth message comes; what was published is recorded
(discovery_record.py), so that removing the bridge, or a type, leaves nothing
on the broker.
"""

from collections.abc import Coroutine
from dataclasses import dataclass, field
import logging
from typing import Any

from homeassistant.components import mqtt
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.debounce import Debouncer
from homeassistant.helpers.json import json_dumps
from homeassistant.loader import async_get_integration

from .const import DISCOVERY_REPUBLISH_COOLDOWN, DOMAIN
from .discovery_payloads import Origin, components, config_payload, config_topic
from .discovery_record import DiscoveryRecord
from .mqtt_client import OFFLINE, ONLINE, discovery_prefix, ha_status
from .topics import availability_topic

_LOGGER = logging.getLogger(__name__)


@dataclass(kw_only=True)
class DiscoveryPublisher:
    """Keeps one entry's discovery configs and availability on the broker."""

    hass: HomeAssistant
    entry: ConfigEntry
    prefix: str
    enabled: bool
    configured_types: list[str]
    _record: DiscoveryRecord = field(init=False)
    _version: str = field(init=False, default="")
    _unsubscribe: list[CALLBACK_TYPE] = field(init=False, default_factory=list)
    # HA's birth message, which anyone can publish, asks at most once a cooldown.
    _birth: Debouncer[Coroutine[Any, Any, None]] = field(init=False)
    # One publish of everything at a time; a request meanwhile makes one more.
    _publishing: bool = field(init=False, default=False)
    _publish_again: bool = field(init=False, default=False)
    # HA stops: a publish of everything under way ends at its next step.
    _stopping: bool = field(init=False, default=False)

    async def async_start(self) -> None:
        """Restore what was published, then publish whenever MQTT (re)connects."""
        self._record = DiscoveryRecord(
            self.hass, self.entry.entry_id, self.configured_types
        )
        await self._record.async_load()
        self._birth = Debouncer(
            self.hass,
            _LOGGER,
            cooldown=DISCOVERY_REPUBLISH_COOLDOWN,
            immediate=True,
            function=self._async_publish_everything,
        )
        self._version = str((await async_get_integration(self.hass, DOMAIN)).version)
        self._unsubscribe = [
            mqtt.async_subscribe_connection_status(
                self.hass, self._async_connection_changed
            ),
            await mqtt.async_subscribe(
                self.hass, ha_status(self.hass).topic, self._async_birth
            ),
            # Not a once-listener: unsubscribing after HA's stop is then no error.
            self.hass.bus.async_listen(EVENT_HOMEASSISTANT_STOP, self._async_ha_stop),
        ]
        if mqtt.is_connected(self.hass):
            await self._async_publish_everything()

    async def async_stop(self) -> None:
        """Say offline; configs stay, so entities survive a reload or restart."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        self._birth.async_shutdown()
        self._async_say_offline()
        await self._record.async_save()

    @property
    def event_types(self) -> list[str]:
        """Configured types first, then those first seen in a publish."""
        return self._record.event_types

    @property
    def published_topics(self) -> list[str]:
        """Discovery topics that hold a config of this bridge."""
        return list(self._record.published)

    @callback
    def async_offer(self, event_type: str) -> bool:
        """Remember a type seen in a publish, and offer it from now on.

        True when the type is new and its config goes out now: its first
        events should wait for HA to listen (see first_event.py).
        """
        if not self._record.async_add(event_type) or not mqtt.is_connected(self.hass):
            return False
        self._async_schedule_publish_all()
        return self.enabled

    @callback
    def _async_connection_changed(self, connected: bool) -> None:  # noqa: FBT001
        if connected:
            self._async_schedule_publish_all()

    @callback
    def _async_birth(self, msg: mqtt.ReceiveMessage) -> None:
        if msg.payload == ha_status(self.hass).online:
            self._birth.async_schedule_call()

    @callback
    def _async_schedule_publish_all(self) -> None:
        """Publish everything in a task of the entry, awaited on unload."""
        self.entry.async_create_task(
            self.hass, self._async_publish_everything(), "publish discovery"
        )

    async def _async_publish_everything(self) -> None:
        """Publish everything once, or once more after a publish under way."""
        if self._publishing:
            self._publish_again = True
            return
        self._publishing = True
        try:
            self._publish_again = True
            while self._publish_again and not self._stopping:
                self._publish_again = False
                await self._async_publish_all()
        finally:
            self._publishing = False

    @callback
    def _async_ha_stop(self, _event: Event) -> None:
        self._async_say_offline()
        # A publish of everything under way ends here, before HA's last writes.
        self._stopping = True

    @callback
    def _async_say_offline(self) -> None:
        """Hand "offline" to the client without waiting for the broker.

        HA's client passes it to paho at once, and paho sends a QoS 1 message
        even after a reconnect; waiting for the acknowledgement would hold up an
        unload, or HA's shutdown, by up to 10 s when the broker does not answer.
        """
        self.hass.async_create_background_task(
            self._async_publish(availability_topic(self.prefix), OFFLINE),
            "mqtt_event_bridge offline",
            eager_start=True,
        )

    async def _async_publish_all(self) -> None:
        """Publish availability and every config; clear what is no longer wanted."""
        old_prefix = self._record.prefix
        if old_prefix is not None and old_prefix != self.prefix:
            # The prefix changed: the old availability topic must not linger.
            await self._async_publish(availability_topic(old_prefix), "")
        self._record.prefix = self.prefix
        await self._async_publish(availability_topic(self.prefix), ONLINE)
        wanted: dict[str, dict[str, dict[str, Any]]] = {}
        if self.enabled:
            topic = config_topic(discovery_prefix(self.hass), self.entry.entry_id)
            wanted[topic] = components(
                self.prefix, self.entry.entry_id, self.event_types
            )
        published = self._record.published
        for topic in [t for t in published if t not in wanted]:
            if self._stopping:
                return
            await self._async_publish(topic, "")
            del published[topic]
        origin = Origin(
            entry_id=self.entry.entry_id,
            prefix=self.prefix,
            version=self._version,
            ha_status=ha_status(self.hass),
        )
        for topic, configs in wanted.items():
            if self._stopping:
                return
            payload = config_payload(origin, configs, published.get(topic, {}))
            await self._async_publish(topic, json_dumps(payload))
            published[topic] = {
                object_id: config["platform"] for object_id, config in configs.items()
            }
        self._record.async_save_later()

    async def _async_publish(self, topic: str, payload: str) -> None:
        """Publish retained; paho keeps a QoS 1 message until it can send it."""
        try:
            await mqtt.async_publish(self.hass, topic, payload, 1, retain=True)
        except HomeAssistantError as err:
            _LOGGER.debug("Publishing %s waits for the broker: %s", topic, err)
