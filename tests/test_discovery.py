"""MQTT discovery, against PHACC's mocked client (which feeds HA's own discovery)."""

import asyncio
from datetime import timedelta
import json
import logging
from typing import Any

from homeassistant.components.device_automation import (
    DeviceAutomationType,
    async_get_device_automations,
)
from homeassistant.components.mqtt import MQTT_CONNECTION_STATE
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_mqtt_message,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.typing import MqttMockHAClient
from syrupy.assertion import SnapshotAssertion

from custom_components.mqtt_event_bridge.const import (
    CONF_DISCOVERY,
    CONF_EVENT_TYPES,
    CONF_TOPIC_PREFIX,
    DISCOVERY_REPUBLISH_COOLDOWN,
    DOMAIN,
)
from custom_components.mqtt_event_bridge.discovery_payloads import (
    readable_name,
    readable_names,
)
from custom_components.mqtt_event_bridge.entity import device_config_entries
from tests.conftest import call_action, make_entry

# Newer HA keeps identifiers, and so devices, per config entry.
SHARED_DEVICES = not hasattr(dr.DeviceRegistry, "async_get_device_by_identifier")


def _retained(mqtt_mock: MqttMockHAClient, entry_id: str) -> list[tuple[str, Any]]:
    """Retained publishes, the entry id replaced so that payloads are stable."""
    result = []
    for call in mqtt_mock.async_publish.call_args_list:
        if call.args[3]:
            topic = call.args[0].replace(entry_id, "ENTRY")
            payload = call.args[1].replace(entry_id, "ENTRY")
            result.append(
                (topic, json.loads(payload) if payload[:1] == "{" else payload)
            )
    return result


def _device_configs(mqtt_mock: MqttMockHAClient, entry_id: str) -> list[Any]:
    return [
        payload
        for topic, payload in _retained(mqtt_mock, entry_id)
        if topic == "homeassistant/device/mqtt_event_bridge_ENTRY/config"
    ]


