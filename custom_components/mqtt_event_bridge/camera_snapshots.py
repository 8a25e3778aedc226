"""Snapshots asked of HA's camera entities: at most one under way per camera.

HA's camera helper abandons a snapshot after its timeout, but a camera that
reads in a worker thread keeps that thread until it answers. The bridge gives
HA's helper a day, so that a snapshot counts as under way for as long as it may
hold a thread, and asks a camera for one snapshot at a time: a stuck camera
holds one worker thread of HA, never more.
"""

import asyncio
from typing import TYPE_CHECKING

from homeassistant.core import HomeAssistant, callback

if TYPE_CHECKING:
    from homeassistant.components.camera import Image

_CAMERA_CALL_LIMIT = 86_400


class CameraSnapshots:
    """The snapshots under way for one bridge, one per camera entity."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Start with none under way."""
        self._hass = hass
        self._entry_id = entry_id
        self._under_way: dict[str, asyncio.Task[Image]] = {}

    @property
    def under_way(self) -> int:
        """Cameras that have not answered a snapshot yet."""
        return len(self._under_way)

    async def async_take(
        self, entity_id: str, bound: float
    ) -> "tuple[Image | None, str]":
        """Wait at most `bound` seconds for a snapshot: the image, or why none came.

        Waiting does not cancel: the snapshot stays under way until the camera
        answers, however long this caller waited for it.
        """
        if entity_id in self._under_way:
            return None, "the camera has not answered an earlier snapshot yet"
        snapshot = self._async_start(entity_id)
        await asyncio.wait({snapshot}, timeout=bound)
        if not snapshot.done():
            return None, f"no answer within {bound:g} s"
        if (error := snapshot.exception()) is not None:
            return None, repr(error)
        return snapshot.result(), ""

    @callback
    def async_cancel(self) -> None:
        """Stop waiting for every snapshot under way."""
        for snapshot in self._under_way.values():
            snapshot.cancel()

    @callback
    def _async_start(self, entity_id: str) -> "asyncio.Task[Image]":
        """Ask a camera for a snapshot; it counts as under way until it answers."""
        # Imported here, not above: a bridge without cameras must not need
        # the camera component's native requirements. A snapshot is only asked
        # of an existing camera entity, so the component is loaded by now.
        from homeassistant.components import camera  # noqa: PLC0415

        snapshot = self._hass.async_create_background_task(
            camera.async_get_image(self._hass, entity_id, timeout=_CAMERA_CALL_LIMIT),
            f"{self._entry_id} snapshot of {entity_id}",
        )
        self._under_way[entity_id] = snapshot

        @callback
        def answered(task: "asyncio.Task[Image]") -> None:
            del self._under_way[entity_id]
            # Read, so that a late failure is not reported as unretrieved.
            _ = task.cancelled() or task.exception()

        snapshot.add_done_callback(answered)
        return snapshot
