"""Bounds on what an outside party can make the bridge do: log lines and state writes.

Anything on the broker, or a misbehaving caller, can repeat the same problem
thousands of times a second. The log says it once a minute with a count, the
response event entity fires at a bounded rate, and entities that follow the
bridge's counters are told of changes at most once a second.
"""

from collections.abc import Callable
import logging
import time
from typing import Any

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.debounce import Debouncer

from .const import LOG_INTERVAL, PUBLISHER_UPDATE_INTERVAL

_LOGGER = logging.getLogger(__name__)


class LogLimiter:
    """Log one message at most once per interval; say how many were held back."""

    def __init__(
        self,
        logger: logging.Logger,
        interval: float = LOG_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Log through `logger`, at most once per `interval` seconds."""
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._last = -interval
        self._held_back = 0

    def warning(self, message: str, *args: Any) -> None:
        """Warn now, or count the message until the interval has passed."""
        now = self._clock()
        if now - self._last < self._interval:
            self._held_back += 1
            return
        self._last = now
        if self._held_back:
            message += " (%d more like it since the last such message)"
            args = (*args, self._held_back)
            self._held_back = 0
        self._logger.warning(message, *args)


class TokenBucket:
    """Allow bursts up to `capacity`, and `rate` per second in the long run."""

    def __init__(
        self,
        *,
        capacity: int,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Start full."""
        self._capacity = float(capacity)
        self._rate = rate
        self._clock = clock
        self._tokens = float(capacity)
        self._last = clock()

    def take(self) -> bool:
        """Take one token; False when none is left."""
        now = self._clock()
        self._tokens = min(
            self._capacity, self._tokens + (now - self._last) * self._rate
        )
        self._last = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class Updates:
    """Tell listeners of changes at most once a second, through HA's Debouncer.

    Never inside the call that made the change (not immediate): that call may
    be the bus's call of a forwarded event, whose hand-over to HA's MQTT
    client should not wait for the entities' state writes.
    """

    def __init__(self, hass: HomeAssistant) -> None:
        """Nobody listens yet."""
        self._listeners: list[CALLBACK_TYPE] = []
        self._debouncer = Debouncer(
            hass,
            _LOGGER,
            cooldown=PUBLISHER_UPDATE_INTERVAL,
            immediate=False,
            function=self._async_call,
        )

    @callback
    def async_add(self, update: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call `update` on changes; return how to stop."""
        self._listeners.append(update)
        return lambda: self._listeners.remove(update)

    @callback
    def async_changed(self) -> None:
        """Note a change: listeners hear of it by the end of the second."""
        self._debouncer.async_schedule_call()

    @callback
    def async_shutdown(self) -> None:
        """Tell nobody any more."""
        self._debouncer.async_shutdown()

    @callback
    def _async_call(self) -> None:
        for update in self._listeners:
            update()
