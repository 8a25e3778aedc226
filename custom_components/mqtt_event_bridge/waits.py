"""Where a call that asked for an answer waits for the response to its event.

A call with `response_timeout` opens a wait under its event's id before the
event can reach the broker, so a responder faster than the call itself is not
missed. The wait ends with the first accepted response naming that id, when
the event is lost in the outbox (expired or dropped), when the bridge
unloads, or when the timeout passes. The timeout counts from the moment the
event was handed to the broker: while the broker is down, the event's own
time to live bounds the wait instead.
"""

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
import time
from typing import Any

from homeassistant.core import HomeAssistant, callback

from .const import MAX_TRACKED_EVENTS


class Outcome(StrEnum):
    """How a wait ended, as the call's `outcome`."""

    ANSWERED = "answered"
    TIMED_OUT = "timed_out"
    EXPIRED = "expired"
    DROPPED = "dropped"
    UNLOADED = "unloaded"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class Answer:
    """What a wait ends with: the response's object, if one came."""

    outcome: Outcome
    response: dict[str, Any] | None = None


@dataclass(slots=True)
class _Wait:
    answer: asyncio.Future[Answer]
    # Done once the event is with the broker: the timeout starts then.
    sent: asyncio.Future[None]


class ResponseWaits:
    """The open waits of one bridge, by event id."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Hold no wait yet; the actions keep their number bounded."""
        self._hass = hass
        self._waits: dict[str, _Wait] = {}
        # Set once every wait has ended for good (HA stops): later ones too.
        self._ended: Outcome | None = None

    @property
    def open(self) -> int:
        """How many calls wait now."""
        return len(self._waits)

    @callback
    def async_open(self, event_id: str) -> None:
        """Start waiting for `event_id`, before its event can be published."""
        loop = self._hass.loop
        self._waits[event_id] = wait = _Wait(loop.create_future(), loop.create_future())
        if self._ended is not None:
            wait.answer.set_result(Answer(self._ended))

    @callback
    def async_sent(self, event_id: str) -> None:
        """Start the timeout of the event's caller: the event is with the broker."""
        if (wait := self._waits.get(event_id)) is not None and not wait.sent.done():
            wait.sent.set_result(None)

    @callback
    def async_answer(self, event_id: str, response: dict[str, Any]) -> None:
        """End the wait for `event_id` with the first accepted response naming it."""
        if (wait := self._waits.get(event_id)) is not None and not wait.answer.done():
            wait.answer.set_result(Answer(Outcome.ANSWERED, response))

    @callback
    def async_end(self, event_id: str, outcome: Outcome) -> None:
        """End the wait of an event that will never be answered (expired, dropped)."""
        if (wait := self._waits.get(event_id)) is not None and not wait.answer.done():
            wait.answer.set_result(Answer(outcome))

    @callback
    def async_end_all(self, outcome: Outcome = Outcome.UNLOADED) -> None:
        """End every wait, and any opened later: the bridge unloads, or HA stops."""
        self._ended = outcome
        for wait in self._waits.values():
            if not wait.answer.done():
                wait.answer.set_result(Answer(outcome))

    async def async_wait(self, event_id: str, seconds: float) -> Answer:
        """Wait for the answer, at most `seconds` from the event's publish.

        The clock starts only once the event is with the broker, which
        `asyncio.timeout` around the whole wait could not express.
        """
        wait = self._waits[event_id]
        try:
            if not wait.answer.done():
                either: set[asyncio.Future[Any]] = {wait.answer, wait.sent}
                await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            if not wait.answer.done():
                done, _ = await asyncio.wait({wait.answer}, timeout=seconds)
                if not done:
                    return Answer(Outcome.TIMED_OUT)
            return wait.answer.result()
        finally:
            self.async_close(event_id)

    @callback
    def async_close(self, event_id: str) -> None:
        """Forget a wait: its caller has its answer, or went away before waiting."""
        self._waits.pop(event_id, None)


class RoundTrips:
    """When each recent event was accepted, to time the round trip to its response.

    Only the newest MAX_TRACKED_EVENTS are kept: a response to an older event
    is still accepted, just not timed.
    """

    def __init__(self) -> None:
        """Remember nothing yet."""
        self._accepted_at: OrderedDict[str, float] = OrderedDict()

    @callback
    def async_accepted(self, event_id: str) -> None:
        """Note that an event was accepted now."""
        self._accepted_at[event_id] = time.monotonic()
        if len(self._accepted_at) > MAX_TRACKED_EVENTS:
            self._accepted_at.popitem(last=False)

    @callback
    def async_round_trip_ms(self, event_id: str) -> float | None:
        """Give the milliseconds since a recent event was accepted, if it is one."""
        if (accepted := self._accepted_at.get(event_id)) is None:
            return None
        return (time.monotonic() - accepted) * 1000
