"""Entities pinned with snapshots; counters restored across restarts."""

from collections.abc import AsyncGenerator
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_mqtt_message,
    async_fire_time_changed,
    mock_restore_cache,
    snapshot_platform,
)
from pytest_homeassistant_custom_component.typing import MqttMockHAClient
from syrupy.assertion import SnapshotAssertion

from tests.conftest import entities_follow, make_entry

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
