"""How an entry's accepted events get from its outbox to HA's MQTT client.

An action returns once its event is in the entry's outbox (outbox.py). While
MQTT is connected the outbox drains at once, oldest first, into the events in
flight (in_flight.py), as far as they have room. While MQTT is disconnected,
events wait; they leave the outbox expired, overflowed, or to a sender
(sender.py), which counts how each ended.
"""

import asyncio
from collections.abc import Callable
import contextlib
from datetime import datetime, timedelta
import logging
import time

from homeassistant.components import mqtt
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util import dt as dt_util

from .const import DRAIN_TIMEOUT, EXPIRY_CHECK_INTERVAL
from .envelope import OutgoingEvent
from .in_flight import InFlight
from .outbox import Outbox, Waiting
from .ratelimit import Updates
from .sender import PublishCounters, Sender
from .waits import Outcome, ResponseWaits

_LOGGER = logging.getLogger(__name__)


class EventPublisher:
    """Hands one entry's outbox to HA's MQTT client and counts how each event ended."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        *,
        outbox_size: int,
        waits: ResponseWaits,
    ) -> None:
        """Prepare; `async_start` restores saved events and starts sending.

        `waits` learns when an event reaches the broker or is lost, for the
        callers waiting for its response.
        """
        self._hass = hass
        self._waits = waits
        self._entry = entry
        self._outbox = Outbox(hass, entry.entry_id, max_count=outbox_size)
        self._sender = Sender(hass, waits)
        self._in_flight = InFlight(hass, entry, self._sender, self._async_sent)
        self._connected = False
        self._running = False
        # Unloading: nothing more is taken from the outbox.
        self._draining = False
        self._updates = Updates(hass)
        self._unsubscribe: list[CALLBACK_TYPE] = []

    @property
    def counters(self) -> PublishCounters:
        """How the accepted events ended."""
        return self._sender.counters

    @property
    def last_latency_ms(self) -> float | None:
        """Milliseconds from accepting the last QoS 1 or 2 event to its ack."""
        return self._sender.last_latency_ms

    @property
    def connected(self) -> bool:
        """Whether HA's MQTT client is connected to the broker."""
        return self._connected

    @property
    def outbox_size(self) -> int:
        """Events waiting for the broker (in flight not included)."""
        return len(self._outbox)

    @property
    def in_flight(self) -> int:
        """Events handed to the client and not yet acknowledged."""
        return len(self._in_flight)

    @property
    def updates(self) -> Updates:
        """How the entities hear of changes; the forwarder's counters use it too."""
        return self._updates

    @property
    def outbox_bytes(self) -> int:
        """Payload bytes of the events waiting for the broker."""
        return self._outbox.bytes

    async def async_start(self) -> None:
        """Restore saved events, follow the connection, start sending."""
        restored = await self._outbox.async_load()
        self.counters.expired += restored.expired
        self.counters.overflowed += restored.overflowed
        # Events that cannot be sent end here, counted.
        self.counters.failed += restored.invalid
        self._running = True
        self._connected = mqtt.is_connected(self._hass)
        self._unsubscribe = [
            mqtt.async_subscribe_connection_status(
                self._hass, self._async_connection_changed
            ),
            async_track_time_interval(
                self._hass,
                self._async_drop_expired,
                timedelta(seconds=EXPIRY_CHECK_INTERVAL),
            ),
        ]
        self._async_dispatch()
        self._async_changed()

    async def async_drain(self) -> None:
        """Take nothing more from the outbox; wait for the events in flight to end.

        HA's client gives up on an acknowledgement after 10 s, so they end
        within DRAIN_TIMEOUT; what still waits in the outbox is saved by
        `async_stop`.
        """
        self._draining = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DRAIN_TIMEOUT):
                await self._in_flight.async_wait_empty()

    async def async_stop(self) -> None:
        """Stop sending and save what still waits, for the next start."""
        self._running = False
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        self._updates.async_shutdown()
        await self._outbox.async_save()

    @callback
    def async_add_listener(self, update: CALLBACK_TYPE) -> Callable[[], None]:
        """Call `update` (at most once a second) when counters or state change."""
        return self._updates.async_add(update)

    @callback
    def async_submit(self, event: OutgoingEvent) -> None:
        """Accept an event; it goes to the broker without the caller waiting."""
        for dropped in self._outbox.async_append(Waiting(event, time.monotonic())):
            self.counters.overflowed += 1
            self._waits.async_end(dropped.event_id, Outcome.DROPPED)
        self._async_dispatch()
        self._async_changed()

    @callback
    def _async_connection_changed(self, connected: bool) -> None:  # noqa: FBT001
        self._connected = connected
        if connected:
            _LOGGER.debug("MQTT connected: %d events to send", len(self._outbox))
            self._async_dispatch()
        self._async_changed()

    @callback
    def _async_dispatch(self) -> None:
        """Take waiting events, oldest first, while the broker can take them."""
        now: datetime | None = None
        while (
            self._running
            and not self._draining
            and self._connected
            and self._outbox
            and self._in_flight.has_room
        ):
            waiting = self._outbox.async_popleft()
            now = now or dt_util.utcnow()
            if waiting.event.expires_at <= now:
                self.counters.expired += 1
                self._waits.async_end(waiting.event.event_id, Outcome.EXPIRED)
                continue
            self._in_flight.async_take(waiting)

    @callback
    def _async_sent(self) -> None:
        """Take the next events: one in flight has ended."""
        self._async_dispatch()
        self._async_changed()

    @callback
    def _async_drop_expired(self, _now: datetime) -> None:
        """Count events that expired while waiting, instead of keeping them."""
        if expired := self._outbox.async_drop_expired(dt_util.utcnow()):
            self.counters.expired += len(expired)
            for event in expired:
                self._waits.async_end(event.event_id, Outcome.EXPIRED)
            self._async_changed()

    @callback
    def _async_changed(self) -> None:
        if self._running:
            self._outbox.async_changed()
        self._updates.async_changed()
