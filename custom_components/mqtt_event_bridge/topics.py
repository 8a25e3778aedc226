"""Where every topic the bridge publishes to is checked and built.

Nothing a caller or a user types may add topic levels or wildcards to a topic:
each check below returns the translation key of the problem, or None.
"""

from collections.abc import Callable
from functools import lru_cache
import re

from slugify import slugify

from .const import MAX_NAME_LENGTH, MAX_PREFIX_LENGTH

# One or more levels of lowercase letters, digits, "_" and "-", joined by "/".
_NAME_RE = re.compile(r"[a-z0-9_-]+(?:/[a-z0-9_-]+)*")


# Checked in order; the first rule a prefix breaks is the error shown.
_PREFIX_RULES: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("prefix_empty", lambda prefix: not prefix),
    ("prefix_too_long", lambda prefix: len(prefix) > MAX_PREFIX_LENGTH),
    ("prefix_wildcard", lambda prefix: "+" in prefix or "#" in prefix),
    ("prefix_nul", lambda prefix: "\0" in prefix),
    ("prefix_dollar", lambda prefix: prefix.startswith("$")),
    ("prefix_empty_level", lambda prefix: "" in prefix.split("/")),
    # RabbitMQ's MQTT plugin maps "." to "/": a prefix with one would be
    # rewritten there, and the bridge's responses never seen.
    ("prefix_dot", lambda prefix: "." in prefix),
)


def prefix_error(prefix: str) -> str | None:
    """Return why a topic prefix cannot be used, or None when it can."""
    return next((key for key, broken in _PREFIX_RULES if broken(prefix)), None)


def prefixes_overlap(first: str, second: str) -> bool:
    """Tell whether one prefix's topic tree holds, or is, the other's.

    With bridges on `ov` and `ov/responses`, the second's events would land on
    the first's response topics.
    """
    return (
        first == second
        or first.startswith(f"{second}/")
        or second.startswith(f"{first}/")
    )


# Far more than any topic the bridge builds; MQTT allows 65,535 bytes.
_MAX_TOPIC_LENGTH = 1_024


def topic_error(topic: str) -> str | None:
    """Return why a whole topic (read back from storage) cannot be published to."""
    if len(topic) > _MAX_TOPIC_LENGTH:
        return "topic_too_long"
    return next(
        (
            key
            for key, broken in _PREFIX_RULES
            # A whole topic may be long, and a forwarded type may hold a dot.
            if key not in {"prefix_too_long", "prefix_dot"} and broken(topic)
        ),
        None,
    )


def is_valid_name(name: str) -> bool:
    """Tell whether an event type or status name is safe to append to a topic."""
    # Too long is refused before the cache: it holds only short names.
    return len(name) <= MAX_NAME_LENGTH and _is_valid_short_name(name)


# The same few types come again and again: each is checked once.
@lru_cache(maxsize=1024)
def _is_valid_short_name(name: str) -> bool:
    return _NAME_RE.fullmatch(name) is not None


# An HA event type as one topic level: letters of either case, digits, "_",
# "-" and "." (integrations name events like `ios.notification_action_fired`).
_FORWARD_TYPE_RE = re.compile(r"[A-Za-z0-9_.-]+")


def is_valid_forward_type(event_type: str) -> bool:
    """Tell whether an HA event type can be forwarded under its own topic level."""
    return (
        len(event_type) <= MAX_NAME_LENGTH
        and _FORWARD_TYPE_RE.fullmatch(event_type) is not None
    )


def event_topic(prefix: str, event_type: str) -> str:
    """Topic of a generic event."""
    return f"{prefix}/events/{event_type}"


def status_topic(prefix: str, name: str) -> str:
    """Topic of a status notice."""
    return f"{prefix}/status/{name}"


def camera_id_from(text: str) -> str:
    """Turn a camera's name or id into one topic level of [a-z0-9_-].

    Letters lose their accents (or are transliterated), every other run of
    characters becomes "_", dashes stay. Empty when nothing usable is left
    (for example "+" or "#"), which callers refuse.
    """
    parts = (slugify(part, separator="_") for part in text.split("-"))
    return "-".join(filter(None, parts))[:MAX_NAME_LENGTH]


def camera_topic(prefix: str, camera_id: str) -> str:
    """Topic of one camera's events."""
    return f"{prefix}/camera/{camera_id}/event"


def responses_filter(prefix: str) -> str:
    """Subscription filter for every response under the prefix."""
    return f"{prefix}/responses/#"


def camera_filter(prefix: str) -> str:
    """Subscription filter for the events of every camera."""
    return camera_topic(prefix, "+")


def availability_topic(prefix: str) -> str:
    """Retained online/offline state of the bridge."""
    return f"{prefix}/availability"
