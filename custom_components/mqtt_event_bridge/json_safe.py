"""HA event data made writable by HA's JSON encoder, whatever it holds.

Forwarded events carry whatever other integrations put in them. `json_safe`
gives a form HA's JSON encoder can always write, within bounds of depth and
text length; it never raises.
"""

from collections.abc import Mapping
from datetime import date, datetime, time
import re
from typing import Any

from .const import (
    JSON_INT_MAX,
    JSON_INT_MIN,
    MAX_FORWARD_DEPTH,
    MAX_FORWARD_TEXT,
    MAX_PAYLOAD_BYTES,
)

_SURROGATE = re.compile("[\ud800-\udfff]")
# Every JSON value takes at least two bytes with its separator (`0,`): a
# payload within MAX_PAYLOAD_BYTES holds no more values than this.
MAX_VALUES = MAX_PAYLOAD_BYTES // 2


class TooLarge(ValueError):  # noqa: N818 - reads as the reason it is
    """The data cannot fit in one event's payload: found before walking it all."""


class _Budget:
    """Values left to look at before the data is known to be too large."""

    def __init__(self) -> None:
        self.left = MAX_VALUES

    def take(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise TooLarge


def _text(value: str) -> str:
    """Make text valid Unicode: each lone surrogate becomes U+FFFD."""
    return _SURROGATE.sub("\ufffd", value)


def text_of(value: object) -> str:
    """Give an object's text, cut at MAX_FORWARD_TEXT; its type's when it has none."""
    try:
        text = str(value)
    except Exception:  # noqa: BLE001 - any object's __str__ can fail
        return _text(f"<unprintable {type(value).__name__} object>")
    return _text(text[:MAX_FORWARD_TEXT])


def _int_text(value: int) -> str:
    """Give an integer beyond 64 bits as its digits, or its size past Python's limit."""
    try:
        return str(value)
    except ValueError:  # more digits than Python writes (sys.set_int_max_str_digits)
        sign = "negative " if value < 0 else ""
        return f"<{sign}integer of {value.bit_length()} bits>"


def json_safe(value: Any, depth: int = 0) -> Any:
    """Give `value` in a form HA's JSON encoder can write.

    Integers beyond 64 bits become their digits as text (`<integer of N
    bits>` past Python's limit of digits); lone surrogates become U+FFFD;
    objects and lists deeper than MAX_FORWARD_DEPTH become null; keys
    become text; tuples and sets become lists; dates and times their ISO
    text; objects with `as_dict` (states, contexts) what it gives, made safe
    in turn; anything else its text, cut at MAX_FORWARD_TEXT characters. An
    object that fails on the way (as_dict, iterating, str) is forwarded as
    its text, or as `<unprintable TYPE object>` when even that fails.

    Raises TooLarge, having looked at no more than MAX_VALUES values, when
    the data holds more values, or a text longer, than one payload can.
    """
    return _safe(value, depth, _Budget())


def _safe(value: Any, depth: int, budget: _Budget) -> Any:
    try:
        return _json_safe(value, depth, budget)
    except TooLarge:
        raise
    except Exception:  # noqa: BLE001 - any object can fail; it becomes text
        return text_of(value)


def _safe_text(value: str) -> str:
    if len(value) > MAX_PAYLOAD_BYTES:
        raise TooLarge
    return _text(value)


def _json_safe(value: Any, depth: int, budget: _Budget) -> Any:  # noqa: PLR0911
    budget.take()
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        return value if JSON_INT_MIN <= value <= JSON_INT_MAX else _int_text(value)
    if isinstance(value, str):
        return _safe_text(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    # Looked up on the type, as HA's own objects define it: an instance's
    # __getattr__ is not asked.
    as_dict = getattr(type(value), "as_dict", None)
    if as_dict is None and not isinstance(
        value, Mapping | list | tuple | set | frozenset
    ):
        return text_of(value)
    if depth >= MAX_FORWARD_DEPTH:
        return None
    if as_dict is not None:
        return _safe(value.as_dict(), depth + 1, budget)
    if isinstance(value, Mapping):
        return {
            _safe_text(key) if isinstance(key, str) else text_of(key): _safe(
                item, depth + 1, budget
            )
            for key, item in value.items()
        }
    return [_safe(item, depth + 1, budget) for item in value]
