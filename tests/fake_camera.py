"""HA camera entities whose snapshots the tests control."""

import asyncio

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

# What the cameras return: bytes, an exception to raise, or HANG.
HANG = "hang"


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

    async def async_camera_image(
        self, width: int | None = None, height: int | None = None
    ) -> bytes | None:
        """Return, raise, or never answer."""
        self.snapshots += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        if self.answer == HANG:
            await asyncio.Event().wait()
        assert isinstance(self.answer, bytes)
        return self.answer


async def async_setup_cameras(hass: HomeAssistant, *cameras: FakeCamera) -> None:
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
