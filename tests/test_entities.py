"""Entities pinned with snapshots; counters restored across restarts."""

from collections.abc import AsyncGenerator
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import entity_registry as er, restore_state
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_mqtt_message,
    async_fire_time_changed,
    mock_restore_cache,
    mock_restore_cache_with_extra_data,
    snapshot_platform,
)
from pytest_homeassistant_custom_component.typing import MqttMockHAClient
from syrupy.assertion import SnapshotAssertion

from custom_components.mqtt_event_bridge.const import CONF_FORWARD_EVENT_TYPES, CONF_TTL
from tests.conftest import call_action, entities_follow, make_entry, setup_bridge

PREFIX = "sensor.mqtt_event_bridge_ha_ai_"


@pytest.fixture
async def only_platform(hass: HomeAssistant) -> AsyncGenerator[list[Platform]]:
    """Load one platform of the bridge, until the end of the test.

    Requested before `mqtt_mock`, it outlasts the unload of every entry.
    """
    platforms: list[Platform] = []
    with patch("custom_components.mqtt_event_bridge.PLATFORMS", platforms):
        yield platforms


async def _setup(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    platform: Platform,
    only_platform: list[Platform],
) -> None:
    only_platform.append(platform)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


@pytest.mark.parametrize(
    "platform", [Platform.BINARY_SENSOR, Platform.EVENT, Platform.SENSOR]
)
@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_entities(
    hass: HomeAssistant,
    only_platform: list[Platform],
    mqtt_mock: MqttMockHAClient,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    platform: Platform,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Names, unique ids, classes and states of every entity, after one response."""
    # Frozen only once MQTT is set up: its config flow cannot be imported frozen.
    freezer.move_to("2026-11-23 10:00:00+00:00")
    entry = make_entry()
    await _setup(hass, entry, platform, only_platform)
    async_fire_mqtt_message(
        hass,
        "ha-ai/responses/automation/a",
        '{"automation_id": "a", "status": "success", "message": "done"}',
    )
    await entities_follow(hass)
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_counters_survive_a_restart(
    hass: HomeAssistant,
    only_platform: list[Platform],
    mqtt_mock: MqttMockHAClient,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Counters continue from their last state; a bad stored state restores nothing."""
    mock_restore_cache(
        hass,
        [
            State(f"{PREFIX}responses_received", "7"),
            State(f"{PREFIX}failed_responses", "2"),
            State(f"{PREFIX}rejected_responses", "unavailable"),
            State(f"{PREFIX}events_published", "40"),
            State(f"{PREFIX}events_expired", "3"),
            State(f"{PREFIX}events_overflowed", "2"),
            State(f"{PREFIX}publish_failures", "1"),
            State(f"{PREFIX}outbox_size", "5"),
        ],
    )
    entry = make_entry()
    await _setup(hass, entry, Platform.SENSOR, only_platform)
    for status in ("success", "error"):
        async_fire_mqtt_message(
            hass,
            "ha-ai/responses/x",
            f'{{"automation_id": "a", "status": "{status}"}}',
        )
    async_fire_mqtt_message(hass, "ha-ai/responses/x", "garbage")
    await hass.services.async_call(
        "mqtt_event_bridge", "publish_event", {"event_type": "x"}, blocking=True
    )
    await hass.async_block_till_done()
    # Entities follow the publisher at most once a second.
    freezer.tick(2)
    async_fire_time_changed(hass)
    await hass.async_block_till_done()

    keys = (
        "responses_received",
        "failed_responses",
        "rejected_responses",
        "events_published",
        "events_expired",
        "events_overflowed",
        "publish_failures",
        "outbox_size",
    )
    states = {key: hass.states.get(f"{PREFIX}{key}") for key in keys}
    assert {key: state.state for key, state in states.items() if state} == {
        "responses_received": "9",
        "failed_responses": "3",
        "rejected_responses": "1",
        "events_published": "41",
        "events_expired": "3",
        "events_overflowed": "2",
        "publish_failures": "1",
        # A measurement, not a counter: it shows the outbox now.
        "outbox_size": "0",
    }


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("12", "12"),
        ("12.0", "12"),
        ("inf", "0"),
        ("nan", "0"),
        ("-3", "0"),
        ("2.5", "0"),
        ("1e300", "0"),
        (str(2**64), "0"),
        ("twelve", "0"),
    ],
)
async def test_only_a_count_is_restored(
    hass: HomeAssistant,
    only_platform: list[Platform],
    mqtt_mock: MqttMockHAClient,
    stored: str,
    shown: str,
) -> None:
    """A saved state that no counter shows (an edited file) restores nothing."""
    mock_restore_cache(hass, [State(f"{PREFIX}events_forwarded", stored)])
    await _setup(hass, make_entry(), Platform.SENSOR, only_platform)
    state = hass.states.get(f"{PREFIX}events_forwarded")
    assert state is not None
    assert state.state == shown


def _state(hass: HomeAssistant, key: str) -> State:
    state = hass.states.get(f"{PREFIX}{key}")
    assert state is not None
    return state


async def _burst(hass: HomeAssistant, events: int, responses: int) -> None:
    """Publish, forward and answer, with no time for the entities to follow."""
    for n in range(events):
        await call_action(hass, "publish_event", {"event_type": "x", "data": {"n": n}})
        hass.bus.async_fire("bench_like", {"n": n})
    for n in range(responses):
        async_fire_mqtt_message(
            hass,
            "ha-ai/responses/automation/a",
            f'{{"automation_id": "a", "status": "{"success" if n else "error"}",'
            ' "message": "door locked", "duration_ms": 12}',
        )
    await hass.async_block_till_done()


