"""The events an entry has taken from its outbox, and the senders sending them.

Up to MAX_IN_FLIGHT events are taken, in order, and handed to senders: tasks
of the entry that each send one and wait for its acknowledgement, then send
the next taken one, until none is left. So several events wait for their
acknowledgement at the same time, and a burst does not cost a task per event.
HA's client passes a message to paho before its first await, and a sender
sends its event in one step, so the order on the wire is the order taken.
"""

from collections import deque
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback

from .const import MAX_IN_FLIGHT
from .outbox import Waiting
from .sender import Sender

if TYPE_CHECKING:
    import asyncio


class InFlight:
    """Events handed to HA's client and not yet acknowledged, and their senders."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        sender: Sender,
        on_sent: CALLBACK_TYPE,
    ) -> None:
        """Start empty; `on_sent` is called each time an event has ended."""
        self._hass = hass
        self._entry = entry
        self._sender = sender
        self._on_sent = on_sent
        self._count = 0
        # Taken events no sender has started on yet, in order; and senders
        # waiting to start, each to send one of them.
        self._taken: deque[Waiting] = deque()
        self._idle_senders = 0
        self._emptied: asyncio.Future[None] | None = None

    def __len__(self) -> int:
        """Events taken and not yet ended."""
        return self._count

    @property
    def has_room(self) -> bool:
        """Whether another event may be taken."""
        return self._count < MAX_IN_FLIGHT

    @callback
    def async_take(self, waiting: Waiting) -> None:
        """Take an event; a sender starts on it on the loop's next turn.

        The caller's action returns at once, and no send ends (and takes more)
        while the caller takes. A sender is started only for a taken event no
        idle sender will send.
        """
        self._count += 1
        self._taken.append(waiting)
        if self._idle_senders < len(self._taken):
            self._idle_senders += 1
            self._entry.async_create_task(
                self._hass, self._async_sender(), "publish events", eager_start=False
            )

    async def async_wait_empty(self) -> None:
        """Wait until every event taken has ended."""
        if self._count:
            self._emptied = self._hass.loop.create_future()
            try:
                await self._emptied
            finally:
                self._emptied = None

    async def _async_sender(self) -> None:
        """Send taken events, one at a time, until none is left."""
        try:
            while self._taken:
                waiting = self._taken.popleft()
                self._idle_senders -= 1
                try:
                    await self._sender.async_send(waiting)
                finally:
                    # Idle again: this sender sends the next event taken now.
                    self._idle_senders += 1
                    self._count -= 1
                    self._on_sent()
                    if not self._count and self._emptied is not None:
                        self._emptied.set_result(None)
                        self._emptied = None
        finally:
            self._idle_senders -= 1
