"""Bounds on what an outside party can make the bridge do: log lines and state writes.

Anything on the broker, or a misbehaving caller, can repeat the same problem
thousands of times a second. The log says it once a minute with a count, and
the response event entity fires at a bounded rate.
"""

from collections.abc import Callable
import logging
import time
from typing import Any

from .const import LOG_INTERVAL


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
