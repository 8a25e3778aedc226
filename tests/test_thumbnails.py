"""The snapshot cache: bounded in count and bytes, oldest first, expiring."""

import time

from freezegun.api import FrozenDateTimeFactory

from custom_components.mqtt_event_bridge.thumbnails import Thumbnail, ThumbnailCache


def _thumbnail(size: int, expires: float = float("inf")) -> Thumbnail:
    return Thumbnail(content=b"x" * size, content_type="image/jpeg", expires=expires)


def test_count_bound_drops_oldest() -> None:
    """At the count bound, the oldest snapshot makes room."""
    cache = ThumbnailCache(max_count=2, max_bytes=1_000)
    for key in "abc":
        assert cache.add(key, _thumbnail(10))
    assert [cache.get(key) is not None for key in "abc"] == [False, True, True]
    assert (len(cache), cache.total_bytes) == (2, 20)


def test_byte_bound_drops_as_many_as_needed() -> None:
    """A large snapshot pushes out as many old ones as its size needs."""
    cache = ThumbnailCache(max_count=10, max_bytes=100)
    for key in "abcd":
        cache.add(key, _thumbnail(30))
    assert cache.add("big", _thumbnail(70))
    assert [key for key in ("a", "b", "c", "d", "big") if cache.get(key)] == [
        "d",
        "big",
    ]
    assert cache.total_bytes == 100


def test_too_large_alone_is_refused() -> None:
    """A snapshot above the byte bound is not kept and pushes nothing out."""
    cache = ThumbnailCache(max_count=10, max_bytes=100)
    cache.add("a", _thumbnail(50))
    assert not cache.add("huge", _thumbnail(101))
    assert cache.get("huge") is None
    assert cache.get("a") is not None


def test_expired_snapshots_go(freezer: FrozenDateTimeFactory) -> None:
    """Once its link has expired a snapshot is dropped, freeing its bytes."""
    cache = ThumbnailCache(max_count=10, max_bytes=100)
    now = time.monotonic()
    cache.add("old", _thumbnail(40, expires=now + 10))
    cache.add("new", _thumbnail(40, expires=now + 20))
    freezer.tick(15)
    assert cache.get("old") is None
    assert cache.get("new") is not None
    assert cache.total_bytes == 40
