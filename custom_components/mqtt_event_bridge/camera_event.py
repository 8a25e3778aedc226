"""Camera events: their fields, and the snapshot that goes with them.

A camera event names its camera either by an HA camera entity or by an
explicit id and name. For an HA camera the bridge takes a snapshot when the
event is created, keeps it in a bounded cache and puts a signed, expiring link
to it in `thumbnail_url`. The action never waits for the camera: the event
enters the outbox once the snapshot is there, or after SNAPSHOT_TIMEOUT (never
beyond the event's TTL) without one. A camera that fails or does not answer in
time gives an event with `thumbnail_url: null`; nothing is lost either way.
"""

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
import logging
import math
import sys
import time
from typing import TYPE_CHECKING, Any

from homeassistant.const import ATTR_ENTITY_ID, Platform
from homeassistant.core import HomeAssistant, callback, split_entity_id, valid_entity_id
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util
import voluptuous as vol

from .const import (
    ATTR_CAMERA_ID,
    ATTR_CAMERA_NAME,
    ATTR_THUMBNAIL_URL,
    CAMERA_EVENT_TYPE,
    IMAGE_CONTENT_TYPE_ALIASES,
    IMAGE_CONTENT_TYPES,
    MAX_THUMBNAIL_BYTES,
    MAX_THUMBNAILS,
    SNAPSHOT_TIMEOUT,
)
from .envelope import EnvelopeError, OutgoingEvent, build_event
from .first_event import FirstEventGate
from .ratelimit import LogLimiter
from .thumbnails import Thumbnail, ThumbnailCache, async_thumbnail_url
from .topics import camera_id_from

if TYPE_CHECKING:
    from homeassistant.components.camera import Image

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
# HA's camera helper abandons a snapshot after its timeout, but a camera that
# reads in a worker thread keeps that thread until it answers. The bridge
# gives HA's helper a day, so that a snapshot counts as under way for as long
# as it may hold a thread, and asks a camera for one snapshot at a time.
_CAMERA_CALL_LIMIT = 86_400


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


@dataclass(kw_only=True, slots=True)
class CameraCounters:
    """What became of the snapshots asked for."""

    snapshots: int = 0
    snapshot_failures: int = 0


