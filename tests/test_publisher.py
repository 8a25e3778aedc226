"""The outbox, against PHACC's mocked MQTT client (real-broker tests in broker/)."""

import asyncio
from datetime import timedelta
import gc
import tracemalloc
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.mqtt import MQTT_CONNECTION_STATE
from homeassistant.const import EVENT_HOMEASSISTANT_FINAL_WRITE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.mqtt_event_bridge.const import CONF_OUTBOX_SIZE, MAX_IN_FLIGHT
from custom_components.mqtt_event_bridge.models import BridgeConfigEntry
from custom_components.mqtt_event_bridge.publisher import (
    EXPIRY_SUPPORTED,
    EventPublisher,
)
from tests.conftest import call_action, event_calls, make_entry, published

STORE_KEY = "mqtt_event_bridge.{}.outbox"


def _publisher(entry: MockConfigEntry) -> EventPublisher:
    bridge: BridgeConfigEntry = entry
    return bridge.runtime_data.publisher


async def _publish(hass: HomeAssistant, n: int, **data: Any) -> str:
    response = await call_action(
        hass, "publish_event", {"event_type": "seq", "data": {"n": n}, **data}
    )
    return str(response["event_id"])


def _set_connected(hass: HomeAssistant, mqtt_mock: MqttMockHAClient, up: bool) -> None:
    mqtt_mock.connected = up
    async_dispatcher_send(hass, MQTT_CONNECTION_STATE, up)


