"""The blueprints load through HA's blueprint integration and do what they say."""

import asyncio
import json
from pathlib import Path
import shutil
from typing import Any

from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.blueprint import models
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.setup import async_setup_component
from homeassistant.util.yaml import load_yaml_dict
import pytest
from pytest_homeassistant_custom_component.common import (
    async_fire_mqtt_message,
    async_mock_service,
)

from custom_components.mqtt_event_bridge.const import DOMAIN

SOURCE = Path(__file__).parent.parent / "blueprints" / "automation" / DOMAIN
RESPONSE_ENTITY = "event.mqtt_event_bridge_ha_ai_response"


@pytest.fixture
def blueprints(hass: HomeAssistant, tmp_path: Path) -> Path:
    """A configuration folder holding the repository's blueprints."""
    target = tmp_path / "blueprints" / "automation" / DOMAIN
    shutil.copytree(SOURCE, target)
    hass.config.config_dir = str(tmp_path)
    return target


def test_every_blueprint_is_valid() -> None:
    """Each file passes the blueprint integration's own schema."""
    files = sorted(SOURCE.glob("*.yaml"))
    assert [path.name for path in files] == [
        "camera_notification.yaml",
        "failed_response.yaml",
        "notify_ai_suggestion.yaml",
    ]
    for path in files:
        blueprint = models.Blueprint(
            load_yaml_dict(path),
            expected_domain="automation",
            path=path.name,
            schema=AUTOMATION_BLUEPRINT_SCHEMA,
        )
        assert blueprint.name.startswith("MQTT Event Bridge - ")


async def _automation(hass: HomeAssistant, name: str, inputs: dict[str, Any]) -> None:
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "use_blueprint": {"path": f"{DOMAIN}/{name}", "input": inputs},
            }
        },
    )
    await hass.async_block_till_done()
    [automation] = hass.states.async_all("automation")
    assert automation.state == "on"


@pytest.mark.usefixtures("mqtt_mock", "blueprints")
async def test_notify_on_ai_suggestion(hass: HomeAssistant) -> None:
    """A suggestion under the chosen prefix becomes a notification."""
    calls = async_mock_service(hass, "notify", "mobile_app_phone")
    await _automation(
        hass,
        "notify_ai_suggestion.yaml",
        {"topic_prefix": "home/ai", "notify_action": "notify.mobile_app_phone"},
    )
    async_fire_mqtt_message(
        hass,
        "home/ai/events/suggestion/generated",
        json.dumps({"suggestion": "Turn off the hallway light at 23:00"}),
    )
    async_fire_mqtt_message(hass, "ha-ai/events/suggestion/generated", "{}")
    await hass.async_block_till_done()
    assert [call.data for call in calls] == [
        {
            "title": "New automation suggestion",
            "message": "Turn off the hallway light at 23:00",
        }
    ]


def _camera_event(camera_id: str, confidence: float) -> str:
    return json.dumps(
        {
            "event_type": "camera/detection",
            "camera_id": camera_id,
            "camera_name": camera_id.replace("_", " ").title(),
            "description": "Person approaching the front door with a package",
            "confidence": confidence,
            "thumbnail_url": f"https://ha.example.org/t/{camera_id}?authSig=x",
        }
    )


@pytest.mark.usefixtures("mqtt_mock", "blueprints")
@pytest.mark.parametrize(
    ("camera_id", "notified"),
    [("", ["front_door", "garden"]), ("garden", ["garden"])],
)
async def test_camera_notification(
    hass: HomeAssistant, camera_id: str, notified: list[str]
) -> None:
    """Confident events of the chosen cameras reach the phone with their picture."""
    calls = async_mock_service(hass, "notify", "mobile_app_phone")
    await _automation(
        hass,
        "camera_notification.yaml",
        {
            "notify_action": "notify.mobile_app_phone",
            "min_confidence": 70,
            "camera_id": camera_id,
        },
    )
    for camera, confidence in (("front_door", 91), ("garden", 75), ("garden", 40)):
        async_fire_mqtt_message(
            hass, f"ha-ai/camera/{camera}/event", _camera_event(camera, confidence)
        )
    await hass.async_block_till_done()
    assert [call.data["data"]["tag"] for call in calls] == notified
    first: ServiceCall = calls[0]
    assert first.data["message"] == "Person approaching the front door with a package"
    assert first.data["data"]["image"].startswith("https://ha.example.org/t/")


@pytest.mark.usefixtures("init_integration", "blueprints")
async def test_failed_response(hass: HomeAssistant) -> None:
    """A failed response runs the default actions; a success does not."""
    notifications = async_mock_service(hass, "persistent_notification", "create")
    await _automation(
        hass, "failed_response.yaml", {"response_entity": RESPONSE_ENTITY}
    )
    async_fire_mqtt_message(
        hass,
        "ha-ai/responses/automation/porch",
        json.dumps({"automation_id": "porch", "status": "success"}),
    )
    await hass.async_block_till_done()
    assert notifications == []
    await asyncio.sleep(0.002)  # the event entity's state is a ms timestamp
    async_fire_mqtt_message(
        hass,
        "ha-ai/responses/automation/porch",
        json.dumps(
            {"automation_id": "porch", "status": "error", "message": "bulb gone"}
        ),
    )
    await hass.async_block_till_done()
    assert [call.data for call in notifications] == [
        {"title": "Automation failed", "message": "porch reported error: bulb gone"}
    ]
