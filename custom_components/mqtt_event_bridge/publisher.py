"""Where accepted events wait for, and are handed to, HA's MQTT client.

An action returns once its event is in the entry's outbox. While MQTT is
connected the outbox drains at once: up to MAX_IN_FLIGHT events are taken, in
order, and handed to senders, tasks of the entry that each send one and wait
for its acknowledgement, then send the next taken one, until none is left. So
several events wait for their acknowledgement at the same time, and a burst
does not cost a task per event. HA's client passes a message to paho before
its first await, and a sender sends its event in one step, so the order on the
wire is the order of acceptance.

A forwarded HA event may skip the outbox: while MQTT is connected and every
event accepted earlier is with HA's client already, a sender starts with it
inside the bus listener's call (an eager task), as mqtt_eventstream's publish
does. An action's caller does not wait for that (its own time matters more
than a few microseconds on the way to the broker).

While MQTT is disconnected, events wait; they leave the outbox as published,
expired or overflowed, and one the client refused as failed. Nothing an HA
client has taken is ever published again: paho retransmits QoS 1 and 2
messages by itself after a reconnect.
"""

from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
import logging
import threading
import time
from typing import Any, NamedTuple, TypedDict

from homeassistant.components import mqtt
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util
from homeassistant.util.async_ import run_callback_threadsafe

from .const import (
    DOMAIN,
    EXPIRY_CHECK_INTERVAL,
    MAX_IN_FLIGHT,
    MAX_OUTBOX_BYTES,
    MAX_PAYLOAD_BYTES,
    MAX_TRACKED_EVENTS,
    OUTBOX_STORAGE_VERSION,
    PUBLISHER_UPDATE_INTERVAL,
    QOS_LEVELS,
)
from .envelope import OutgoingEvent
from .mqtt_client import async_publish_event, client_kept_message
from .ratelimit import Updates
from .storage import async_load_store
from .topics import topic_error
from .waits import Outcome, ResponseWaits

_LOGGER = logging.getLogger(__name__)


class StoredEvent(TypedDict):
    """An outbox event as saved across restarts."""

    event_id: str
    topic: str
    payload: str
    qos: int
    expires_at: str


@dataclass(kw_only=True, slots=True)
class PublishCounters:
    """How accepted events ended. Each event ends in exactly one of them."""

    published: int = 0
    expired: int = 0
    overflowed: int = 0
    failed: int = 0


class _Waiting(NamedTuple):
    """An event in the outbox; a named tuple, built on the path of every event."""

    event: OutgoingEvent
    # Monotonic time of acceptance; None for events restored after a restart.
    accepted_at: float | None


def outbox_store(hass: HomeAssistant, entry_id: str) -> Store[list[StoredEvent]]:
    """Where an entry's outbox is kept while HA is stopped."""
    return Store(hass, OUTBOX_STORAGE_VERSION, f"{DOMAIN}.{entry_id}.outbox")


def _to_stored(waiting: Iterable[_Waiting]) -> list[StoredEvent]:
    """Give the saved form of waiting events (in a worker thread, on a snapshot)."""
    return [
        StoredEvent(
            event_id=w.event.event_id,
            topic=w.event.topic,
            payload=w.event.payload.decode(),
            qos=w.event.qos,
            expires_at=w.event.expires_at.isoformat(),
        )
        for w in waiting
    ]


def _from_stored(item: Any) -> OutgoingEvent | None:
    """Rebuild a saved event; None when the saved form is not sound."""
    if not isinstance(item, dict):
        return None
    event_id, topic = item.get("event_id"), item.get("topic")
    payload, qos = item.get("payload"), item.get("qos")
    expires_at = item.get("expires_at")
    if not (
        isinstance(event_id, str)
        and isinstance(topic, str)
        and topic_error(topic) is None
        and isinstance(payload, str)
        and type(qos) is int
        and qos in QOS_LEVELS
        and isinstance(expires_at, str)
    ):
        return None
    try:
        when = dt_util.parse_datetime(expires_at)
    except (ValueError, OverflowError):
        return None
    if when is None or when.tzinfo is None:
        return None
    encoded = payload.encode()
    if len(encoded) > MAX_PAYLOAD_BYTES:
        return None
    return OutgoingEvent(
        event_id=event_id, topic=topic, payload=encoded, qos=qos, expires_at=when
    )


@dataclass(kw_only=True, slots=True)
class _Restored:
    waiting: deque[_Waiting]
    size: int = 0
    expired: int = 0
    overflowed: int = 0
    invalid: int = 0


