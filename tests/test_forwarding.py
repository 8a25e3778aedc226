"""Forwarding HA's own events, against PHACC's mocked MQTT client."""

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
import json
import logging
import random
import re
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import (
    EVENT_CALL_SERVICE,
    EVENT_LOGGING_CHANGED,
    EVENT_STATE_CHANGED,
    EVENT_STATE_REPORTED,
)
from homeassistant.core import (
    Context,
    Event,
    EventOrigin,
    HomeAssistant,
    State,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.json import json_bytes
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    async_fire_mqtt_message,
    async_mock_service,
)
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.mqtt_event_bridge.const import (
    CONF_DISCOVERY,
    CONF_FORWARD_DISCOVERY,
    CONF_FORWARD_ENTITIES,
    CONF_FORWARD_EVENT_TYPES,
    CONF_FORWARD_RATE,
    DOMAIN,
    MAX_FORWARD_DEPTH,
    MAX_PAYLOAD_BYTES,
)
from custom_components.mqtt_event_bridge.forwarding import EventForwarder, entity_filter
from custom_components.mqtt_event_bridge.json_safe import (
    MAX_VALUES,
    TooLarge,
    json_safe,
)
from custom_components.mqtt_event_bridge.models import BridgeConfigEntry
from custom_components.mqtt_event_bridge.topics import is_valid_forward_type
from tests.conftest import (
    call_action,
    doc_example,
    entities_follow,
    published,
    set_connected,
    setup_bridge,
)

TOPIC = "ha-ai/events/ha/{}"
FORWARDED = "sensor.mqtt_event_bridge_ha_ai_events_forwarded"


def _forwarder(entry: ConfigEntry) -> EventForwarder:
    bridge: BridgeConfigEntry = entry
    return bridge.runtime_data.forwarder


def _forwarded(mqtt_mock: MqttMockHAClient, event_type: str) -> list[dict[str, Any]]:
    """Payloads of the forwarded events of one type, in publish order."""
    return [
        payload
        for topic, payload, _, _ in published(mqtt_mock)
        if topic == TOPIC.format(event_type)
    ]


