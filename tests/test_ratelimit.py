"""The bounds on log lines, on state writes and on events forwarded."""

import logging

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed_exact

from custom_components.mqtt_event_bridge.ratelimit import (
    LogLimiter,
    TokenBucket,
    Updates,
)


def test_log_limiter_says_how_many_it_held_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Once per interval, then a line with the count of what was held back."""
    clock = [100.0]
    limiter = LogLimiter(logging.getLogger("test"), interval=60, clock=lambda: clock[0])
    for n in range(5):
        limiter.warning("problem %d", n)
    clock[0] += 59
    limiter.warning("problem %d", 5)
    clock[0] += 1
    limiter.warning("problem %d", 6)
    clock[0] += 60
    limiter.warning("problem %d", 7)
    assert [record.getMessage() for record in caplog.records] == [
        "problem 0",
        "problem 6 (5 more like it since the last such message)",
        "problem 7",
    ]


def test_token_bucket_refills_at_its_rate() -> None:
    """A burst up to the capacity, then the rate; never more than the capacity."""
    clock = [0.0]
    bucket = TokenBucket(capacity=3, rate=2.0, clock=lambda: clock[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    clock[0] += 1.0
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    clock[0] += 100.0
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]


async def test_updates_come_later_then_once_a_second(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Not inside the changing call; changes within a second make one call."""
    updates = Updates(hass)
    calls: list[int] = []
    stop = updates.async_add(lambda: calls.append(1))
    updates.async_changed()
    updates.async_changed()
    assert calls == []
    freezer.tick(0.5)
    async_fire_time_changed_exact(hass)
    assert calls == []
    freezer.tick(0.5)
    async_fire_time_changed_exact(hass)
    await hass.async_block_till_done()
    assert len(calls) == 1

    # Nothing changed since: no call.
    freezer.tick(5)
    async_fire_time_changed_exact(hass)
    await hass.async_block_till_done()
    assert len(calls) == 1

    stop()
    updates.async_changed()
    freezer.tick(1)
    async_fire_time_changed_exact(hass)
    await hass.async_block_till_done()
    assert len(calls) == 1
    updates.async_shutdown()


async def test_updates_end_with_shutdown(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """A pending call is dropped, and changes after it schedule none."""
    updates = Updates(hass)
    calls: list[int] = []
    updates.async_add(lambda: calls.append(1))
    updates.async_changed()
    updates.async_shutdown()
    updates.async_changed()
    freezer.tick(2)
    async_fire_time_changed_exact(hass)
    assert calls == []
