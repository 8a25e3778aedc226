"""The development camera: each snapshot is a freshly drawn picture."""

from io import BytesIO

from homeassistant.components.camera import Camera
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.helpers.typing import ConfigType, DiscoveryInfoType
from homeassistant.util import dt as dt_util
from PIL import Image, ImageDraw


async def async_setup_platform(
    hass: HomeAssistant,
    config: ConfigType,
    async_add_entities: AddEntitiesCallback,
    discovery_info: DiscoveryInfoType | None = None,
) -> None:
    """Add the front door camera."""
    async_add_entities([DrawnCamera("Front door")])


def _draw(title: str, moment: str) -> bytes:
    image = Image.new("RGB", (640, 360), (40, 60, 90))
    pen = ImageDraw.Draw(image)
    pen.rectangle((250, 120, 390, 330), outline=(230, 230, 230), width=6)
    pen.ellipse((300, 40, 340, 80), fill=(250, 200, 80))
    pen.text((20, 20), f"{title}  {moment}", fill=(255, 255, 255))
    out = BytesIO()
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()


class DrawnCamera(Camera):
    """Answers every snapshot with a picture stamped with the current time."""

    _attr_should_poll = False

    def __init__(self, name: str) -> None:
        """Name the camera."""
        super().__init__()
        self._attr_name = name
        self._attr_unique_id = f"dev_camera_{name}"

    async def async_camera_image(
        self, width: int | None = None, height: int | None = None
    ) -> bytes | None:
        """Draw a picture (in a worker thread: Pillow blocks)."""
        moment = dt_util.now().strftime("%H:%M:%S")
        return await self.hass.async_add_executor_job(_draw, self.name, moment)
