"""Setting up, reloading and unloading a bridge; the publisher's bookkeeping."""

from datetime import timedelta
import logging
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_mqtt_message,
)
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.mqtt_event_bridge.const import (
    CONF_QOS,
    CONF_TOPIC_PREFIX,
    CONF_TTL,
    DOMAIN,
)
from custom_components.mqtt_event_bridge.envelope import build_event
from custom_components.mqtt_event_bridge.models import BridgeConfigEntry
from tests.conftest import (
    call_action,
    entities_follow,
    event_calls,
    make_entry,
    published,
)


async def test_setup_and_unload(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    """A loaded entry carries typed runtime data and unloads cleanly."""
    entry: BridgeConfigEntry = init_integration
    assert init_integration.state is ConfigEntryState.LOADED
    settings = entry.runtime_data.settings
    assert (settings.topic_prefix, settings.qos, settings.ttl) == ("ha-ai", 1, 30)
    assert hass.services.has_service(DOMAIN, "publish_event")
    assert hass.services.has_service(DOMAIN, "publish_status")

    assert await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.NOT_LOADED
    # Actions are registered once for the integration, not per entry.
    assert hass.services.has_service(DOMAIN, "publish_event")


async def test_not_ready_without_mqtt(hass: HomeAssistant) -> None:
    """Without an MQTT client the entry retries later instead of failing."""
    entry = make_entry()
    entry.add_to_hass(hass)
    with patch(
        "homeassistant.components.mqtt.async_wait_for_mqtt_client", return_value=False
    ):
        await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.reason is not None
    assert "The MQTT integration is not available yet" in entry.reason


async def test_yaml_is_not_accepted(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, caplog: pytest.LogCaptureFixture
) -> None:
    """The integration is configured in the UI only: YAML is reported, not used."""
    assert await async_setup_component(hass, DOMAIN, {DOMAIN: {"topic_prefix": "x"}})
    assert "does not support YAML setup" in caplog.text
    assert not hass.config_entries.async_entries(DOMAIN)


async def test_options_change_reloads_with_new_settings(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    """New options take effect at once: the next event uses them."""
    hass.config_entries.async_update_entry(
        init_integration, options={CONF_QOS: 0, CONF_TTL: 5}
    )
    await hass.async_block_till_done()
    assert init_integration.state is ConfigEntryState.LOADED

    await hass.services.async_call(
        DOMAIN, "publish_event", {"event_type": "x"}, blocking=True
    )
    await hass.async_block_till_done()
    [(_, payload, qos, _)] = published(mqtt_mock)
    assert (qos, payload["ttl"]) == (0, 5)


async def test_publish_failure_counted_and_logged_once(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A refused publish is counted; an outage logs one warning, recovery one line."""
    entry: BridgeConfigEntry = init_integration
    mqtt_mock.async_publish.side_effect = HomeAssistantError("not connected")
    for _ in range(3):
        await hass.services.async_call(
            DOMAIN, "publish_event", {"event_type": "x"}, blocking=True
        )
    await hass.async_block_till_done()
    counters = entry.runtime_data.publisher.counters
    assert (counters.published, counters.failed) == (0, 3)
    warnings = [
        record
        for record in caplog.records
        if record.levelno == logging.WARNING and "failed" in record.message
    ]
    assert len(warnings) == 1

    mqtt_mock.async_publish.side_effect = None
    await hass.services.async_call(
        DOMAIN, "publish_event", {"event_type": "x"}, blocking=True
    )
    await hass.async_block_till_done()
    assert (counters.published, counters.failed) == (1, 3)
    assert "works again" in caplog.text


async def test_expired_event_is_never_published(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
) -> None:
    """An event whose expires_at has passed is dropped and counted."""
    entry: BridgeConfigEntry = init_integration
    event = build_event(
        topic="ha-ai/events/x",
        event_type="x",
        data={},
        qos=1,
        ttl=1,
        now=dt_util.utcnow() - timedelta(seconds=2),
    )
    entry.runtime_data.publisher.async_submit(event)
    await hass.async_block_till_done()
    assert event_calls(mqtt_mock) == []
    assert entry.runtime_data.publisher.counters.expired == 1


async def test_new_prefix_keeps_the_entities(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    """Reconfiguring the prefix moves the entities, it does not duplicate them."""
    entry = init_integration
    foreign = entity_registry.async_get_or_create(
        "sensor", DOMAIN, "left-by-someone", config_entry=entry
    )
    before = {
        e.entity_id: e.unique_id
        for e in er.async_entries_for_config_entry(entity_registry, entry.entry_id)
    }
    assert (
        before["sensor.mqtt_event_bridge_ha_ai_last_response"] == "ha-ai_last_response"
    )

    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOPIC_PREFIX: "home/ai"}
    )
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED

    after = {
        e.entity_id: e.unique_id
        for e in er.async_entries_for_config_entry(entity_registry, entry.entry_id)
    }
    assert set(after) == set(before)
    assert (
        after["sensor.mqtt_event_bridge_ha_ai_last_response"] == "home/ai_last_response"
    )
    assert after[foreign.entity_id] == "left-by-someone"
    # The subscription moved with the prefix.
    async_fire_mqtt_message(
        hass, "home/ai/responses/x", '{"automation_id": "a", "status": "ok"}'
    )
    await entities_follow(hass)
    state = hass.states.get("sensor.mqtt_event_bridge_ha_ai_responses_received")
    assert state is not None
    assert state.state == "1"


async def test_round_trip_memory_is_bounded(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only the newest events are remembered for round-trip measurements."""
    monkeypatch.setattr(
        "custom_components.mqtt_event_bridge.waits.MAX_TRACKED_EVENTS", 3
    )
    entry: BridgeConfigEntry = init_integration
    round_trips = entry.runtime_data.round_trips
    ids = []
    for _ in range(5):
        response = await call_action(hass, "publish_event", {"event_type": "x"})
        ids.append(str(response["event_id"]))
    await hass.async_block_till_done()
    remembered = [
        round_trips.async_round_trip_ms(event_id) is not None for event_id in ids
    ]
    assert remembered == [False, False, True, True, True]
