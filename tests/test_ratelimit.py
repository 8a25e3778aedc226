"""The bounds on log lines and on the response entity's state writes."""

import logging

import pytest

from custom_components.mqtt_event_bridge.ratelimit import LogLimiter, TokenBucket


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
