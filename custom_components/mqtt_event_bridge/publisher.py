"""Where accepted events are handed to HA's MQTT client.

An action returns as soon as its event is accepted; the broker round trip
happens in a task owned by the config entry. HA's client passes each message
to paho before its first await, so starting the tasks eagerly keeps the order
on the wire while several events wait for their acknowledgement at once.
"""

from collections import OrderedDict
from dataclasses import dataclass
import logging
import time

from homeassistant.components import mqtt
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import dt as dt_util

from .const import MAX_TRACKED_EVENTS
from .envelope import OutgoingEvent

_LOGGER = logging.getLogger(__name__)


@dataclass(kw_only=True, slots=True)
class PublishCounters:
    """How accepted events ended."""

    published: int = 0
    failed: int = 0
    expired: int = 0


class EventPublisher:
    """Sends one entry's events to the broker, in the order they were accepted."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        """Bind the publisher to the entry that owns its tasks."""
        self._hass = hass
        self._entry = entry
        self._failing = False
        # When each recent event was accepted, to measure publish -> response.
        self._accepted_at: OrderedDict[str, float] = OrderedDict()
        self.counters = PublishCounters()

    @callback
    def async_submit(self, event: OutgoingEvent) -> None:
        """Accept an event; it goes to the broker without the caller waiting."""
        self._accepted_at[event.event_id] = time.monotonic()
        if len(self._accepted_at) > MAX_TRACKED_EVENTS:
            self._accepted_at.popitem(last=False)
        self._entry.async_create_task(
            self._hass, self._async_send(event), f"publish {event.topic}"
        )

    @callback
    def async_accepted_at(self, event_id: str) -> float | None:
        """Monotonic time a recent event of ours was accepted, if it is one."""
        return self._accepted_at.get(event_id)

    async def _async_send(self, event: OutgoingEvent) -> None:
        if dt_util.utcnow() >= event.expires_at:
            # A stale event must never trigger an automation.
            self.counters.expired += 1
            _LOGGER.debug("Dropped expired event %s", event.event_id)
            return
        try:
            await mqtt.async_publish(
                self._hass, event.topic, event.payload, event.qos, retain=False
            )
        except HomeAssistantError as err:
            self.counters.failed += 1
            # One warning per outage, not one per event.
            if not self._failing:
                self._failing = True
                _LOGGER.warning(
                    "Publishing event %s to %s failed: %s",
                    event.event_id,
                    event.topic,
                    err,
                )
            return
        self.counters.published += 1
        if self._failing:
            self._failing = False
            _LOGGER.info("Publishing to the broker works again")
