"""The diagnostics download."""

import json
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

from custom_components.mqtt_event_bridge.const import CONF_BASE_URL
from custom_components.mqtt_event_bridge.mqtt_client import features
from tests.conftest import make_entry


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
    # What HA's client offers differs per HA version: checked against the
    # door's own answer here, left out of the snapshot.
    assert diagnostics["mqtt_client"] == features(hass)
    assert diagnostics == snapshot(
        exclude=props("received_at", "published_topics", "mqtt_client")
    )


SECRETS = {
    "api-key": "k1",
    "x-api-key": "k2",
    "access_key": "k3",
    "private_key": "k4",
    "pwd": "k5",
    "pin": "k6",
    "bearer": "k7",
    "jwt": "k8",
    "signature": "k9",
    "apiKey": "k10",
    "sessionId": "k11",
}
KEPT = {"passenger_count": 3, "compass": "NE", "keyboard": "de", "spin": 2}


async def test_credentials_are_hidden_and_nothing_else(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    hass_client: ClientSessionGenerator,
) -> None:
    """Credential keys, links' secrets and passwords go; look-alike words stay."""
    entry = make_entry()
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry, options={CONF_BASE_URL: "https://user:baseurlpass@ha.example.org"}
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    response = {
        "automation_id": "a",
        "status": "ok",
        **SECRETS,
        **KEPT,
        "thumbnail_url": "https://ha.example.org/api/x?authSig=sig-value&size=2",
        "link": "https://bob:linkpass@nvr.local/cam?token=tok-value",
        "header": "Bearer bearer-value",
        "note": "Is it done? Yes",
        "odd_link": "http://[::1?secret=odd-value",
    }
    async_fire_mqtt_message(hass, "ha-ai/responses/a", json.dumps(response))
    await hass.async_block_till_done()

    diagnostics: dict[str, Any] = await get_diagnostics_for_config_entry(
        hass, hass_client, entry
    )
    text = json.dumps(diagnostics)
    for secret in (
        *SECRETS.values(),
        "baseurlpass",
        "sig-value",
        "linkpass",
        "tok-value",
        "bearer-value",
        "odd-value",
    ):
        assert secret not in text
    [recent] = diagnostics["responses"]["recent"]
    payload = recent["payload"]
    assert {key: payload[key] for key in KEPT} == KEPT
    assert payload["note"] == "Is it done? Yes"
    assert payload["thumbnail_url"] == (
        "https://ha.example.org/api/x?authSig=**REDACTED**&size=2"
    )
    assert payload["link"].startswith("https://bob:**REDACTED**@nvr.local/cam?")
    assert diagnostics["settings"]["base_url"] == (
        "https://user:**REDACTED**@ha.example.org"
    )