def _restore(saved: Any, *, now: datetime, max_count: int) -> _Restored:
    """Rebuild the saved outbox within today's bounds; runs in a worker thread.

    The oldest events give way when the outbox is now smaller (in events or
    bytes) than when it was saved, as they would have while waiting.
    """
    restored = _Restored(waiting=deque())
    if saved is None:
        return restored
    if not isinstance(saved, list):
        saved = [saved]  # one entry, which cannot be an event
    events: list[OutgoingEvent] = []
    for item in saved:
        if (event := _from_stored(item)) is None:
            restored.invalid += 1
        elif event.expires_at <= now:
            restored.expired += 1
        else:
            events.append(event)
    for event in reversed(events):
        if (
            len(restored.waiting) >= max_count
            or restored.size + len(event.payload) > MAX_OUTBOX_BYTES
        ):
            break
        restored.waiting.appendleft(_Waiting(event, None))
        restored.size += len(event.payload)
    restored.overflowed = len(events) - len(restored.waiting)
    return restored


class EventPublisher:
    """One entry's outbox and its way to the broker."""

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
        self._outbox_size = outbox_size
        self._outbox: deque[_Waiting] = deque()
        # Payload bytes waiting in the outbox.
        self._outbox_bytes = 0
        self._in_flight = 0
        # Events taken from the outbox for sending (in flight, counted), in
        # order; and senders waiting to start, each to send one of them.
        self._taken: deque[_Waiting] = deque()
        self._idle_senders = 0
        self._connected = False
        self._running = False
        self._failing = False
        # Whether the last snapshot saved held waiting events, and whether a
        # delayed save is scheduled and has not taken its snapshot yet.
        self._saved_waiting = True
        self._save_pending = False
        self._store = outbox_store(hass, entry.entry_id)
        self._updates = Updates(hass)
        self._unsubscribe: list[CALLBACK_TYPE] = []
        # When each recent event was accepted, to measure publish -> response.
        self._accepted_at: OrderedDict[str, float] = OrderedDict()
        self.counters = PublishCounters()
        self.last_latency_ms: float | None = None

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
        return self._in_flight

    @property
    def updates(self) -> Updates:
        """How the entities hear of changes; the forwarder's counters use it too."""
        return self._updates

    @property
    def outbox_bytes(self) -> int:
        """Payload bytes of the events waiting for the broker."""
        return self._outbox_bytes

    async def async_start(self) -> None:
        """Restore saved events, follow the connection, start sending."""
        # Checked and rebuilt in a worker thread: a large outbox takes a while.
        restored = await self._hass.async_add_executor_job(
            lambda saved: _restore(
                saved, now=dt_util.utcnow(), max_count=self._outbox_size
            ),
            await async_load_store(self._store),
        )
        self.counters.expired += restored.expired
        self.counters.overflowed += restored.overflowed
        # Events that cannot be sent end here, counted.
        self.counters.failed += restored.invalid
        if restored.invalid:
            _LOGGER.warning(
                "%d saved events (of %s) were not valid and are counted as failed",
                restored.invalid,
                self._store.key,
            )
        self._outbox = restored.waiting
        self._outbox_bytes = restored.size
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

    async def async_stop(self) -> None:
        """Stop sending and save what still waits, for the next start."""
        self._running = False
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        self._updates.async_shutdown()
        # A snapshot here; turned into its saved form in a worker thread.
        waiting = tuple(self._outbox)
        await self._store.async_save(
            await self._hass.async_add_executor_job(_to_stored, waiting)
        )

    @callback
    def async_add_listener(self, update: CALLBACK_TYPE) -> Callable[[], None]:
        """Call `update` (at most once a second) when counters or state change."""
        return self._updates.async_add(update)

    @callback
    def async_submit(self, event: OutgoingEvent, *, at_once: bool = False) -> None:
        """Accept an event; it goes to the broker without the caller waiting.

        With `at_once`, HA's client takes it within this call when nothing
        accepted earlier waits to be handed over.
        """
        accepted_at = time.monotonic()
        self._accepted_at[event.event_id] = accepted_at
        if len(self._accepted_at) > MAX_TRACKED_EVENTS:
            self._accepted_at.popitem(last=False)
        if (
            at_once
            and not self._outbox
            and not self._taken
            and self._connected
            and self._running
            and self._in_flight < MAX_IN_FLIGHT
            and event.expires_at > dt_util.utcnow()
        ):
            # Every event accepted earlier is with the client already: this
            # one goes to it now, in this call, still in order.
            self._in_flight += 1
            self._entry.async_create_task(
                self._hass,
                self._async_sender(_Waiting(event, accepted_at)),
                "publish events",
            )
            # Nothing the entities show has changed yet: they hear of the send.
            return
        size = len(event.payload)
        while self._outbox and (
            len(self._outbox) >= self._outbox_size
            or self._outbox_bytes + size > MAX_OUTBOX_BYTES
        ):
            # The newest events matter most: the oldest waiting one gives way.
            dropped = self._outbox.popleft().event
            self._outbox_bytes -= len(dropped.payload)
            self.counters.overflowed += 1
            self._waits.async_end(dropped.event_id, Outcome.DROPPED)
        self._outbox.append(_Waiting(event, accepted_at))
        self._outbox_bytes += size
        self._async_dispatch()
        if self._outbox:
            # The outbox sends oldest first, so this event waits too (MQTT is
            # down, or a burst is under way). The JSON encoder's bytes keep its
            # whole buffer (1 KiB or more, however short the payload); a copy
            # holds just the payload.
            self._outbox[-1] = _Waiting(
                event._replace(payload=bytes(memoryview(event.payload))), accepted_at
            )
        self._async_changed()

    @callback
    def async_accepted_at(self, event_id: str) -> float | None:
        """Monotonic time a recent event of ours was accepted, if it is one."""
        return self._accepted_at.get(event_id)

    @callback
    def _async_connection_changed(self, connected: bool) -> None:  # noqa: FBT001
        self._connected = connected
        if connected:
            _LOGGER.debug("MQTT connected: %d events to send", len(self._outbox))
            self._async_dispatch()
        self._async_changed()

    @callback
    def _async_dispatch(self) -> None:
        """Take waiting events, oldest first, while the broker can take them.

        A sender starts on the loop's next turn: the caller's action returns
        at once, and no send ends (and calls this again) while this runs. One
        is started only for a taken event no idle sender will send.
        """
        now: datetime | None = None
        while (
            self._running
            and self._connected
            and self._outbox
            and self._in_flight < MAX_IN_FLIGHT
        ):
            waiting = self._outbox.popleft()
            self._outbox_bytes -= len(waiting.event.payload)
            now = now or dt_util.utcnow()
            if waiting.event.expires_at <= now:
                self.counters.expired += 1
                self._waits.async_end(waiting.event.event_id, Outcome.EXPIRED)
                continue
            self._in_flight += 1
            self._taken.append(waiting)
        while self._idle_senders < len(self._taken):
            self._idle_senders += 1
            self._entry.async_create_task(
                self._hass, self._async_sender(), "publish events", eager_start=False
            )

    async def _async_sender(self, first: _Waiting | None = None) -> None:
        """Send `first` if given, then taken events, one at a time, until none is left.

        A sender given `first` (an event that never waited in the outbox)
        starts busy; one started by `_async_dispatch` starts idle.
        """
        waiting = first
        try:
            while waiting is not None or self._taken:
                if waiting is None:
                    waiting = self._taken.popleft()
                    self._idle_senders -= 1
                try:
                    await self._async_send(waiting)
                finally:
                    waiting = None
                    # Idle again: this sender sends the next event taken now.
                    self._idle_senders += 1
                    self._in_flight -= 1
                    self._async_dispatch()
                    self._async_changed()
        finally:
            self._idle_senders -= 1

    async def _async_send(self, waiting: _Waiting) -> None:
        event = waiting.event
        try:
            await async_publish_event(
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
            self.counters.published += 1
            self._waits.async_sent(event.event_id)
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

    @callback
    def _async_drop_expired(self, _now: datetime) -> None:
        """Count events that expired while waiting, instead of keeping them."""
        if not self._outbox:
            return
        now = dt_util.utcnow()
        kept: deque[_Waiting] = deque()
        for waiting in self._outbox:
            if waiting.event.expires_at > now:
                kept.append(waiting)
            else:
                self._waits.async_end(waiting.event.event_id, Outcome.EXPIRED)
        if expired := len(self._outbox) - len(kept):
            self.counters.expired += expired
            self._outbox = kept
            self._outbox_bytes = sum(len(w.event.payload) for w in kept)
            self._async_changed()

    @callback
    def _async_changed(self) -> None:
        # A change to a non-empty outbox schedules one delayed save, unless
        # one is already scheduled: it takes its snapshot when it runs, so it
        # holds this change too. HA's final write on shutdown performs a
        # pending one: a stop of HA loses nothing waiting. While the outbox
        # stays empty (connected, keeping up), there is nothing new to save.
        # Once stopped, the stop's save is the last: a sender that ends later
        # (HA stops waiting for an unloading entry's tasks after 10 s) would
        # write this outbox over the one of the entry's next start.
        if (
            self._running
            and not self._save_pending
            and (self._outbox or self._saved_waiting)
        ):
            self._save_pending = True
            self._store.async_delay_save(self._stored_outbox, PUBLISHER_UPDATE_INTERVAL)
        self._updates.async_changed()

    def _stored_outbox(self) -> list[StoredEvent]:
        """Give the saved outbox: in a worker thread to write, in the loop to load.

        The outbox changes in the loop only, so the snapshot is taken there;
        walking it from the worker thread while events arrive would fail.
        """
        if threading.get_ident() == self._hass.loop_thread_id:
            return _to_stored(self._async_snapshot())
        waiting = run_callback_threadsafe(
            self._hass.loop, self._async_snapshot
        ).result()
        return _to_stored(waiting)

    @callback
    def _async_snapshot(self) -> tuple[_Waiting, ...]:
        """Take what the pending save writes; later changes schedule another."""
        self._save_pending = False
        self._saved_waiting = bool(self._outbox)
        return tuple(self._outbox)