async def test_configs_on_setup(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    """Availability first, then one device config with every component."""
    retained = _retained(mqtt_mock, init_integration.entry_id)
    assert retained[0] == ("ha-ai/availability", "online")
    assert retained == snapshot


async def test_ha_creates_the_entities_and_triggers(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """HA's MQTT discovery turns the configs into entities on the events device.

    On every HA version: two devices, named for what they hold, so that the
    automation editor's device list tells them apart.
    """
    await hass.async_block_till_done()
    [own_device] = dr.async_entries_for_config_entry(
        device_registry, init_integration.entry_id
    )
    mqtt_entry = hass.config_entries.async_entries("mqtt")[0]
    [device] = dr.async_entries_for_config_entry(device_registry, mqtt_entry.entry_id)
    assert own_device.name == "MQTT Event Bridge ha-ai"
    assert device.name == "MQTT Event Bridge ha-ai events"
    assert device.id != own_device.id
    own = {
        e.platform for e in er.async_entries_for_device(entity_registry, own_device.id)
    }
    assert own == {"mqtt_event_bridge"}
    names = {
        e.entity_id: e.original_name
        for e in er.async_entries_for_device(entity_registry, device.id)
    }
    assert names == {
        "event.mqtt_event_bridge_ha_ai_events_suggestion_generated": (
            "Suggestion generated"
        ),
        "event.mqtt_event_bridge_ha_ai_events_status_analysis_complete": (
            "Status analysis complete"
        ),
        "event.mqtt_event_bridge_ha_ai_events_camera_detection": "Camera detection",
    }
    discovered = {
        e.entity_id
        for e in er.async_entries_for_device(entity_registry, device.id)
        if e.platform == "mqtt"
    }
    assert discovered == {
        "event.mqtt_event_bridge_ha_ai_events_suggestion_generated",
        "event.mqtt_event_bridge_ha_ai_events_status_analysis_complete",
        "event.mqtt_event_bridge_ha_ai_events_camera_detection",
    }
    triggers = await async_get_device_automations(
        hass, DeviceAutomationType.TRIGGER, [device.id]
    )
    subtypes = {t["subtype"] for t in triggers[device.id] if t["domain"] == "mqtt"}
    assert subtypes == {
        "suggestion/generated",
        "status/analysis_complete",
        "camera/detection",
    }


@pytest.mark.parametrize(
    ("event_type", "name"),
    [
        ("suggestion/generated", "Suggestion generated"),
        ("status/analysis_complete", "Status analysis complete"),
        ("a-b/c__d", "A b c d"),
        ("x", "X"),
        ("ha/state_changed", "State changed (Home Assistant event)"),
        ("ha/ios.action_fired", "Ios action fired (Home Assistant event)"),
    ],
)
def test_readable_names(event_type: str, name: str) -> None:
    """Event entities are named in words, not by their topic levels."""
    assert readable_name(event_type) == name


def test_types_that_read_alike_get_distinct_names() -> None:
    """The first keeps its words; the others say which type they are."""
    assert readable_names(
        ["door/open_close", "door_open/close", "door-open/close", "garage"]
    ) == {
        "door/open_close": "Door open close",
        "door_open/close": "Door open close (door_open/close)",
        "door-open/close": "Door open close (door-open/close)",
        "garage": "Garage",
    }


async def test_discovered_entities_of_alike_types_have_distinct_names(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """Three types that read alike become three differently named entities."""
    types = ["door/open_close", "door_open/close", "door-open/close"]
    entry = make_entry()
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, options={CONF_EVENT_TYPES: types})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    [config] = _device_configs(mqtt_mock, entry.entry_id)
    names = [
        c["name"] for c in config["components"].values() if c["platform"] == "event"
    ]
    assert len(set(names)) == len(names) == 4  # and the camera's


@pytest.mark.usefixtures("mqtt_mock")
async def test_device_shared_by_earlier_versions_is_split(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The device earlier versions shared becomes the events device; its id stays.

    Automations with a device trigger name that id, so the event types keep
    it; the bridge's own entities move to a device of their own.
    """
    mock_config_entry.add_to_hass(hass)
    mqtt_entry = hass.config_entries.async_entries("mqtt")[0]
    shared = {
        (DOMAIN, mock_config_entry.entry_id),
        ("mqtt", f"mqtt_event_bridge_{mock_config_entry.entry_id}"),
    }
    # As earlier versions registered it: from the bridge, then from discovery.
    old = device_registry.async_get_or_create(
        config_entry_id=mock_config_entry.entry_id,
        identifiers=shared,
        name="MQTT Event Bridge ha-ai",
    )
    events = device_registry.async_get_or_create(
        config_entry_id=mqtt_entry.entry_id,
        identifiers={("mqtt", f"mqtt_event_bridge_{mock_config_entry.entry_id}")},
        name="MQTT Event Bridge ha-ai",
    )
    assert (events.id == old.id) is SHARED_DEVICES

    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()

    [own] = dr.async_entries_for_config_entry(
        device_registry, mock_config_entry.entry_id
    )
    assert own.identifiers == {(DOMAIN, mock_config_entry.entry_id)}
    assert own.name == "MQTT Event Bridge ha-ai"
    assert {
        e.platform for e in er.async_entries_for_device(entity_registry, own.id)
    } == {DOMAIN}
    kept = device_registry.async_get(events.id)
    assert kept is not None
    assert device_config_entries(kept) == {mqtt_entry.entry_id}
    assert kept.name == "MQTT Event Bridge ha-ai events"
    assert own.id != kept.id
    # HA 2026.10 warns that the lookup by identifiers alone goes in 2027.8.
    assert "device_registry.async_get_device`" not in caplog.text


@pytest.mark.usefixtures("mqtt_mock")
async def test_bridge_device_of_earlier_versions_keeps_its_id(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """A device of the bridge alone (discovery was off) drops MQTT's identifier."""
    mock_config_entry.add_to_hass(hass)
    ours = (DOMAIN, mock_config_entry.entry_id)
    old = device_registry.async_get_or_create(
        config_entry_id=mock_config_entry.entry_id,
        identifiers={ours, ("mqtt", f"mqtt_event_bridge_{mock_config_entry.entry_id}")},
    )

    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()

    [own] = dr.async_entries_for_config_entry(
        device_registry, mock_config_entry.entry_id
    )
    assert own.id == old.id
    assert own.identifiers == {ours}


async def test_first_publish_adds_a_type_for_good(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    """A type first seen in a publish is offered at once and after a reload."""
    entry_id = init_integration.entry_id
    await call_action(hass, "publish_event", {"event_type": "pattern/alert"})
    await call_action(hass, "publish_status", {"name": "model_loaded"})
    await call_action(hass, "publish_event", {"event_type": "pattern/alert"})
    await hass.async_block_till_done()
    latest = _device_configs(mqtt_mock, entry_id)[-1]["components"]
    offered = {c["event_types"][0] for c in latest.values() if c["platform"] == "event"}
    assert offered == {
        "suggestion/generated",
        "status/analysis_complete",
        "camera/detection",
        "pattern/alert",
        "status/model_loaded",
    }
    # Each new type costs one config publish; a known one none.
    assert len(_device_configs(mqtt_mock, entry_id)) == 3

    mqtt_mock.async_publish.reset_mock()
    assert await hass.config_entries.async_reload(entry_id)
    await hass.async_block_till_done()
    latest = _device_configs(mqtt_mock, entry_id)[-1]["components"]
    assert "pattern/alert" in {c.get("subtype") for c in latest.values()}


async def test_status_types_are_reserved_for_status_notices(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    """publish_event may not use status/..., which discovery maps to status topics."""
    with pytest.raises(ServiceValidationError) as err:
        await call_action(hass, "publish_event", {"event_type": "status/x"})
    assert err.value.translation_key == "status_type_reserved"


async def test_republished_on_birth_and_reconnect(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    """HA's birth message and a reconnect bring the configs back."""
    entry_id = init_integration.entry_id
    mqtt_mock.async_publish.reset_mock()
    async_fire_mqtt_message(hass, "homeassistant/status", "offline")
    await hass.async_block_till_done()
    assert _device_configs(mqtt_mock, entry_id) == []

    async_fire_mqtt_message(hass, "homeassistant/status", "online")
    await hass.async_block_till_done()
    assert len(_device_configs(mqtt_mock, entry_id)) == 1

    mqtt_mock.connected = True
    async_dispatcher_send(hass, MQTT_CONNECTION_STATE, True)
    await hass.async_block_till_done()
    assert len(_device_configs(mqtt_mock, entry_id)) == 2


async def test_unload_and_stop_say_offline_and_keep_configs(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    """Offline on unload and on HA stop; configs stay so entities survive."""
    entry_id = init_integration.entry_id
    mqtt_mock.async_publish.reset_mock()
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert _retained(mqtt_mock, entry_id) == [("ha-ai/availability", "offline")]

    mqtt_mock.async_publish.reset_mock()
    assert await hass.config_entries.async_unload(entry_id)
    assert _retained(mqtt_mock, entry_id) == [("ha-ai/availability", "offline")]


@pytest.mark.parametrize("removed_type", [False, True])
async def test_ha_stop_ends_a_publish_of_everything_under_way(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
    removed_type: bool,
) -> None:
    """A republish that HA's stop finds under way publishes no config after it.

    So no discovery task is left for HA to cancel after its last writes.
    """
    entry_id = init_integration.entry_id
    if removed_type:
        # A config topic to clear, as after a change of the discovery prefix.
        discovery = init_integration.runtime_data.discovery
        discovery._record.published["old/device/x/config"] = {"a": "event"}
    release = asyncio.Event()
    held: list[str] = []

    async def slow(topic: str, *_args: Any, **_kwargs: Any) -> None:
        held.append(topic)
        await release.wait()

    mqtt_mock.async_publish.reset_mock()
    mqtt_mock.async_publish.side_effect = slow
    async_dispatcher_send(hass, MQTT_CONNECTION_STATE, True)
    for _ in range(5):
        await asyncio.sleep(0)
    assert held == ["ha-ai/availability"]
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    mqtt_mock.async_publish.side_effect = None
    release.set()
    await hass.async_block_till_done()
    topics = [topic for topic, _ in _retained(mqtt_mock, entry_id)]
    assert topics == ["ha-ai/availability", "ha-ai/availability"]


async def test_options_remove_a_type_then_turn_discovery_off(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    """A dropped type is removed from the device; discovery off clears the config."""
    entry_id = init_integration.entry_id
    mqtt_mock.async_publish.reset_mock()
    hass.config_entries.async_update_entry(
        init_integration, options={CONF_EVENT_TYPES: ["suggestion/generated"]}
    )
    await hass.async_block_till_done()
    components = _device_configs(mqtt_mock, entry_id)[-1]["components"]
    removed = {k: v for k, v in components.items() if set(v) == {"platform"}}
    assert sorted(v["platform"] for v in removed.values()) == [
        "device_automation",
        "event",
    ]
    assert all(k.startswith("status_analysis_complete_") for k in removed)
    # That HA then removes the entities is shown against a real broker: the
    # mocked client echoes retained publishes with the retain flag, and HA
    # takes only the first retained message per topic, as a broker sends them.

    mqtt_mock.async_publish.reset_mock()
    hass.config_entries.async_update_entry(
        init_integration,
        options={CONF_EVENT_TYPES: ["suggestion/generated"], CONF_DISCOVERY: False},
    )
    await hass.async_block_till_done()
    assert _retained(mqtt_mock, entry_id) == [
        ("ha-ai/availability", "offline"),
        ("ha-ai/availability", "online"),
        ("homeassistant/device/mqtt_event_bridge_ENTRY/config", ""),
    ]


async def test_new_prefix_clears_the_old_availability(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    """After a prefix change nothing is left under the old prefix."""
    entry_id = init_integration.entry_id
    mqtt_mock.async_publish.reset_mock()
    result = await init_integration.start_reconfigure_flow(hass)
    await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOPIC_PREFIX: "home/ai"}
    )
    await hass.async_block_till_done()
    retained = _retained(mqtt_mock, entry_id)
    assert retained[:3] == [
        ("ha-ai/availability", "offline"),
        ("ha-ai/availability", ""),
        ("home/ai/availability", "online"),
    ]
    topics = {
        c.get("state_topic")
        for c in _device_configs(mqtt_mock, entry_id)[-1]["components"].values()
    }
    assert "home/ai/events/suggestion/generated" in topics


async def test_removal_clears_everything(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """Removing the bridge clears its config and availability, and its store."""
    entry_id = init_integration.entry_id
    await hass.async_block_till_done()
    mqtt_mock.async_publish.reset_mock()
    await hass.config_entries.async_remove(entry_id)
    await hass.async_block_till_done()
    assert sorted(_retained(mqtt_mock, entry_id)) == [
        ("ha-ai/availability", ""),
        ("ha-ai/availability", "offline"),
        ("homeassistant/device/mqtt_event_bridge_ENTRY/config", ""),
    ]
    assert f"mqtt_event_bridge.{entry_id}.discovery" not in hass_storage


async def test_removal_of_a_bridge_that_never_started(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """Nothing was published, so nothing is cleared."""
    entry = make_entry()
    entry.add_to_hass(hass)
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert [c for c in mqtt_mock.async_publish.call_args_list if c.args[3]] == []


async def test_type_limit(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Past the limit, new types are published but not offered."""
    monkeypatch.setattr(
        "custom_components.mqtt_event_bridge.discovery_record.MAX_EVENT_TYPES", 1
    )
    await call_action(hass, "publish_event", {"event_type": "one"})
    await call_action(hass, "publish_event", {"event_type": "two"})
    await hass.async_block_till_done()
    names = {
        c.get("subtype")
        for c in _device_configs(mqtt_mock, init_integration.entry_id)[-1][
            "components"
        ].values()
    }
    assert "one" in names
    assert "two" not in names
    assert any(
        r.levelno == logging.WARNING and "two" in r.message for r in caplog.records
    )


async def test_waits_for_the_broker_then_publishes(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """Nothing is published while disconnected; everything once connected.

    A bridge that never reached the broker leaves no availability to clear.
    """
    mqtt_mock.connected = False
    entry = make_entry()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    retained = _retained(mqtt_mock, entry.entry_id)
    assert retained == []

    assert await hass.config_entries.async_unload(entry.entry_id)
    mqtt_mock.async_publish.reset_mock()
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert _retained(mqtt_mock, entry.entry_id) == []


async def test_connecting_later_publishes(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """The configs go out when MQTT connects after the bridge started."""
    mqtt_mock.connected = False
    entry = make_entry()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    mqtt_mock.connected = True
    async_dispatcher_send(hass, MQTT_CONNECTION_STATE, True)
    await hass.async_block_till_done()
    assert len(_device_configs(mqtt_mock, entry.entry_id)) == 1


@pytest.mark.parametrize(
    "mqtt_config_entry_options", [{"birth_message": {}, "will_message": {}}]
)
async def test_without_a_will_only_the_bridge_decides(
    hass: HomeAssistant,
    mqtt_config_entry_options: dict[str, Any],
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
) -> None:
    """If HA sends no will, its status topic cannot mark entities unavailable."""
    [config] = _device_configs(mqtt_mock, init_integration.entry_id)
    assert config["availability"] == [{"topic": "ha-ai/availability"}]


async def test_removal_while_the_broker_refuses(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A config that cannot be cleared is reported, not silently left."""
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    mqtt_mock.async_publish.side_effect = HomeAssistantError("broker says no")
    await hass.config_entries.async_remove(init_integration.entry_id)
    await hass.async_block_till_done()
    assert "Could not clear" in caplog.text
    assert "broker says no" in caplog.text


async def test_birth_messages_are_coalesced(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    """Bursts of "online" from anyone: one publish now, one after the cooldown."""
    entry_id = init_integration.entry_id
    await hass.async_block_till_done()
    mqtt_mock.async_publish.reset_mock()
    for _ in range(2):
        # During the first publish, and after it within the cooldown.
        for _ in range(100):
            async_fire_mqtt_message(hass, "homeassistant/status", "online")
        await hass.async_block_till_done()
        assert len(_device_configs(mqtt_mock, entry_id)) == 1

    async_fire_time_changed(
        hass, dt_util.utcnow() + timedelta(seconds=DISCOVERY_REPUBLISH_COOLDOWN + 1)
    )
    await hass.async_block_till_done()
    assert len(_device_configs(mqtt_mock, entry_id)) == 2
    # Quiet since: nothing more to publish.
    async_fire_time_changed(
        hass, dt_util.utcnow() + timedelta(seconds=3 * DISCOVERY_REPUBLISH_COOLDOWN)
    )
    await hass.async_block_till_done()
    assert len(_device_configs(mqtt_mock, entry_id)) == 2


async def test_requests_during_a_publish_make_one_more(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    """Reconnects while configs are being published are served by one more round."""
    entry_id = init_integration.entry_id
    await hass.async_block_till_done()
    mqtt_mock.async_publish.reset_mock()
    for _ in range(5):
        async_dispatcher_send(hass, MQTT_CONNECTION_STATE, True)
    await hass.async_block_till_done()
    assert len(_device_configs(mqtt_mock, entry_id)) == 2


async def test_type_limit_warns_once(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A caller publishing new types past the limit is told once a minute."""
    monkeypatch.setattr(
        "custom_components.mqtt_event_bridge.discovery_record.MAX_EVENT_TYPES", 0
    )
    for n in range(50):
        await call_action(hass, "publish_event", {"event_type": f"type{n}"})
    await hass.async_block_till_done()
    assert len([r for r in caplog.records if "Not adding" in r.message]) == 1


@pytest.mark.parametrize(
    "data",
    [
        ["not", "a", "dict"],
        {"event_types": "x", "published": [], "prefix": 5},
        {"event_types": [1, "a/+", "ok/type", "ok/type"], "published": {}},
        {"published": {"a/#": {"x": "event"}, "homeassistant/x/config": "event"}},
        {"prefix": "$SYS"},
    ],
)
async def test_a_corrupted_discovery_store_does_not_stop_the_bridge(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    hass_storage: dict[str, Any],
    data: Any,
) -> None:
    """What is sound is kept, the rest dropped; the bridge starts and publishes."""
    entry = make_entry()
    entry.add_to_hass(hass)
    key = f"mqtt_event_bridge.{entry.entry_id}.discovery"
    hass_storage[key] = {"version": 1, "key": key, "data": data}
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    discovery = entry.runtime_data.discovery
    assert all(isinstance(topic, str) for topic in discovery.published_topics)
    expected_types = ["suggestion/generated", "status/analysis_complete"]
    if isinstance(data, dict) and isinstance(data.get("event_types"), list):
        expected_types.append("ok/type")
    assert discovery.event_types == expected_types
    retained = [topic for topic, _ in _retained(mqtt_mock, entry.entry_id)]
    assert "homeassistant/device/mqtt_event_bridge_ENTRY/config" in retained
    assert all("#" not in topic and "$" not in topic for topic in retained)


async def test_a_discovery_store_of_another_version_is_skipped(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, hass_storage: dict[str, Any]
) -> None:
    """A version the bridge cannot migrate counts as no saved state."""
    entry = make_entry()
    entry.add_to_hass(hass)
    key = f"mqtt_event_bridge.{entry.entry_id}.discovery"
    hass_storage[key] = {"version": 9, "key": key, "data": {}}
    assert await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.LOADED


async def test_removal_without_a_saved_prefix(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, hass_storage: dict[str, Any]
) -> None:
    """Topics saved without a prefix are cleared; there is no availability to clear."""
    entry = make_entry()
    entry.add_to_hass(hass)
    key = f"mqtt_event_bridge.{entry.entry_id}.discovery"
    topic = "homeassistant/device/old/config"
    hass_storage[key] = {
        "version": 1,
        "key": key,
        "data": {"event_types": [], "published": {topic: {"a": "event"}}},
    }
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert [(c.args[0], c.args[1]) for c in mqtt_mock.async_publish.call_args_list] == [
        (topic, "")
    ]
    assert key not in hass_storage
