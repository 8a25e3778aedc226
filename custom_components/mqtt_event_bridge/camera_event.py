"""Camera events: the snapshot that goes with each, and its link.

For an HA camera the bridge takes a snapshot when the event is created, keeps
it in a bounded cache and puts a signed, expiring link to it in
`thumbnail_url`. The action never waits for the camera: the event enters the
outbox once the snapshot is there, or after SNAPSHOT_TIMEOUT (never beyond the
event's TTL) without one. A camera that fails or does not answer in time gives
an event with `thumbnail_url: null`; nothing is lost either way.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
import logging
import time
from typing import TYPE_CHECKING, Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.util import dt as dt_util

from .camera_fields import CameraFields
from .camera_snapshots import CameraSnapshots
from .const import (
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

if TYPE_CHECKING:
    import asyncio

    from homeassistant.components.camera import Image

_LOGGER = logging.getLogger(__name__)


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
        self._snapshots = CameraSnapshots(hass, entry_id)
        self._problem_log = LogLimiter(_LOGGER)

    @property
    def waiting(self) -> int:
        """Events still waiting for their snapshot."""
        return len(self._waiting)

    @property
    def snapshots_under_way(self) -> int:
        """Cameras that have not answered a snapshot yet (at most one each)."""
        return self._snapshots.under_way

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
        for task in self._tasks:
            task.cancel()
        self._snapshots.async_cancel()
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
        image, problem = await self._snapshots.async_take(entity_id, bound)
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
