"""Topic prefix and name rules."""

import pytest

from custom_components.mqtt_event_bridge import topics
from custom_components.mqtt_event_bridge.const import MAX_NAME_LENGTH
from custom_components.mqtt_event_bridge.topics import (
    camera_id_from,
    camera_topic,
    event_topic,
    is_valid_name,
    prefix_error,
    status_topic,
)


@pytest.mark.parametrize(
    ("prefix", "error"),
    [
        ("ha-ai", None),
        ("home/ai events", None),
        ("", "prefix_empty"),
        ("a" * 101, "prefix_too_long"),
        ("ha+ai", "prefix_wildcard"),
        ("ha/#", "prefix_wildcard"),
        ("ha\0ai", "prefix_nul"),
        ("$SYS", "prefix_dollar"),
        ("/ha-ai", "prefix_empty_level"),
        ("ha-ai/", "prefix_empty_level"),
        ("ha//ai", "prefix_empty_level"),
        ("my.home", "prefix_dot"),
    ],
)
def test_prefix_rules(prefix: str, error: str | None) -> None:
    """Each broken rule has its own translation key."""
    assert prefix_error(prefix) == error


@pytest.mark.parametrize(
    "name",
    ["generated", "suggestion/generated", "pattern-alert/a_1", "a" * MAX_NAME_LENGTH],
)
def test_valid_names(name: str) -> None:
    """Lowercase levels of letters, digits, _ and - are accepted."""
    assert is_valid_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "+",
        "a/#",
        "a/+/b",
        "/a",
        "a/",
        "a//b",
        "$sys",
        "Upper",
        "sp ace",
        "nul\0",
        "ünï",
        "a" * (MAX_NAME_LENGTH + 1),
    ],
)
def test_invalid_names(name: str) -> None:
    """Anything that could add levels, wildcards or odd bytes is refused."""
    assert not is_valid_name(name)


def test_topics() -> None:
    """Topics are the prefix, the branch and the name."""
    assert event_topic("ha-ai", "suggestion/generated") == (
        "ha-ai/events/suggestion/generated"
    )
    assert status_topic("p/q", "analysis_complete") == "p/q/status/analysis_complete"
    assert camera_topic("p", "front_door") == "p/camera/front_door/event"


@pytest.mark.parametrize(
    ("text", "camera_id"),
    [
        ("front_door", "front_door"),
        ("Front Door/1", "front_door_1"),
        ("Caméra Jardin", "camera_jardin"),
        ("a+b#c", "a_b_c"),
        ("--x--", "x"),
        ("+", ""),
        ("#", ""),
        ("\0", ""),
        ("x" * (MAX_NAME_LENGTH + 5), "x" * MAX_NAME_LENGTH),
    ],
)
def test_camera_id_from(text: str, camera_id: str) -> None:
    """Camera ids become one safe level; nothing usable gives empty."""
    assert camera_id_from(text) == camera_id
    assert is_valid_name(camera_id) or not camera_id


def test_long_names_are_not_cached() -> None:
    """A refused 1 MB name is not remembered: the cache holds short names only."""
    before = topics._is_valid_short_name.cache_info().currsize
    for letter in "abcdefghij":
        assert not is_valid_name(letter * 1_000_000)
    assert topics._is_valid_short_name.cache_info().currsize == before


def test_a_stored_topic_may_hold_a_dot() -> None:
    """A forwarded type's topic (ha/ios.action_fired) read back from the outbox."""
    assert topics.topic_error("ha-ai/events/ha/ios.action_fired") is None
    assert topics.topic_error("ha-ai/events/#") == "prefix_wildcard"
