"""HA camera entities whose snapshots the tests control."""

import asyncio
import threading

from homeassistant.components.camera import Camera
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.helpers.typing import ConfigType, DiscoveryInfoType
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockModule,
    MockPlatform,
    mock_integration,
    mock_platform,
)

# What the cameras return: bytes, an exception to raise, HANG (an await that
# never ends) or BLOCK (a worker thread that waits for `release`).
HANG = "hang"
BLOCK = "block"


class FakeCamera(Camera):
    """A camera that answers with the bytes, the error or the silence it is given."""

    _attr_should_poll = False

    def __init__(
        self,
        name: str,
        answer: bytes | Exception | str,
        content_type: str = "image/jpeg",
    ) -> None:
        """Name the camera and what its snapshots return."""
        super().__init__()
        self._attr_name = name
        self._attr_unique_id = name
        self.content_type = content_type
        self.answer = answer
        self.snapshots = 0
        self.release = threading.Event()
        # Worker threads inside the camera right now.
        self.threads_blocked = 0

    async def async_camera_image(
        self, width: int | None = None, height: int | None = None
    ) -> bytes | None:
        """Return, raise, or never answer."""
        self.snapshots += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        if self.answer == HANG:
            await asyncio.Event().wait()
        if self.answer == BLOCK:
            # As HA's default camera_image does: in a worker thread.
            return await self.hass.async_add_executor_job(self._blocking_read)
        assert isinstance(self.answer, bytes)
        return self.answer

    def _blocking_read(self) -> bytes:
        self.threads_blocked += 1
        try:
            self.release.wait()
        finally:
            self.threads_blocked -= 1
        return b"\xff\xd8 late \xff\xd9"


async def async_setup_cameras(hass: HomeAssistant, *cameras: Camera) -> None:
    """Load HA's camera component with these cameras on a test platform."""

    async def setup_platform(
        hass: HomeAssistant,
        config: ConfigType,
        async_add_entities: AddEntitiesCallback,
        discovery_info: DiscoveryInfoType | None = None,
    ) -> None:
        async_add_entities(cameras)

    mock_integration(hass, MockModule("fake_camera"))
    mock_platform(
        hass, "fake_camera.camera", MockPlatform(async_setup_platform=setup_platform)
    )
    assert await async_setup_component(
        hass, "camera", {"camera": {"platform": "fake_camera"}}
    )
    await hass.async_block_till_done()
