"""The fields of a camera event, checked before anything is accepted.

A camera event names its camera either by an HA camera entity or by an
explicit id and name; its other keys are text, percentages and a flag, each
checked here with an error that names the field.
"""

from collections.abc import Mapping
from dataclasses import dataclass
import logging
import math
import sys
from typing import Any

from homeassistant.const import ATTR_ENTITY_ID, Platform
from homeassistant.core import HomeAssistant, split_entity_id, valid_entity_id
from homeassistant.helpers import config_validation as cv
import voluptuous as vol

from .const import ATTR_CAMERA_ID, ATTR_CAMERA_NAME, ATTR_THUMBNAIL_URL
from .envelope import EnvelopeError
from .topics import camera_id_from

_LOGGER = logging.getLogger(__name__)

# Keys of the payload besides the envelope, by the check each one gets.
REQUIRED_TEXT = ("description", "source_type")
REQUIRED_PERCENT = ("confidence",)
OBJECTS_DETECTED = "objects_detected"
OPTIONAL_TEXT = (
    "smart_detection_type",
    "provider_used",
    "analysis_mode",
    "correlation_group_id",
)
OPTIONAL_PERCENT = ("ai_confidence",)
IS_DOORBELL_RING = "is_doorbell_ring"
MAX_PERCENT = 100


def read_number(value: Any) -> float:
    """Read a number, or text that reads as one; a boolean is no number here.

    An integer past a float's range reads as infinity, for the range check
    that follows to refuse (float() itself would raise OverflowError).
    """
    if isinstance(value, bool):
        raise vol.Invalid("expected a number")
    if isinstance(value, int) and abs(value) > sys.float_info.max:
        return math.inf if value > 0 else -math.inf
    try:
        return float(vol.Coerce(float)(value))
    except OverflowError as err:  # a Fraction, say, from a Python caller
        raise vol.Invalid("expected a number within a float's range") from err


# Shapes only; values are checked by `camera_fields`, whose errors are translated.
CAMERA_FIELDS: dict[vol.Marker, Any] = {
    vol.Optional(ATTR_ENTITY_ID): cv.string,
    vol.Optional(ATTR_CAMERA_ID): cv.string,
    vol.Optional(ATTR_CAMERA_NAME): cv.string,
    **{vol.Required(key): cv.string for key in REQUIRED_TEXT},
    vol.Required(OBJECTS_DETECTED): vol.All(cv.ensure_list, [cv.string]),
    **{vol.Required(key): read_number for key in REQUIRED_PERCENT},
    **{vol.Optional(key): cv.string for key in OPTIONAL_TEXT},
    **{vol.Optional(key): read_number for key in OPTIONAL_PERCENT},
    vol.Optional(IS_DOORBELL_RING): cv.boolean,
    vol.Optional(ATTR_THUMBNAIL_URL): cv.string,
}


@dataclass(frozen=True, kw_only=True, slots=True)
class CameraFields:
    """A checked camera event: its camera and the payload keys besides the envelope."""

    camera_id: str
    # The HA camera to take a snapshot of; None when the caller gave a link,
    # or named a camera HA does not know.
    snapshot_of: str | None
    data: dict[str, Any]


def _text(key: str, value: str) -> str:
    if not (text := value.strip()):
        raise EnvelopeError("empty_field", field=key)
    return text


def _percent(key: str, value: float) -> float | int:
    if not 0 <= value <= MAX_PERCENT:  # also refuses NaN
        raise EnvelopeError("out_of_range", field=key, value=str(value))
    return int(value) if value.is_integer() else value


def _camera(
    hass: HomeAssistant, call_data: Mapping[str, Any]
) -> tuple[str, str, str | None]:
    """Return the camera's topic id, its name, and its HA entity (if any)."""
    entity_id: str | None = call_data.get(ATTR_ENTITY_ID)
    explicit_id: str | None = call_data.get(ATTR_CAMERA_ID)
    name: str | None = call_data.get(ATTR_CAMERA_NAME)
    if entity_id is not None and explicit_id is not None:
        raise EnvelopeError("camera_ambiguous")
    if entity_id is not None:
        if not valid_entity_id(entity_id) or (
            split_entity_id(entity_id)[0] != Platform.CAMERA
        ):
            raise EnvelopeError("not_a_camera", entity_id=entity_id)
        if (state := hass.states.get(entity_id)) is None:
            raise EnvelopeError("camera_not_found", entity_id=entity_id)
        source, name = split_entity_id(entity_id)[1], name or state.name
    elif explicit_id is not None:
        if name is None:
            raise EnvelopeError("camera_name_missing")
        source = explicit_id
    else:
        raise EnvelopeError("camera_missing")
    if not (camera_id := camera_id_from(source)):
        raise EnvelopeError("invalid_camera_id", camera_id=source)
    return camera_id, _text(ATTR_CAMERA_NAME, name), entity_id


def camera_fields(hass: HomeAssistant, call_data: Mapping[str, Any]) -> CameraFields:
    """Check a publish_camera_event call; EnvelopeError names the first problem."""
    camera_id, camera_name, entity_id = _camera(hass, call_data)
    thumbnail_url: str | None = call_data.get(ATTR_THUMBNAIL_URL)
    if thumbnail_url is not None:
        try:
            thumbnail_url = cv.url(thumbnail_url)
        except vol.Invalid as err:
            raise EnvelopeError("invalid_thumbnail_url", url=thumbnail_url) from err
    data: dict[str, Any] = {ATTR_CAMERA_ID: camera_id, ATTR_CAMERA_NAME: camera_name}
    data |= {key: _text(key, call_data[key]) for key in REQUIRED_TEXT}
    data[OBJECTS_DETECTED] = [
        _text(OBJECTS_DETECTED, item) for item in call_data[OBJECTS_DETECTED]
    ]
    data |= {key: _percent(key, call_data[key]) for key in REQUIRED_PERCENT}
    data[ATTR_THUMBNAIL_URL] = thumbnail_url
    # Optional keys appear only when the caller gave them.
    data |= {
        key: _text(key, call_data[key]) for key in OPTIONAL_TEXT if key in call_data
    }
    data |= {
        key: _percent(key, call_data[key])
        for key in OPTIONAL_PERCENT
        if key in call_data
    }
    if IS_DOORBELL_RING in call_data:
        data[IS_DOORBELL_RING] = call_data[IS_DOORBELL_RING]
    return CameraFields(
        camera_id=camera_id,
        snapshot_of=entity_id if thumbnail_url is None else None,
        data=data,
    )
