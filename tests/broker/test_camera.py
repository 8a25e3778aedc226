"""A camera event reaches an independent subscriber; its link returns the picture."""

from collections.abc import Awaitable, Callable
from http import HTTPStatus
import json
from typing import Any
from urllib.parse import urlsplit

from aiohttp.test_utils import TestClient
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from tests.broker.conftest import Observer
from tests.conftest import call_action, make_entry
from tests.fake_camera import FakeCamera, async_setup_cameras

JPEG = b"\xff\xd8\xff\xe0 porch snapshot \xff\xd9"
# Every field a caller can give; each must arrive as given.
FIELDS = {
    "description": "Person approaching the front door with a package",
    "objects_detected": ["person", "package"],
    "confidence": 91,
    "source_type": "ai_analysis",
    "smart_detection_type": "person",
    "is_doorbell_ring": True,
    "provider_used": "openai",
    "analysis_mode": "detailed",
    "ai_confidence": 88.5,
    "correlation_group_id": "visitor-1",
}


async def test_camera_event_arrives_with_full_schema(
    hass: HomeAssistant,
    mqtt_entry: MockConfigEntry,
    observer: Observer,
    hass_client_no_auth: Callable[[], Awaitable[TestClient[Any, Any]]],
) -> None:
    """Every field crosses the broker; the received link serves the snapshot."""
    await async_setup_cameras(hass, FakeCamera("Porch", JPEG))
    entry = make_entry(prefix="it/ha-ai", qos=1, ttl=60)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)

    response = await call_action(
        hass, "publish_camera_event", {"entity_id": "camera.porch", **FIELDS}
    )

    message = await observer.async_next()
    assert message.topic == "it/ha-ai/camera/porch/event" == response["topic"]
    assert (message.qos, message.retain) == (1, False)
    payload = json.loads(message.payload)
    thumbnail_url = payload.pop("thumbnail_url")
    for key in ("timestamp", "expires_at"):
        assert payload.pop(key).endswith("+00:00")
    assert payload == {
        "event_id": response["event_id"],
        "event_type": "camera/detection",
        "ttl": 60,
        "camera_id": "porch",
        "camera_name": "Porch",
        **FIELDS,
    }

    link = urlsplit(thumbnail_url)
    client = await hass_client_no_auth()
    answer = await client.get(f"{link.path}?{link.query}")
    assert answer.status == HTTPStatus.OK
    assert answer.content_type == "image/jpeg"
    assert await answer.read() == JPEG
    assert await hass.config_entries.async_unload(entry.entry_id)