async def test_an_event_is_forwarded_in_the_envelope(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """Topic, envelope, data, origin and context, at the bridge's QoS and TTL."""
    await setup_bridge(hass, **{CONF_FORWARD_EVENT_TYPES: ["ai_suggestion"]})
    context = Context()
    hass.bus.async_fire(
        "ai_suggestion", {"title": "Lights off at 23:00", "score": 0.9}, context=context
    )
    hass.bus.async_fire("ai_suggestion", {"n": 2}, origin=EventOrigin.remote)
    hass.bus.async_fire("not_picked", {"n": 3})
    await hass.async_block_till_done()

    calls = [
        call
        for call in mqtt_mock.async_publish.call_args_list
        if call.args[0] == TOPIC.format("ai_suggestion")
    ]
    assert [(call.args[2], call.args[3]) for call in calls] == [(1, False)] * 2
    first, second = _forwarded(mqtt_mock, "ai_suggestion")
    assert first["event_type"] == "ha/ai_suggestion"
    assert first["data"] == {"title": "Lights off at 23:00", "score": 0.9}
    assert first["origin"] == "LOCAL"
    assert first["context_id"] == context.id
    assert first["ttl"] == 30
    assert set(first) == {
        "event_id",
        "event_type",
        "timestamp",
        "ttl",
        "expires_at",
        "data",
        "origin",
        "context_id",
    }
    assert second["origin"] == "REMOTE"
    assert second["data"] == {"n": 2}
    assert all(t != TOPIC.format("not_picked") for t, *_ in published(mqtt_mock))
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    assert _forwarder(entry).counters.forwarded == 2


@pytest.mark.parametrize("offered", [False, True])
async def test_forwarded_events_reach_the_client_in_order(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, offered: bool
) -> None:
    """Each event reaches HA's MQTT client, in the order fired.

    With the type offered for discovery too, once its first event has waited
    for HA's subscription.
    """
    options = {
        CONF_FORWARD_EVENT_TYPES: ["ai_suggestion"],
        CONF_FORWARD_DISCOVERY: offered,
    }
    await setup_bridge(hass, **options)
    for n in range(3):
        hass.bus.async_fire("ai_suggestion", {"n": n})
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [p["data"] for p in _forwarded(mqtt_mock, "ai_suggestion")] == [
        {"n": 0},
        {"n": 1},
        {"n": 2},
    ]


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_the_bus_call_writes_no_entity_state(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, freezer: FrozenDateTimeFactory
) -> None:
    """After a quiet spell too, the entities follow later, never in the bus's call.

    And only the entities whose state changed are written.
    """
    entry = await setup_bridge(hass, **{CONF_FORWARD_EVENT_TYPES: ["ai_suggestion"]})
    own = {
        e.entity_id
        for e in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    }
    # The updates of the setup are done, and every cooldown has ended.
    await entities_follow(hass)
    freezer.tick(timedelta(seconds=5))
    written: list[str] = []

    @callback
    def is_own(data: Mapping[str, Any]) -> bool:
        return data["entity_id"] in own

    @callback
    def record(event: Event[Any]) -> None:
        written.append(event.data["entity_id"])

    hass.bus.async_listen(EVENT_STATE_CHANGED, record, event_filter=is_own)
    hass.bus.async_listen(EVENT_STATE_REPORTED, record, event_filter=is_own)
    hass.bus.async_fire("ai_suggestion", {"n": 1})
    assert written == []
    await hass.async_block_till_done()
    assert len(_forwarded(mqtt_mock, "ai_suggestion")) == 1

    # Then, once the client's send has ended (a later turn) and the second
    # after it has passed, only what changed: the forward's and the send's
    # counters and the latency.
    await entities_follow(hass)
    await entities_follow(hass)
    state = hass.states.get(FORWARDED)
    assert state is not None
    assert state.state == "1"
    assert sorted(written) == [
        FORWARDED,
        "sensor.mqtt_event_bridge_ha_ai_events_published",
        "sensor.mqtt_event_bridge_ha_ai_last_publish_latency",
    ]


async def test_the_readme_payload_is_what_goes_out(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """The documented forwarded state_changed has the keys a real one has."""
    example = json.loads(doc_example("forwarded-state-changed", "json"))
    await setup_bridge(hass, **{CONF_FORWARD_EVENT_TYPES: ["state_changed"]})
    hass.states.async_set("light.kitchen", "off")
    hass.states.async_set("light.kitchen", "on")
    await hass.async_block_till_done()
    real = _forwarded(mqtt_mock, "state_changed")[-1]

    def shape(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: shape(item) for key, item in value.items()}
        return type(value).__name__

    assert shape(example) == shape(real)
    assert example["event_type"] == real["event_type"]
    assert example["data"]["new_state"]["state"] == real["data"]["new_state"]["state"]


async def test_forwarded_events_wait_out_an_outage_in_order(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """Through the outbox like any event: kept while down, then sent in order."""
    entry = await setup_bridge(hass, **{CONF_FORWARD_EVENT_TYPES: ["ai_suggestion"]})
    set_connected(hass, mqtt_mock, False)
    await hass.async_block_till_done()
    for n in range(3):
        hass.bus.async_fire("ai_suggestion", {"n": n})
    await hass.async_block_till_done()
    assert _forwarded(mqtt_mock, "ai_suggestion") == []
    bridge: BridgeConfigEntry = entry
    assert bridge.runtime_data.publisher.outbox_size == 3
    set_connected(hass, mqtt_mock, True)
    await hass.async_block_till_done()
    assert [p["data"]["n"] for p in _forwarded(mqtt_mock, "ai_suggestion")] == [
        0,
        1,
        2,
    ]
    assert bridge.runtime_data.publisher.counters.published == 3


async def test_state_changes_follow_the_entity_filter(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """Domains, entity ids and globs pick the state changes that go out."""
    await setup_bridge(
        hass,
        **{
            CONF_FORWARD_EVENT_TYPES: ["state_changed"],
            CONF_FORWARD_ENTITIES: ["light", "sensor.*_temperature", "switch.pump"],
        },
    )
    for entity_id in (
        "light.kitchen",
        "sensor.attic_temperature",
        "sensor.attic_humidity",
        "switch.pump",
        "switch.fan",
    ):
        hass.states.async_set(entity_id, "1", {"unit": "x"})
    await hass.async_block_till_done()
    forwarded = _forwarded(mqtt_mock, "state_changed")
    assert [p["data"]["entity_id"] for p in forwarded] == [
        "light.kitchen",
        "sensor.attic_temperature",
        "switch.pump",
    ]
    new_state = forwarded[0]["data"]["new_state"]
    assert new_state["state"] == "1"
    assert new_state["attributes"] == {"unit": "x"}
    assert forwarded[0]["data"]["old_state"] is None


async def test_what_the_bridge_causes_is_not_forwarded(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, entity_registry: er.EntityRegistry
) -> None:
    """Its entities, its discovered entities, its actions, and what they cause."""
    entry = await setup_bridge(
        hass, **{CONF_FORWARD_EVENT_TYPES: ["state_changed", "call_service", "chain"]}
    )
    forwarder = _forwarder(entry)
    # An event entity discovery made (its echo of a published event).
    discovered = entity_registry.async_get_or_create(
        "event", "mqtt", f"mqtt_event_bridge_{entry.entry_id}_x_event"
    )
    # Another integration's entity, and an MQTT entity of someone else.
    other = entity_registry.async_get_or_create("event", "mqtt", "someone_else_x")
    await hass.async_block_till_done()

    # The bridge's own action: its call_service and its sensors' changes.
    await call_action(hass, "publish_event", {"event_type": "x"})
    await hass.async_block_till_done()
    own_sensor = entity_registry.async_get_entity_id(
        "sensor", DOMAIN, "ha-ai_events_published"
    )
    assert own_sensor is not None
    hass.states.async_set(own_sensor, "5")
    echo = Context()
    hass.states.async_set(discovered.entity_id, "2026-12-01", context=echo)
    # An automation the echo triggered: its service calls and what they change.
    caused = Context(parent_id=echo.id)
    hass.bus.async_fire("chain", {"by": "automation"}, context=caused)
    hass.states.async_set("light.caused", "on", context=caused)
    await hass.async_block_till_done()
    before = [p["data"] for p in _forwarded(mqtt_mock, "state_changed")]
    assert all(d["entity_id"] not in (own_sensor, discovered.entity_id) for d in before)
    assert _forwarded(mqtt_mock, "chain") == []
    assert not any(
        p["data"]["domain"] == DOMAIN for p in _forwarded(mqtt_mock, "call_service")
    )
    assert forwarder.counters.own >= 5

    # What the user does is forwarded, the same kinds of events.
    async_mock_service(hass, "light", "turn_on")
    await hass.services.async_call("light", "turn_on", {}, blocking=True)
    hass.states.async_set(other.entity_id, "2026-12-01")
    hass.states.async_set("light.user", "on")
    hass.bus.async_fire("chain", {"by": "user"})
    await hass.async_block_till_done()
    assert [p["data"]["domain"] for p in _forwarded(mqtt_mock, "call_service")] == [
        "light"
    ]
    changed = [p["data"]["entity_id"] for p in _forwarded(mqtt_mock, "state_changed")]
    assert changed[-2:] == [other.entity_id, "light.user"]
    assert "light.caused" not in changed
    assert [p["data"] for p in _forwarded(mqtt_mock, "chain")] == [{"by": "user"}]


async def test_a_new_bridge_entity_is_known_at_once(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, entity_registry: er.EntityRegistry
) -> None:
    """An entity discovery adds later (a new event type) is not forwarded either."""
    entry = await setup_bridge(hass, **{CONF_FORWARD_EVENT_TYPES: ["state_changed"]})
    added = entity_registry.async_get_or_create(
        "event", "mqtt", f"mqtt_event_bridge_{entry.entry_id}_new_event"
    )
    await hass.async_block_till_done()
    hass.states.async_set(added.entity_id, "2026-12-01")
    hass.states.async_set("light.user", "on")
    await hass.async_block_till_done()
    assert [p["data"]["entity_id"] for p in _forwarded(mqtt_mock, "state_changed")] == [
        "light.user"
    ]


async def test_bridge_entities_are_followed_through_renames_and_removal(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, entity_registry: er.EntityRegistry
) -> None:
    """Renamed, a bridge entity stays the bridge's; not its old id, nor one removed."""
    entry = await setup_bridge(hass, **{CONF_FORWARD_EVENT_TYPES: ["state_changed"]})
    made = entity_registry.async_get_or_create(
        "event",
        "mqtt",
        f"mqtt_event_bridge_{entry.entry_id}_made",
        suggested_object_id="made",
    )
    other = entity_registry.async_get_or_create(
        "light", "hue", "1", suggested_object_id="hue"
    )
    entity_registry.async_update_entity(made.entity_id, new_entity_id="event.renamed")
    await hass.async_block_till_done()

    def changes(*entity_ids: str) -> None:
        for entity_id in entity_ids:
            hass.states.async_set(entity_id, "x")

    changes("event.renamed", "event.made", other.entity_id)
    await hass.async_block_till_done()
    entity_registry.async_remove("event.renamed")
    await hass.async_block_till_done()
    hass.states.async_set("event.renamed", "y")
    await hass.async_block_till_done()
    assert [p["data"]["entity_id"] for p in _forwarded(mqtt_mock, "state_changed")] == [
        # The old id now belongs to no bridge entity.
        "event.made",
        other.entity_id,
        "event.renamed",
    ]


async def test_data_json_cannot_write_is_made_safe(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Huge integers, lone surrogates, deep nesting, odd keys and objects."""
    entry = await setup_bridge(hass, **{CONF_FORWARD_EVENT_TYPES: ["odd"]})
    deep: list[Any] = []
    inner = deep
    for _ in range(300):
        inner.append([])
        inner = inner[0]

    class Thing:
        def __str__(self) -> str:
            return "a thing"

    odd: dict[Any, Any] = {
        "big": 2**70,
        "small": -(2**63),
        "text": "ok \ud800 end",
        "deep": deep,
        (1, 2): "tuple key",
        "thing": Thing(),
        "set": {3},
        "state": State("light.x", "on"),
    }
    with caplog.at_level(logging.WARNING):
        hass.bus.async_fire("odd", odd)
        hass.bus.async_fire("odd", odd)
        hass.bus.async_fire("odd", {"plain": 1})
        await hass.async_block_till_done()
    first, second, plain = _forwarded(mqtt_mock, "odd")
    data = first["data"]
    assert data["big"] == str(2**70)
    assert data["small"] == -(2**63)
    assert data["text"] == "ok \ufffd end"
    assert data["(1, 2)"] == "tuple key"
    assert data["thing"] == "a thing"
    assert data["set"] == [3]
    assert data["state"]["entity_id"] == "light.x"
    depth, node = 0, data["deep"]
    while isinstance(node, list) and node:
        depth, node = depth + 1, node[0]
    # The data itself is level 1 and "deep" level 2 of the cut tree.
    assert node is None
    assert depth == MAX_FORWARD_DEPTH - 2
    assert second == {
        **first,
        **{
            k: second[k]
            for k in first
            if k in {"event_id", "timestamp", "expires_at", "context_id"}
        },
    }
    assert plain["data"] == {"plain": 1}
    counters = _forwarder(entry).counters
    assert (counters.forwarded, counters.made_safe, counters.dropped) == (3, 2, 0)
    # One warning, not one per event.
    assert caplog.text.count("was made safe") == 1


async def test_too_large_is_dropped_counted(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, caplog: pytest.LogCaptureFixture
) -> None:
    """An event over the payload limit is counted and warned about, not sent."""
    entry = await setup_bridge(hass, **{CONF_FORWARD_EVENT_TYPES: ["big"]})
    hass.bus.async_fire("big", {"blob": "x" * MAX_PAYLOAD_BYTES})
    hass.bus.async_fire("big", {"blob": "small"})
    await hass.async_block_till_done()
    assert [p["data"] for p in _forwarded(mqtt_mock, "big")] == [{"blob": "small"}]
    counters = _forwarder(entry).counters
    assert counters.dropped_by_reason == {"payload_too_large": 1}
    assert "Forwarding big: an event was dropped (payload_too_large" in caplog.text
    await entities_follow(hass)
    state = hass.states.get("sensor.mqtt_event_bridge_ha_ai_forwarded_events_dropped")
    assert state is not None
    assert state.state == "1"
    assert state.attributes["payload_too_large"] == 1


async def test_a_storm_is_cut_at_the_rate_limit(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Per type: a burst beyond the limit is dropped and counted; others go on."""
    entry = await setup_bridge(
        hass,
        **{CONF_FORWARD_EVENT_TYPES: ["storm", "calm"], CONF_FORWARD_RATE: 5},
    )
    for n in range(50):
        hass.bus.async_fire("storm", {"n": n})
    hass.bus.async_fire("calm", {"n": 0})
    await hass.async_block_till_done()
    assert [p["data"]["n"] for p in _forwarded(mqtt_mock, "storm")] == list(range(5))
    assert len(_forwarded(mqtt_mock, "calm")) == 1
    counters = _forwarder(entry).counters
    assert counters.dropped_by_reason == {"rate_limited": 45}
    assert caplog.text.count("more than 5 events a second") == 1


async def test_forwarded_types_are_offered_only_when_asked(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """Discovery offers ha/<type> with the option on, and not without it."""
    entry = await setup_bridge(hass, **{CONF_FORWARD_EVENT_TYPES: ["ai_suggestion"]})
    bridge: BridgeConfigEntry = entry
    assert "ha/ai_suggestion" not in bridge.runtime_data.discovery.event_types
    hass.bus.async_fire("ai_suggestion", {})
    await hass.async_block_till_done()
    assert "ha/ai_suggestion" not in bridge.runtime_data.discovery.event_types

    hass.config_entries.async_update_entry(
        entry,
        options={
            CONF_FORWARD_EVENT_TYPES: ["ai_suggestion"],
            CONF_FORWARD_DISCOVERY: True,
            CONF_DISCOVERY: True,
        },
    )
    await hass.async_block_till_done()
    bridge = hass.config_entries.async_get_entry(entry.entry_id)  # type: ignore[assignment]
    assert "ha/ai_suggestion" in bridge.runtime_data.discovery.event_types
    mqtt_mock.async_publish.reset_mock()
    hass.bus.async_fire("ai_suggestion", {"n": 1})
    await hass.async_block_till_done()
    assert [p["data"] for p in _forwarded(mqtt_mock, "ai_suggestion")] == [{"n": 1}]

    # Turned off again: withdrawn, not kept as a type once seen.
    hass.config_entries.async_update_entry(
        entry, options={CONF_FORWARD_EVENT_TYPES: ["ai_suggestion"]}
    )
    await hass.async_block_till_done()
    bridge = hass.config_entries.async_get_entry(entry.entry_id)  # type: ignore[assignment]
    assert "ha/ai_suggestion" not in bridge.runtime_data.discovery.event_types


async def test_callers_cannot_publish_as_ha(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """Types under ha/ are HA's own events; a caller gets a translated error."""
    await setup_bridge(hass)
    with pytest.raises(ServiceValidationError) as raised:
        await call_action(hass, "publish_event", {"event_type": "ha/state_changed"})
    assert raised.value.translation_key == "forward_type_reserved"
    assert published(mqtt_mock) == []


async def test_unload_stops_forwarding(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """Nothing is forwarded once the bridge is unloaded."""
    entry = await setup_bridge(hass, **{CONF_FORWARD_EVENT_TYPES: ["ai_suggestion"]})
    assert await hass.config_entries.async_unload(entry.entry_id)
    mqtt_mock.async_publish.reset_mock()
    hass.bus.async_fire("ai_suggestion", {})
    hass.bus.async_fire(EVENT_CALL_SERVICE, {"domain": "x"})
    await hass.async_block_till_done()
    assert published(mqtt_mock) == []


@pytest.mark.parametrize(
    ("event_type", "valid"),
    [
        ("state_changed", True),
        ("ios.notification_action_fired", True),
        ("Custom-Event_1", True),
        ("*", False),
        ("a/b", False),
        ("a+b", False),
        ("a#", False),
        ("", False),
        ("with space", False),
        ("x" * 201, False),
    ],
)
def test_forward_types_are_one_topic_level(event_type: str, valid: bool) -> None:
    """Refused in the options form, never mapped in secret."""
    assert is_valid_forward_type(event_type) is valid


@pytest.mark.parametrize(
    "item", ["Light", "light.", "sensor.a b", "*+", "light.kitchen/x", "a-b"]
)
def test_entity_filter_refuses_what_is_no_entity_domain_or_glob(item: str) -> None:
    """The options form shows an error for these."""
    with pytest.raises(ValueError, match=re.escape(item)):
        entity_filter([item])


def test_entity_filter() -> None:
    """No items: no filter; else domains, entity ids and globs."""
    assert entity_filter([]) is None
    made = entity_filter(["light", "sensor.*_temperature", "switch.pump"])
    assert made is not None
    assert made("light.a")
    assert made("sensor.x_temperature")
    assert made("switch.pump")
    assert not made("switch.fan")
    assert not made("sensor.x_humidity")


def test_json_safe_output_is_written_by_hass_encoder() -> None:
    """Whatever goes in, HA's encoder writes what comes out."""
    nested: dict[str, Any] = {}
    node = nested
    for _ in range(1_000):
        node["x"] = {}
        node = node["x"]
    values = [
        2**64,
        2**64 - 1,
        -(2**63) - 1,
        "\udfff",
        nested,
        {b"k": b"v"},
        {None: 1, 1.5: 2},
        datetime(2026, 12, 1, tzinfo=UTC),
        object(),
        float("nan"),
    ]
    for value in values:
        json_bytes(json_safe(value))
    assert json_safe(2**64 - 1) == 2**64 - 1
    assert json_safe(datetime(2026, 12, 1, tzinfo=UTC)) == "2026-12-01T00:00:00+00:00"


def test_json_safe_takes_the_text_of_a_failing_as_dict() -> None:
    """An object whose as_dict raises is forwarded as its text."""

    class Broken:
        def as_dict(self) -> dict[str, Any]:
            raise RuntimeError

        def __str__(self) -> str:
            return "broken"

    assert json_safe({"x": Broken()}) == {"x": "broken"}


class _NoText:
    """An object whose text cannot be had: str() raises."""

    def __str__(self) -> str:
        raise RuntimeError


class _RaisingMeta(type):
    def __getattr__(cls, name: str) -> Any:
        raise RuntimeError(name)


class _NoTypeLookup(metaclass=_RaisingMeta):
    """Looking anything up on its type raises."""

    def __str__(self) -> str:
        return "no lookup"


def test_json_safe_never_raises() -> None:
    """Objects that fail at every step still become what HA's encoder writes."""

    class NoDict(_NoText):
        def as_dict(self) -> dict[str, Any]:
            raise RuntimeError

    class NoItems(Mapping[str, Any]):
        def __getitem__(self, key: str) -> Any:
            raise RuntimeError

        def __iter__(self) -> Iterator[str]:
            raise RuntimeError

        def __len__(self) -> int:
            return 1

        def __str__(self) -> str:
            return "no items"

    class AsksAnything:
        def __getattr__(self, name: str) -> Any:
            raise RuntimeError(name)

        def __str__(self) -> str:
            return "asks"

    class Itself:
        def as_dict(self) -> "Itself":
            return self

    # Python writes at most 4,300 digits of an integer (by default).
    huge = 10**5000
    value = {
        "no_text": _NoText(),
        "no_dict": NoDict(),
        "no_items": NoItems(),
        "asks": AsksAnything(),
        "itself": Itself(),
        "no_lookup": _NoTypeLookup(),
        "huge": huge,
        "-huge": -huge,
        _NoText(): "key without text",
    }
    safe = json_safe(value)
    json_bytes(safe)
    assert safe == {
        "no_text": "<unprintable _NoText object>",
        "no_dict": "<unprintable NoDict object>",
        "no_items": "no items",
        "asks": "asks",
        # as_dict gives itself at every level, down to the depth limit.
        "itself": None,
        "no_lookup": "no lookup",
        "huge": f"<integer of {huge.bit_length()} bits>",
        "-huge": f"<negative integer of {huge.bit_length()} bits>",
        "<unprintable _NoText object>": "key without text",
    }


def test_json_safe_random_structures() -> None:
    """Seeded random nests of odd values: HA's encoder writes every result."""
    rng = random.Random(20261201)  # noqa: S311 - a repeatable test, not a secret
    leaves: list[Any] = [
        42,
        2**63 - 1,
        2**64,
        -(2**63) - 1,
        10**5000,
        float("nan"),
        float("inf"),
        "\ud800",
        "ok",
        b"bytes",
        None,
        True,
        datetime(2026, 12, 1, tzinfo=UTC),
        Context(),
        State("light.x", "on"),
        _NoText(),
        _NoTypeLookup(),
        object(),
    ]

    def build(depth: int) -> Any:
        roll = rng.random()
        if depth > 40 or roll < 0.4:
            return rng.choice(leaves)
        items = [build(depth + 1) for _ in range(rng.randint(0, 3))]
        if roll < 0.6:
            return items
        if roll < 0.7:
            return tuple(items)
        keys: list[Any] = ["k", 1, (1, 2), "\udfff", _NoText(), None]
        return {rng.choice(keys): item for item in items}

    kinds: set[type] = set()
    for _ in range(500):
        safe = json_safe(build(0))
        _assert_plain_json(safe, 0, kinds)
        json_bytes(safe)
    # The structures reached every kind of value the result may hold.
    assert kinds == {dict, list, str, int, float, bool, type(None)}


def _assert_plain_json(value: Any, depth: int, kinds: set[type]) -> None:
    """Only JSON's kinds, keys as text, valid text, 64-bit integers, bounded depth."""
    kinds.add(type(value))
    assert depth <= MAX_FORWARD_DEPTH + 1
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str)
            assert not re.search("[\ud800-\udfff]", key)
            _assert_plain_json(item, depth + 1, kinds)
    elif isinstance(value, list):
        for item in value:
            _assert_plain_json(item, depth + 1, kinds)
    elif isinstance(value, str):
        assert not re.search("[\ud800-\udfff]", value)
    elif isinstance(value, int) and not isinstance(value, bool):
        assert -(2**63) <= value < 2**64
    else:
        assert value is None or isinstance(value, bool | float)


async def test_data_that_fails_every_step_is_forwarded_counted(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Not a crash in the bus's call, not a silent drop: made safe and forwarded."""
    # With debug logging on (pytest -v turns it on), HA's bus writes each
    # event's data as text before any listener runs, which these objects
    # refuse: the bus's own call would raise, not the bridge. The bus reads
    # its log level again when told that logging changed.
    caplog.set_level(logging.INFO, logger="homeassistant.core")
    hass.bus.async_fire(EVENT_LOGGING_CHANGED)
    entry = await setup_bridge(hass, **{CONF_FORWARD_EVENT_TYPES: ["odd"]})
    hass.bus.async_fire("odd", {"x": _NoText(), "n": 10**5000, "t": _NoTypeLookup()})
    await hass.async_block_till_done()
    [payload] = _forwarded(mqtt_mock, "odd")
    assert payload["data"] == {
        "x": "<unprintable _NoText object>",
        "n": f"<integer of {(10**5000).bit_length()} bits>",
        "t": "no lookup",
    }
    counters = _forwarder(entry).counters
    assert (counters.forwarded, counters.made_safe, counters.dropped) == (1, 1, 0)


async def test_unsafe_and_too_large_is_dropped_counted(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """Made safe, still over the payload limit: dropped and counted."""
    entry = await setup_bridge(hass, **{CONF_FORWARD_EVENT_TYPES: ["big"]})
    hass.bus.async_fire("big", {"n": 2**70, "blob": "x" * MAX_PAYLOAD_BYTES})
    await hass.async_block_till_done()
    assert _forwarded(mqtt_mock, "big") == []
    counters = _forwarder(entry).counters
    assert counters.dropped_by_reason == {"payload_too_large": 1}
    assert counters.made_safe == 0


@pytest.mark.parametrize("steps", [2, 4])
async def test_a_chain_of_automations_from_a_bridge_entity_is_not_forwarded(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, steps: int
) -> None:
    """However many automations lie between, what the bridge started stays home.

    The field report's loop: a bridge entity changes; automation 1 fires an
    event; automation 2, on it, fires the next; the last toggles a light whose
    state changes are forwarded. Before, the toggle was forwarded (and a
    forwarded type's event entity started the loop again).
    """
    assert await async_setup_component(
        hass, "input_boolean", {"input_boolean": {"lamp": {}}}
    )
    await hass.async_block_till_done()
    entry = await setup_bridge(
        hass,
        **{
            CONF_FORWARD_EVENT_TYPES: ["state_changed", "step_1", "step_2"],
            CONF_FORWARD_ENTITIES: ["input_boolean.lamp"],
        },
    )
    automations = [
        {
            "alias": "step 1",
            "triggers": [{"trigger": "state", "entity_id": RESPONSE}],
            "actions": [{"event": "step_1"}],
        },
        *(
            {
                "alias": f"step {n}",
                "triggers": [{"trigger": "event", "event_type": f"step_{n - 1}"}],
                "actions": [{"event": f"step_{n}"}],
            }
            for n in range(2, steps)
        ),
        {
            "alias": "last step",
            "triggers": [{"trigger": "event", "event_type": f"step_{steps - 1}"}],
            "actions": [
                {"action": "input_boolean.toggle", "target": {"entity_id": LAMP}}
            ],
        },
    ]
    assert await async_setup_component(hass, "automation", {"automation": automations})
    await hass.async_block_till_done()
    async_fire_mqtt_message(
        hass, "ha-ai/responses/automation/a", '{"automation_id": "a", "status": "ok"}'
    )
    # Each step of the chain runs on later turns of the loop.
    for _ in range(steps * 3):
        await hass.async_block_till_done()
    state = hass.states.get(LAMP)
    assert state is not None
    assert state.state == "on"
    assert _forwarded(mqtt_mock, "state_changed") == []
    assert _forwarded(mqtt_mock, "step_1") == []
    assert _forwarded(mqtt_mock, "step_2") == []
    assert _forwarder(entry).counters.own >= 2

    # The user's own toggle is forwarded.
    await hass.services.async_call(
        "input_boolean", "toggle", {"entity_id": LAMP}, blocking=True
    )
    await hass.async_block_till_done()
    assert [p["data"]["entity_id"] for p in _forwarded(mqtt_mock, "state_changed")] == [
        LAMP
    ]


RESPONSE = "event.mqtt_event_bridge_ha_ai_response"
LAMP = "input_boolean.lamp"


class _CountedList(list[Any]):
    """A list that counts the items anyone has taken from it."""

    taken = 0

    def __iter__(self) -> Iterator[Any]:
        for item in super().__iter__():
            _CountedList.taken += 1
            yield item


async def test_a_huge_odd_event_is_dropped_before_it_is_walked(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """600,000 small items and one object JSON cannot write: dropped, size first.

    Every JSON value takes at least two bytes: past MAX_VALUES of them the
    data cannot fit, and nothing more of it is looked at.
    """
    entry = await setup_bridge(hass, **{CONF_FORWARD_EVENT_TYPES: ["big"]})
    _CountedList.taken = 0
    items = _CountedList([*range(600_000), object()])
    hass.bus.async_fire("big", {"items": items})
    await hass.async_block_till_done()
    assert _forwarded(mqtt_mock, "big") == []
    assert _CountedList.taken <= MAX_VALUES
    counters = _forwarder(entry).counters
    assert counters.dropped_by_reason == {"payload_too_large": 1}


def test_json_safe_bounds_values_and_text() -> None:
    """Within the bounds it goes on; one past either, TooLarge."""
    assert len(json_safe([0] * (MAX_VALUES - 1))) == MAX_VALUES - 1
    with pytest.raises(TooLarge):
        json_safe([0] * MAX_VALUES)
    assert json_safe({"t": "x" * MAX_PAYLOAD_BYTES}) == {"t": "x" * MAX_PAYLOAD_BYTES}
    with pytest.raises(TooLarge):
        json_safe({"t": "x" * (MAX_PAYLOAD_BYTES + 1)})
    with pytest.raises(TooLarge):
        json_safe({"k" * (MAX_PAYLOAD_BYTES + 1): 1})


async def test_only_the_newest_causes_are_remembered(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    entity_registry: er.EntityRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The contexts of the bridge entities' changes are bounded, oldest out."""
    monkeypatch.setattr(
        "custom_components.mqtt_event_bridge.own_events.MAX_CAUSED_CONTEXTS", 3
    )
    entry = await setup_bridge(hass, **{CONF_FORWARD_EVENT_TYPES: ["chain"]})
    discovered = entity_registry.async_get_or_create(
        "event", "mqtt", f"mqtt_event_bridge_{entry.entry_id}_x_event"
    )
    await hass.async_block_till_done()
    contexts = [Context() for _ in range(5)]
    for n, context in enumerate(contexts):
        hass.states.async_set(discovered.entity_id, str(n), context=context)
    hass.bus.async_fire("chain", {"n": 0}, context=Context(parent_id=contexts[0].id))
    hass.bus.async_fire("chain", {"n": 4}, context=Context(parent_id=contexts[4].id))
    await hass.async_block_till_done()
    assert [p["data"] for p in _forwarded(mqtt_mock, "chain")] == [{"n": 0}]
