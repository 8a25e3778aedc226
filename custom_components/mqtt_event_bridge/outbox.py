"""Where accepted events wait for the broker: bounded, in order, kept across restarts.

The outbox holds at most its size in events and MAX_OUTBOX_BYTES of payload;
the oldest waiting event gives way when either bound is reached. While it
holds events, a change schedules one delayed save (PUBLISHER_UPDATE_INTERVAL),
which HA's final write at shutdown performs too; the entry's stop saves it
once more. A saved outbox is checked and rebuilt, within today's bounds, in a
worker thread on the next start.
"""

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
import logging
import threading
from typing import Any, NamedTuple, TypedDict

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util
from homeassistant.util.async_ import run_callback_threadsafe

from .const import (
    DOMAIN,
    MAX_OUTBOX_BYTES,
    MAX_PAYLOAD_BYTES,
    OUTBOX_STORAGE_VERSION,
    PUBLISHER_UPDATE_INTERVAL,
    QOS_LEVELS,
)
from .envelope import OutgoingEvent
from .storage import async_load_store
from .topics import topic_error

_LOGGER = logging.getLogger(__name__)


class StoredEvent(TypedDict):
    """An outbox event as saved across restarts."""

    event_id: str
    topic: str
    payload: str
    qos: int
    expires_at: str


class Waiting(NamedTuple):
    """An event in the outbox, with when it was accepted."""

    event: OutgoingEvent
    # Monotonic time of acceptance; None for events restored after a restart.
    accepted_at: float | None


def outbox_store(hass: HomeAssistant, entry_id: str) -> Store[list[StoredEvent]]:
    """Where an entry's outbox is kept while HA is stopped."""
    return Store(hass, OUTBOX_STORAGE_VERSION, f"{DOMAIN}.{entry_id}.outbox")


def _to_stored(waiting: Iterable[Waiting]) -> list[StoredEvent]:
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
class Restored:
    """A saved outbox rebuilt, and how many saved events did not come back."""

    waiting: deque[Waiting]
    size: int = 0
    expired: int = 0
    overflowed: int = 0
    invalid: int = 0


def _restore(saved: Any, *, now: datetime, max_count: int) -> Restored:
    """Rebuild the saved outbox within today's bounds; runs in a worker thread.

    The oldest events give way when the outbox is now smaller (in events or
    bytes) than when it was saved, as they would have while waiting.
    """
    restored = Restored(waiting=deque())
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
        restored.waiting.appendleft(Waiting(event, None))
        restored.size += len(event.payload)
    restored.overflowed = len(events) - len(restored.waiting)
    return restored


class Outbox:
    """One entry's waiting events, oldest first, and their saved copy."""

    def __init__(self, hass: HomeAssistant, entry_id: str, *, max_count: int) -> None:
        """Start empty; `async_load` brings back what was saved."""
        self._hass = hass
        self._max_count = max_count
        self._waiting: deque[Waiting] = deque()
        # Payload bytes waiting.
        self.bytes = 0
        self._store = outbox_store(hass, entry_id)
        self._saving = False
        # Whether the last snapshot saved held waiting events, and whether a
        # delayed save is scheduled and has not taken its snapshot yet.
        self._saved_waiting = True
        self._save_pending = False

    def __len__(self) -> int:
        """Events waiting."""
        return len(self._waiting)

    async def async_load(self) -> Restored:
        """Bring back the saved events that are sound, unexpired and within bounds."""
        # Checked and rebuilt in a worker thread: a large outbox takes a while.
        restored = await self._hass.async_add_executor_job(
            lambda saved: _restore(
                saved, now=dt_util.utcnow(), max_count=self._max_count
            ),
            await async_load_store(self._store),
        )
        if restored.invalid:
            _LOGGER.warning(
                "%d saved events (of %s) were not valid and are counted as failed",
                restored.invalid,
                self._store.key,
            )
        self._waiting = restored.waiting
        self.bytes = restored.size
        self._saving = True
        return restored

    async def async_save(self) -> None:
        """Save what waits now; the last save (later changes are not saved)."""
        self._saving = False
        # A snapshot here; turned into its saved form in a worker thread.
        waiting = tuple(self._waiting)
        await self._store.async_save(
            await self._hass.async_add_executor_job(_to_stored, waiting)
        )

    @callback
    def async_append(self, waiting: Waiting) -> list[OutgoingEvent]:
        """Add an event at the end; give the oldest ones that made room for it."""
        size = len(waiting.event.payload)
        dropped: list[OutgoingEvent] = []
        while self._waiting and (
            len(self._waiting) >= self._max_count
            or self.bytes + size > MAX_OUTBOX_BYTES
        ):
            # The newest events matter most: the oldest waiting one gives way.
            oldest = self._waiting.popleft().event
            self.bytes -= len(oldest.payload)
            dropped.append(oldest)
        # The JSON encoder's bytes keep its whole buffer (1 KiB or more,
        # however short the payload); a copy holds just the payload.
        event = waiting.event
        self._waiting.append(
            waiting._replace(
                event=event._replace(payload=bytes(memoryview(event.payload)))
            )
        )
        self.bytes += size
        return dropped

    @callback
    def async_popleft(self) -> Waiting:
        """Take the oldest waiting event."""
        waiting = self._waiting.popleft()
        self.bytes -= len(waiting.event.payload)
        return waiting

    @callback
    def async_drop_expired(self, now: datetime) -> list[OutgoingEvent]:
        """Remove and give the events whose `expires_at` has passed."""
        kept = deque(w for w in self._waiting if w.event.expires_at > now)
        expired = [w.event for w in self._waiting if w.event.expires_at <= now]
        if expired:
            self._waiting = kept
            self.bytes = sum(len(w.event.payload) for w in kept)
        return expired

    @callback
    def async_changed(self) -> None:
        """Schedule one delayed save, unless one is pending or nothing is new.

        It takes its snapshot when it runs, so it holds later changes too.
        While the outbox stays empty (connected, keeping up), there is nothing
        new to save. Once stopped, the stop's save is the last: a sender that
        ends later (HA stops waiting for an unloading entry's tasks after
        10 s) would write this outbox over the one of the entry's next start.
        """
        if (
            self._saving
            and not self._save_pending
            and (self._waiting or self._saved_waiting)
        ):
            self._save_pending = True
            self._store.async_delay_save(self._stored, PUBLISHER_UPDATE_INTERVAL)

    def _stored(self) -> list[StoredEvent]:
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
    def _async_snapshot(self) -> tuple[Waiting, ...]:
        """Take what the pending save writes; later changes schedule another."""
        self._save_pending = False
        self._saved_waiting = bool(self._waiting)
        return tuple(self._waiting)