async def test_disconnected_events_wait_and_flush_in_order(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    """Nothing is handed to the client while disconnected; all of it after."""
    publisher = _publisher(init_integration)
    _set_connected(hass, mqtt_mock, False)
    await hass.async_block_till_done()
    ids = [await _publish(hass, n) for n in range(5)]
    await hass.async_block_till_done()
    assert event_calls(mqtt_mock) == []
    assert (publisher.connected, publisher.outbox_size) == (False, 5)

    _set_connected(hass, mqtt_mock, True)
    await hass.async_block_till_done()
    assert [payload["event_id"] for _, payload, _, _ in published(mqtt_mock)] == ids
    assert publisher.outbox_size == 0
    assert publisher.counters.published == 5


async def test_waiting_events_hold_only_their_payload(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    """An outbox of 10,000 must not cost the encoder's 1 KiB buffer per event."""
    _set_connected(hass, mqtt_mock, False)
    await hass.async_block_till_done()
    await _publish(hass, -1)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for n in range(200):
            await _publish(hass, n)
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    assert _publisher(init_integration).outbox_size == 201
    held = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    # An event's payload is about 200 bytes here; with its records about 600.
    assert held / 200 < 1024


async def test_full_outbox_drops_the_oldest(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """An outbox of 3 and 5 events: 2 overflowed, the 3 newest delivered."""
    entry = make_entry()
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, options={CONF_OUTBOX_SIZE: 3})
    assert await hass.config_entries.async_setup(entry.entry_id)
    _set_connected(hass, mqtt_mock, False)
    ids = [await _publish(hass, n) for n in range(5)]
    _set_connected(hass, mqtt_mock, True)
    await hass.async_block_till_done()

    assert [payload["event_id"] for _, payload, _, _ in published(mqtt_mock)] == ids[2:]
    counters = _publisher(entry).counters
    assert (counters.published, counters.overflowed) == (3, 2)


async def test_events_expire_while_waiting(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """An event whose TTL passes in the outbox is counted expired, never sent."""
    publisher = _publisher(init_integration)
    _set_connected(hass, mqtt_mock, False)
    await _publish(hass, 0, ttl=1)
    keep = await _publish(hass, 1, ttl=60)
    freezer.tick(timedelta(seconds=2))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert (publisher.outbox_size, publisher.counters.expired) == (1, 1)

    _set_connected(hass, mqtt_mock, True)
    await hass.async_block_till_done()
    assert [payload["event_id"] for _, payload, _, _ in published(mqtt_mock)] == [keep]


async def test_expired_at_dispatch_is_not_sent(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Expiry is checked again when the broker comes back, before sending."""
    publisher = _publisher(init_integration)
    _set_connected(hass, mqtt_mock, False)
    await _publish(hass, 0, ttl=1)
    # Time passes without the once-a-second check having run yet.
    freezer.tick(timedelta(seconds=2))
    _set_connected(hass, mqtt_mock, True)
    await hass.async_block_till_done()
    assert event_calls(mqtt_mock) == []
    assert publisher.counters.expired == 1


@pytest.mark.parametrize(("qos", "published_count", "failed"), [(1, 1, 0), (0, 0, 1)])
async def test_not_connected_error_by_qos(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
    qos: int,
    published_count: int,
    failed: int,
) -> None:
    """Paho keeps a QoS 1/2 message it could not send; it is not sent again."""
    mqtt_mock.async_publish.side_effect = HomeAssistantError(
        translation_domain="mqtt",
        translation_key="mqtt_broker_error",
        translation_placeholders={
            "error_message": "The client is not currently connected."
        },
    )
    await _publish(hass, 0, qos=qos)
    await hass.async_block_till_done()
    counters = _publisher(init_integration).counters
    assert (counters.published, counters.failed) == (published_count, failed)
    assert len(event_calls(mqtt_mock)) == 1


async def test_in_flight_is_bounded_and_ordered(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    """A broker that does not acknowledge holds at most MAX_IN_FLIGHT events."""
    release = asyncio.Event()

    async def slow_publish(*_args: Any, **_kwargs: Any) -> None:
        await release.wait()

    mqtt_mock.async_publish.side_effect = slow_publish
    publisher = _publisher(init_integration)
    ids = [await _publish(hass, n) for n in range(MAX_IN_FLIGHT + 10)]
    assert len(event_calls(mqtt_mock)) == MAX_IN_FLIGHT
    assert (publisher.in_flight, publisher.outbox_size) == (MAX_IN_FLIGHT, 10)

    release.set()
    await hass.async_block_till_done()
    assert [payload["event_id"] for _, payload, _, _ in published(mqtt_mock)] == ids
    assert publisher.counters.published == MAX_IN_FLIGHT + 10
    assert publisher.last_latency_ms is not None


async def test_outbox_is_saved_and_restored(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    """Waiting events are kept on disk, restored on the next start, then sent."""
    entry = make_entry()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    _set_connected(hass, mqtt_mock, False)
    ids = [await _publish(hass, n) for n in range(3)]
    # The saved copy follows the outbox within a couple of seconds.
    freezer.tick(timedelta(seconds=3))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    saved = hass_storage[STORE_KEY.format(entry.entry_id)]["data"]
    assert [event["event_id"] for event in saved] == ids

    assert await hass.config_entries.async_unload(entry.entry_id)
    _set_connected(hass, mqtt_mock, True)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert [payload["event_id"] for _, payload, _, _ in published(mqtt_mock)] == ids


async def test_restart_restores_valid_and_counts_expired(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, hass_storage: dict[str, Any]
) -> None:
    """After an HA restart, saved events are sent unless they expired meanwhile."""
    entry = make_entry()
    entry.add_to_hass(hass)
    now = dt_util.utcnow()

    def saved(event_id: str, expires_at: str) -> dict[str, Any]:
        return {
            "event_id": event_id,
            "topic": "ha-ai/events/seq",
            "payload": f'{{"event_id": "{event_id}"}}',
            "qos": 1,
            "expires_at": expires_at,
        }

    hass_storage[STORE_KEY.format(entry.entry_id)] = {
        "version": 1,
        "key": STORE_KEY.format(entry.entry_id),
        "data": [
            saved("old", (now - timedelta(seconds=1)).isoformat()),
            saved("broken", "not a time"),
            saved("fresh", (now + timedelta(seconds=30)).isoformat()),
        ],
    }
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    assert published(mqtt_mock) == [
        ("ha-ai/events/seq", {"event_id": "fresh"}, 1, False)
    ]
    counters = _publisher(entry).counters
    assert (counters.published, counters.expired) == (1, 2)


async def test_removing_the_entry_forgets_the_outbox(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, hass_storage: dict[str, Any]
) -> None:
    """A removed bridge leaves no saved outbox behind."""
    entry = make_entry()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert STORE_KEY.format(entry.entry_id) in hass_storage
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert STORE_KEY.format(entry.entry_id) not in hass_storage


async def test_events_waiting_at_shutdown_are_saved(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """HA's final write on shutdown saves events accepted a moment before."""
    _set_connected(hass, mqtt_mock, False)
    ids = [await _publish(hass, n) for n in range(3)]
    hass.bus.async_fire(EVENT_HOMEASSISTANT_FINAL_WRITE)
    await hass.async_block_till_done()
    saved = hass_storage[STORE_KEY.format(init_integration.entry_id)]["data"]
    assert [event["event_id"] for event in saved] == ids


@pytest.mark.parametrize(
    ("mqtt_config_entry_data", "mqtt5"),
    [
        ({"broker": "mock-broker", "protocol": "5"}, True),
        ({"broker": "mock-broker", "protocol": "3.1.1"}, False),
    ],
)
async def test_broker_expiry_on_mqtt5(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    mqtt_config_entry_data: dict[str, Any],
    mqtt5: bool,
) -> None:
    """Where HA takes an expiry and the connection is MQTT 5, it gets the TTL left.

    Elsewhere nothing changes: HA before 2026.x has no such keyword, and on
    MQTT 3.1.1 newer HA refuses it.
    """
    # PHACC's mock answers every attribute with a truthy mock: mirror the real
    # client's protocol, which the bridge reads.
    mqtt_mock.is_mqttv5 = mqtt_mock._mock_wraps.is_mqttv5
    assert mqtt_mock.is_mqttv5 is mqtt5
    _set_connected(hass, mqtt_mock, False)
    await _publish(hass, 0, ttl=30)
    freezer.tick(timedelta(seconds=10.5))
    _set_connected(hass, mqtt_mock, True)
    await hass.async_block_till_done()

    [call] = event_calls(mqtt_mock)
    expiry = call.kwargs.get("message_expiry_interval")
    if EXPIRY_SUPPORTED and mqtt5:
        # 19.5 s were left: rounded down, never past expires_at.
        assert expiry == 19
    else:
        assert expiry is None
    assert _publisher(init_integration).counters.published == 1


async def test_broker_expiry_is_at_least_one_second(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An event with under a second left is not sent without expiry (0 means none)."""
    monkeypatch.setattr(
        "custom_components.mqtt_event_bridge.publisher.EXPIRY_SUPPORTED", True
    )
    calls: list[dict[str, Any]] = []

    async def record(*args: Any, **kwargs: Any) -> None:
        calls.append(kwargs)

    monkeypatch.setattr(
        "custom_components.mqtt_event_bridge.publisher._publish", record
    )
    monkeypatch.setattr(mqtt_mock, "is_mqttv5", True)
    _set_connected(hass, mqtt_mock, False)
    await _publish(hass, 0, ttl=2)
    freezer.tick(timedelta(seconds=1.7))
    _set_connected(hass, mqtt_mock, True)
    await hass.async_block_till_done()
    assert calls == [{"retain": False, "message_expiry_interval": 1}]
