"""The diagnostics download."""

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_mqtt_message,
)
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import (
    ClientSessionGenerator,
    MqttMockHAClient,
)
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props


async def test_diagnostics(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    snapshot: SnapshotAssertion,
) -> None:
    """Settings, counters and the last responses, secrets redacted."""
    async_fire_mqtt_message(
        hass,
        "ha-ai/responses/automation/a",
        '{"automation_id": "a", "status": "success", "api_token": "s3cret",'
        ' "nested": {"Password": "hunter2", "list": [{"auth": "x", "ok": 1}]}}',
    )
    async_fire_mqtt_message(hass, "ha-ai/responses/automation/a", "garbage")
    await hass.async_block_till_done()

    diagnostics: dict[str, Any] = await get_diagnostics_for_config_entry(
        hass, hass_client, init_integration
    )
    assert "s3cret" not in str(diagnostics)
    assert "hunter2" not in str(diagnostics)
    [recent] = diagnostics["responses"]["recent"]
    assert dt_util.parse_datetime(recent["received_at"]) is not None
    # Both name the random entry id: checked here, left out of the snapshot.
    assert diagnostics["discovery"]["published_topics"] == [
        f"homeassistant/device/mqtt_event_bridge_{init_integration.entry_id}/config"
    ]
    assert diagnostics == snapshot(exclude=props("received_at", "published_topics"))
