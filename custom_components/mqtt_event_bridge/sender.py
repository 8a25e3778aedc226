"""Where one event is handed to HA's MQTT client, and its end is counted.

Each event ends in exactly one of the counters: published, unacknowledged
(HA's client gave up waiting for the broker), failed (refused); or, before
it gets here, expired or overflowed in the outbox. Nothing the client has
taken is ever handed over again: paho retransmits QoS 1 and 2 messages by
itself after a reconnect.
"""

from dataclasses import dataclass
import logging
import time

from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError

from .envelope import OutgoingEvent
from .mqtt_client import ACK_TIMEOUT, async_publish_event, client_kept_message
from .outbox import Waiting
from .ratelimit import LogLimiter
from .waits import Outcome, ResponseWaits

_LOGGER = logging.getLogger(__name__)


@dataclass(kw_only=True, slots=True)
class PublishCounters:
    """How accepted events ended. Each event ends in exactly one of them."""

    published: int = 0
    expired: int = 0
    overflowed: int = 0
    failed: int = 0
    # Handed to HA's client, whose wait for the broker's acknowledgement
    # ran out: the broker may have it, or not, and may deliver it late.
    unacknowledged: int = 0


class Sender:
    """Hands events to HA's client, one call each, and counts how each ended."""

    def __init__(self, hass: HomeAssistant, waits: ResponseWaits) -> None:
        """Count nothing yet; `waits` hears when an event is sent or lost."""
        self._hass = hass
        self._waits = waits
        self._failing = False
        self._unacknowledged_log = LogLimiter(_LOGGER)
        self.counters = PublishCounters()
        self.last_latency_ms: float | None = None

    async def async_send(self, waiting: Waiting) -> None:
        """Hand one event to HA's client and count how it ended."""
        event = waiting.event
        try:
            acknowledged = await async_publish_event(
                self._hass, event.topic, event.payload, event.qos, event.expires_at
            )
        except HomeAssistantError as err:
            if client_kept_message(err, event.qos):
                self.counters.published += 1
                self._waits.async_sent(event.event_id)
            else:
                self._async_failed(event, err)
        # Whatever else the client raises, the event ends counted.
        except Exception as err:  # noqa: BLE001
            self._async_failed(event, err)
        else:
            self._waits.async_sent(event.event_id)
            if not acknowledged:
                self.counters.unacknowledged += 1
                self._unacknowledged_log.warning(
                    "Event %s to %s: the broker did not acknowledge it within %.0f s;"
                    " it is counted as unacknowledged and may arrive late",
                    event.event_id,
                    event.topic,
                    ACK_TIMEOUT,
                )
                return
            self.counters.published += 1
            if self._failing:
                self._failing = False
                _LOGGER.info("Publishing to the broker works again")
            if event.qos > 0 and waiting.accepted_at is not None:
                self.last_latency_ms = (time.monotonic() - waiting.accepted_at) * 1000

    @callback
    def _async_failed(self, event: OutgoingEvent, err: Exception) -> None:
        self.counters.failed += 1
        self._waits.async_end(event.event_id, Outcome.DROPPED)
        # One warning per outage, not one per event.
        if not self._failing:
            self._failing = True
            _LOGGER.warning(
                "Publishing event %s to %s failed: %s", event.event_id, event.topic, err
            )