# 30 events published by the action and 30 forwarded.
EXACT = {
    "events_published": "60",
    "events_forwarded": "30",
    "responses_received": "3",
    "failed_responses": "1",
}


async def test_counters_and_last_response_are_exact_across_a_reload(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """An options change right after a burst loses no count and no last response.

    The entities write their state at most once a second; what the reload
    saves is the count as it is.
    """
    entry = await setup_bridge(hass, **{CONF_FORWARD_EVENT_TYPES: ["bench_like"]})
    await hass.async_block_till_done()
    await entities_follow(hass)
    await _burst(hass, 30, 3)
    # Not yet shown: the entities follow within the second.
    assert _state(hass, "events_published").state != "30"
    hass.config_entries.async_update_entry(
        entry,
        options={**entry.options, CONF_TTL: 45},
    )
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    shown = {key: _state(hass, key).state for key in EXACT}
    assert shown == EXACT
    last = _state(hass, "last_response")
    assert last.state == "success"
    assert last.attributes["automation_id"] == "a"
    assert last.attributes["message"] == "door locked"
    assert last.attributes["duration_ms"] == 12


async def test_counters_saved_at_stop_are_the_counts_as_they_are(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, hass_storage: dict[str, Any]
) -> None:
    """HA's save at stop holds each count now, not the one last written."""
    await setup_bridge(hass, **{CONF_FORWARD_EVENT_TYPES: ["bench_like"]})
    await hass.async_block_till_done()
    await entities_follow(hass)
    await _burst(hass, 30, 3)
    await restore_state.async_get(hass).async_dump_states()
    saved = {
        item["state"]["entity_id"].removeprefix(PREFIX): item.get("extra_data")
        for item in hass_storage[restore_state.STORAGE_KEY]["data"]
    }
    for key, value in EXACT.items():
        assert saved[key]["value"] == int(value)
    assert saved["last_response"]["value"] == "success"
    await hass.config_entries.async_unload(
        hass.config_entries.async_entries("mqtt_event_bridge")[0].entry_id
    )


async def test_last_response_comes_back_after_a_restart(
    hass: HomeAssistant, only_platform: list[Platform], mqtt_mock: MqttMockHAClient
) -> None:
    """Saved at stop with its attributes, shown again; an odd one stays unknown."""
    attributes = {
        "automation_id": "a",
        "topic": "ha-ai/responses/automation/a",
        "received_at": "2026-12-07T10:00:00+00:00",
        "event_id": None,
        "message": "door locked",
        "duration_ms": 12,
    }
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State(f"{PREFIX}last_response", "unknown"),
                {"value": "error", "attributes": attributes},
            ),
            (
                State(f"{PREFIX}events_published", "3"),
                {"value": 7, "attributes": None},
            ),
        ],
    )
    await _setup(hass, make_entry(), Platform.SENSOR, only_platform)
    last = _state(hass, "last_response")
    assert last.state == "error"
    assert last.attributes["received_at"] == "2026-12-07T10:00:00+00:00"
    assert last.attributes["message"] == "door locked"
    # The saved count, not the state last written.
    assert _state(hass, "events_published").state == "7"


@pytest.mark.parametrize(
    "attributes",
    [
        {},
        {"automation_id": 5, "topic": "t", "received_at": "2026-12-07T10:00:00Z"},
        {"automation_id": "a", "topic": "t", "received_at": "not a time"},
        {"automation_id": "a", "topic": "t", "received_at": "2026-12-07T10:00:00"},
        {"automation_id": "a", "topic": None, "received_at": "2026-12-07T10:00:00Z"},
    ],
)
async def test_an_unsound_saved_last_response_stays_unknown(
    hass: HomeAssistant,
    only_platform: list[Platform],
    mqtt_mock: MqttMockHAClient,
    attributes: dict[str, Any],
) -> None:
    """What a response could not have been (an edited file) is not shown."""
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State(f"{PREFIX}last_response", "unknown"),
                {"value": "error", "attributes": attributes},
            )
        ],
    )
    await _setup(hass, make_entry(), Platform.SENSOR, only_platform)
    assert _state(hass, "last_response").state == "unknown"


async def test_rarely_needed_measurements_start_disabled(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    """The three measurements start disabled; every counter, loss included, is on."""
    entries = er.async_entries_for_config_entry(
        entity_registry, init_integration.entry_id
    )
    disabled = {
        entry.entity_id
        for entry in entries
        if entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    }
    assert disabled == {
        "sensor.mqtt_event_bridge_ha_ai_response_round_trip",
        "sensor.mqtt_event_bridge_ha_ai_outbox_size",
        "sensor.mqtt_event_bridge_ha_ai_last_publish_latency",
    }
    enabled = {entry.entity_id for entry in entries} - disabled
    for loss in (
        "rejected_responses",
        "events_expired",
        "events_overflowed",
        "publish_failures",
        "events_unacknowledged",
        "forwarded_events_dropped",
    ):
        assert f"sensor.mqtt_event_bridge_ha_ai_{loss}" in enabled
    assert len(enabled) == 13