class CameraEvents:
    """Take, keep and link the snapshots of one bridge's camera events."""

    def __init__(
        self,
        hass: HomeAssistant,
        *,
        entry_id: str,
        gate: FirstEventGate,
        base_url: str | None,
        thumbnail_lifetime: int,
    ) -> None:
        """Start with no snapshots."""
        self._hass = hass
        self._entry_id = entry_id
        self._gate = gate
        self._base_url = base_url
        self._lifetime = thumbnail_lifetime
        self.thumbnails = ThumbnailCache(
            max_count=MAX_THUMBNAILS, max_bytes=MAX_THUMBNAIL_BYTES
        )
        self.counters = CameraCounters()
        # Events waiting for their snapshot, each as it goes out without one.
        self._waiting: dict[str, OutgoingEvent] = {}
        self._tasks: set[asyncio.Task[str | None]] = set()
        # The snapshot under way for each camera entity, until it answers.
        self._snapshots: dict[str, asyncio.Task[Image]] = {}
        self._problem_log = LogLimiter(_LOGGER)

    @property
    def waiting(self) -> int:
        """Events still waiting for their snapshot."""
        return len(self._waiting)

    @property
    def snapshots_under_way(self) -> int:
        """Cameras that have not answered a snapshot yet (at most one each)."""
        return len(self._snapshots)

    @callback
    def async_submit(
        self,
        fields: CameraFields,
        *,
        topic: str,
        qos: int,
        ttl: int,
        now: datetime,
    ) -> "tuple[OutgoingEvent, asyncio.Task[str | None] | None]":
        """Accept a camera event; its snapshot is taken without the caller waiting.

        Raises EnvelopeError before anything is accepted. The event returned is
        the one published when no snapshot comes (`thumbnail_url` as given, or
        null); with it, when a snapshot is taken, the task that publishes the
        event and gives the `thumbnail_url` it went out with.
        """

        def build(
            data: Mapping[str, Any], event_id: str | None = None
        ) -> OutgoingEvent:
            return build_event(
                topic=topic,
                event_type=CAMERA_EVENT_TYPE,
                data=data,
                qos=qos,
                ttl=ttl,
                now=now,
                event_id=event_id,
            )

        event = build(fields.data)
        if fields.snapshot_of is None:
            self._gate.async_submit(CAMERA_EVENT_TYPE, event)
            return event, None
        self._waiting[event.event_id] = event
        task = self._hass.async_create_task(
            self._async_capture(fields, event, build),
            f"{self._entry_id} snapshot for {event.event_id}",
            eager_start=True,
        )
        if not task.done():
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return event, task

    @callback
    def async_stop(self) -> None:
        """Send the waiting events without snapshot, before the outbox is saved."""
        for task in (*self._tasks, *self._snapshots.values()):
            task.cancel()
        for event in self._waiting.values():
            self._gate.async_submit(CAMERA_EVENT_TYPE, event)
        self._waiting.clear()

    async def _async_capture(
        self,
        fields: CameraFields,
        event: OutgoingEvent,
        build: Callable[[Mapping[str, Any], str], OutgoingEvent],
    ) -> str | None:
        entity_id = str(fields.snapshot_of)
        remaining = (event.expires_at - dt_util.utcnow()).total_seconds()
        bound = min(SNAPSHOT_TIMEOUT, remaining)
        self.counters.snapshots += 1
        image: Image | None = None
        problem = ""
        if (snapshot := self._snapshots.get(entity_id)) is not None:
            # A stuck camera holds one worker thread of HA, never more.
            problem = "the camera has not answered an earlier snapshot yet"
        else:
            snapshot = self._async_start_snapshot(entity_id)
            # Waiting does not cancel: the snapshot stays under way until the
            # camera answers, however long this event waited for it.
            await asyncio.wait({snapshot}, timeout=bound)
            if not snapshot.done():
                problem = f"no answer within {bound:g} s"
            elif (error := snapshot.exception()) is not None:
                problem = repr(error)
            else:
                image = snapshot.result()
        # Still waiting: a stop of the bridge cancels this task at its await.
        del self._waiting[event.event_id]
        url: str | None = None
        if image is not None:
            event, url, problem = self._with_thumbnail(fields, event, image, build)
        if problem:
            self.counters.snapshot_failures += 1
            self._problem_log.warning(
                "No thumbnail for camera event %s of %s (%s): published with "
                "thumbnail_url null",
                event.event_id,
                entity_id,
                problem,
            )
        self._gate.async_submit(CAMERA_EVENT_TYPE, event)
        return url

    def _with_thumbnail(
        self,
        fields: CameraFields,
        event: OutgoingEvent,
        image: "Image",
        build: Callable[[Mapping[str, Any], str], OutgoingEvent],
    ) -> tuple[OutgoingEvent, str | None, str]:
        """Keep a snapshot and link it from the event: event, link, problem."""
        content_type = image.content_type.partition(";")[0].strip().lower()
        content_type = IMAGE_CONTENT_TYPE_ALIASES.get(content_type, content_type)
        if content_type not in IMAGE_CONTENT_TYPES:
            # Served on HA's origin, HTML or SVG could run script there.
            problem = f"content type {image.content_type[:100]!r} is not an image"
            return event, None, problem
        kept = self.thumbnails.add(
            event.event_id,
            Thumbnail(
                content=image.content,
                content_type=content_type,
                expires=time.monotonic() + self._lifetime,
            ),
        )
        if not kept:
            problem = f"snapshot of {len(image.content)} bytes is too large to keep"
            return event, None, problem
        url = async_thumbnail_url(
            self._hass,
            self.thumbnails.signer,
            base_url=self._base_url,
            entry_id=self._entry_id,
            event_id=event.event_id,
            lifetime=self._lifetime,
        )
        try:
            linked = build({**fields.data, ATTR_THUMBNAIL_URL: url}, event.event_id)
        except EnvelopeError:
            return event, None, "the link would make the payload too large"
        return linked, url, ""

    @callback
    def _async_start_snapshot(self, entity_id: str) -> "asyncio.Task[Image]":
        """Ask a camera for a snapshot; it counts as under way until it answers."""
        # Imported here, not above: a bridge without cameras must not need
        # the camera component's native requirements. A snapshot is only asked
        # of an existing camera entity, so the component is loaded by now.
        from homeassistant.components import camera  # noqa: PLC0415

        snapshot = self._hass.async_create_background_task(
            camera.async_get_image(self._hass, entity_id, timeout=_CAMERA_CALL_LIMIT),
            f"{self._entry_id} snapshot of {entity_id}",
        )
        self._snapshots[entity_id] = snapshot

        @callback
        def answered(task: "asyncio.Task[Image]") -> None:
            del self._snapshots[entity_id]
            # Read, so that a late failure is not reported as unretrieved.
            _ = task.cancelled() or task.exception()

        snapshot.add_done_callback(answered)
        return snapshot
