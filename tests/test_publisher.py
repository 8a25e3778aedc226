"""The outbox, against PHACC's mocked MQTT client (real-broker tests in broker/)."""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
import gc
import logging
import tracemalloc
from typing import Any
from unittest.mock import DEFAULT

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_FINAL_WRITE, EVENT_LOGGING_CHANGED
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.mqtt_event_bridge.const import (
    CONF_OUTBOX_SIZE,
    DRAIN_TIMEOUT,
    MAX_IN_FLIGHT,
    MAX_OUTBOX_BYTES,
    MAX_TTL,
)
from custom_components.mqtt_event_bridge.envelope import OutgoingEvent, build_event
from custom_components.mqtt_event_bridge.models import BridgeConfigEntry
from custom_components.mqtt_event_bridge.mqtt_client import PUBLISH_TAKES_EXPIRY
from custom_components.mqtt_event_bridge.publisher import EventPublisher
from tests.conftest import (
    call_action,
    event_calls,
    make_entry,
    published,
    published_ids,
    set_connected,
    setup_bridge,
)

STORE_KEY = "mqtt_event_bridge.{}.outbox"


def _publisher(entry: MockConfigEntry) -> EventPublisher:
    bridge: BridgeConfigEntry = entry
    return bridge.runtime_data.publisher


async def _publish(hass: HomeAssistant, n: int, **data: Any) -> str:
    response = await call_action(
        hass, "publish_event", {"event_type": "seq", "data": {"n": n}, **data}
    )
    return str(response["event_id"])


async def test_disconnected_events_wait_and_flush_in_order(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    """Nothing is handed to the client while disconnected; all of it after."""
    publisher = _publisher(init_integration)
    set_connected(hass, mqtt_mock, False)
    await hass.async_block_till_done()
    ids = [await _publish(hass, n) for n in range(5)]
    await hass.async_block_till_done()
    assert event_calls(mqtt_mock) == []
    assert (publisher.connected, publisher.outbox_size) == (False, 5)

    set_connected(hass, mqtt_mock, True)
    await hass.async_block_till_done()
    assert published_ids(mqtt_mock) == ids
    assert publisher.outbox_size == 0
    assert publisher.counters.published == 5


async def test_the_send_starts_after_submit_returns(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
) -> None:
    """Connected, nothing waiting: taken at once, sent on the loop's next turn."""
    publisher = _publisher(init_integration)
    await hass.async_block_till_done()
    event = _event(0)
    publisher.async_submit(event)
    assert len(published(mqtt_mock)) == 0
    assert publisher.in_flight == 1
    await hass.async_block_till_done()
    assert published_ids(mqtt_mock) == [event.event_id]
    assert (publisher.in_flight, publisher.counters.published) == (0, 1)


async def test_a_new_event_never_passes_one_taken_before_it(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    """Events taken from the outbox on reconnect go first, though not sent yet."""
    publisher = _publisher(init_integration)
    set_connected(hass, mqtt_mock, False)
    await hass.async_block_till_done()
    waiting = [_event(n) for n in range(3)]
    for event in waiting:
        publisher.async_submit(event)
    set_connected(hass, mqtt_mock, True)
    # Taken now; their senders start on the loop's next turn.
    assert (publisher.in_flight, publisher.outbox_size) == (3, 0)
    later = _event(3)
    publisher.async_submit(later)
    assert event_calls(mqtt_mock) == []
    await hass.async_block_till_done()
    assert published_ids(mqtt_mock) == [event.event_id for event in (*waiting, later)]


async def test_waiting_events_hold_only_their_payload(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An outbox of 10,000 must not cost the encoder's 1 KiB buffer per event."""
    # Without the debug logging that pytest -v turns on: HA's bus would write
    # each event as text into records that pytest keeps (the bus reads its
    # log level again when told that logging changed).
    caplog.set_level(logging.INFO)
    hass.bus.async_fire(EVENT_LOGGING_CHANGED)
    set_connected(hass, mqtt_mock, False)
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
    # Log records are not the outbox's: with -v, HA logs each call at DEBUG
    # and pytest keeps the records.
    not_logging = [
        tracemalloc.Filter(inclusive=False, filename_pattern=logging.__file__)
    ]
    held = sum(
        stat.size_diff
        for stat in after.filter_traces(not_logging).compare_to(
            before.filter_traces(not_logging), "filename"
        )
    )
    # An event's payload is about 200 bytes here; with its records about 600.
    assert held / 200 < 1024


async def test_full_outbox_drops_the_oldest(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """An outbox of 3 and 5 events: 2 overflowed, the 3 newest delivered."""
    entry = await setup_bridge(hass, **{CONF_OUTBOX_SIZE: 3})
    set_connected(hass, mqtt_mock, False)
    ids = [await _publish(hass, n) for n in range(5)]
    set_connected(hass, mqtt_mock, True)
    await hass.async_block_till_done()

    assert published_ids(mqtt_mock) == ids[2:]
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
    set_connected(hass, mqtt_mock, False)
    await _publish(hass, 0, ttl=1)
    keep = await _publish(hass, 1, ttl=60)
    freezer.tick(timedelta(seconds=2))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert (publisher.outbox_size, publisher.counters.expired) == (1, 1)

    set_connected(hass, mqtt_mock, True)
    await hass.async_block_till_done()
    assert published_ids(mqtt_mock) == [keep]


async def test_expired_at_dispatch_is_not_sent(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Expiry is checked again when the broker comes back, before sending."""
    publisher = _publisher(init_integration)
    set_connected(hass, mqtt_mock, False)
    await _publish(hass, 0, ttl=1)
    # Time passes without the once-a-second check having run yet.
    freezer.tick(timedelta(seconds=2))
    set_connected(hass, mqtt_mock, True)
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
    # The sends start on the loop's next turns, after the calls returned.
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(event_calls(mqtt_mock)) == MAX_IN_FLIGHT
    assert (publisher.in_flight, publisher.outbox_size) == (MAX_IN_FLIGHT, 10)

    release.set()
    await hass.async_block_till_done()
    assert published_ids(mqtt_mock) == ids
    assert publisher.counters.published == MAX_IN_FLIGHT + 10
    assert publisher.last_latency_ms is not None


def _sender_tasks(names: list[str]) -> int:
    return sum(name.startswith("publish event") for name in names)


async def test_busy_senders_send_the_backlog_without_new_tasks(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A burst costs at most MAX_IN_FLIGHT tasks: each sender sends on, in order.

    Senders end once nothing is left to send: HA's wait for pending tasks
    would never return otherwise.
    """
    release = asyncio.Event()

    async def slow_publish(*_args: Any, **_kwargs: Any) -> None:
        await release.wait()

    mqtt_mock.async_publish.side_effect = slow_publish
    started: list[str] = []
    create_task = init_integration.async_create_task

    def counting(
        hass: HomeAssistant, target: Any, name: str | None = None, **kwargs: Any
    ) -> Any:
        started.append(name or "")
        return create_task(hass, target, name, **kwargs)

    monkeypatch.setattr(init_integration, "async_create_task", counting)
    publisher = _publisher(init_integration)
    ids = [await _publish(hass, n) for n in range(3 * MAX_IN_FLIGHT)]
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(event_calls(mqtt_mock)) == MAX_IN_FLIGHT

    release.set()
    await hass.async_block_till_done()
    assert published_ids(mqtt_mock) == ids
    assert _sender_tasks(started) == MAX_IN_FLIGHT
    assert (publisher.in_flight, publisher.outbox_size) == (0, 0)

    # A later event, on a quiet outbox, gets a sender of its own.
    await _publish(hass, 0)
    await hass.async_block_till_done()
    assert _sender_tasks(started) == MAX_IN_FLIGHT + 1
    assert publisher.counters.published == 3 * MAX_IN_FLIGHT + 1


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
    set_connected(hass, mqtt_mock, False)
    ids = [await _publish(hass, n) for n in range(3)]
    # The saved copy follows the outbox within a couple of seconds.
    freezer.tick(timedelta(seconds=3))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    saved = hass_storage[STORE_KEY.format(entry.entry_id)]["data"]
    assert [event["event_id"] for event in saved] == ids

    assert await hass.config_entries.async_unload(entry.entry_id)
    set_connected(hass, mqtt_mock, True)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert published_ids(mqtt_mock) == ids


async def test_a_steady_stream_does_not_postpone_the_save(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    """Events arriving every 0.4 s while the broker is down are saved as they wait.

    A save re-armed by every change would wait for the stream to stop, and a
    crash meanwhile would lose every event queued since it began. One save
    is scheduled at a time; it takes its snapshot when it runs, so it holds
    the events that came after it was scheduled, and a change after that
    schedules the next one. An outbox that drains is saved empty.
    """
    entry = await setup_bridge(hass)
    publisher = _publisher(entry)
    key = STORE_KEY.format(entry.entry_id)
    set_connected(hass, mqtt_mock, False)
    await hass.async_block_till_done()

    async def wait(seconds: float) -> None:
        freezer.tick(timedelta(seconds=seconds))
        async_fire_time_changed(hass)
        await hass.async_block_till_done()

    await wait(2)
    hass_storage.pop(key, None)
    ids: list[str] = []
    for n in range(10):
        ids.append(await _publish(hass, n))
        await wait(0.4)
        if n >= 3:
            # At most a delay and a turn of the stream behind.
            saved = [event["event_id"] for event in hass_storage[key]["data"]]
            assert saved == ids[: len(saved)]
            assert len(saved) >= n - 3
    await wait(2)
    assert [event["event_id"] for event in hass_storage[key]["data"]] == ids

    set_connected(hass, mqtt_mock, True)
    await hass.async_block_till_done()
    assert publisher.outbox_size == 0
    await wait(2)
    assert hass_storage[key]["data"] == []


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
    # An expiry that cannot be read cannot be sent either: it ends as failed.
    assert (counters.published, counters.expired, counters.failed) == (1, 1, 1)


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


async def test_a_send_ending_after_unload_does_not_save_a_stale_outbox(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    """Only the running publisher writes the entry's saved outbox.

    HA waits 10 s for an unloading entry's tasks, and a broker may take
    longer to acknowledge. A sender of the old publisher that ends after the
    reload must not save the old outbox again: the new one has sent those
    events, and the next start would send them twice.
    """
    entry = await setup_bridge(hass)
    key = STORE_KEY.format(entry.entry_id)
    release = asyncio.Event()

    async def unacknowledged(*_args: Any, **_kwargs: Any) -> None:
        await release.wait()

    mqtt_mock.async_publish.side_effect = unacknowledged
    ids = [await _publish(hass, n) for n in range(MAX_IN_FLIGHT + 2)]
    for _ in range(5):
        await asyncio.sleep(0)
    assert _publisher(entry).outbox_size == 2

    async def wait(seconds: float) -> None:
        freezer.tick(timedelta(seconds=seconds))
        async_fire_time_changed(hass)
        for _ in range(10):
            await asyncio.sleep(0)

    await wait(3)
    assert [event["event_id"] for event in hass_storage[key]["data"]] == ids[-2:]

    # The unload gives up waiting for the unacknowledged senders: the
    # bridge's drain after DRAIN_TIMEOUT, then HA after its own 10 s.
    unloading = hass.async_create_task(hass.config_entries.async_unload(entry.entry_id))
    await wait(DRAIN_TIMEOUT)
    await wait(11)
    assert await unloading
    mqtt_mock.async_publish.side_effect = None
    assert await hass.config_entries.async_setup(entry.entry_id)
    await wait(3)
    assert published_ids(mqtt_mock)[-2:] == ids[-2:]
    assert hass_storage[key]["data"] == []

    release.set()
    await hass.async_block_till_done()
    await wait(3)
    assert hass_storage[key]["data"] == []
    hass.bus.async_fire(EVENT_HOMEASSISTANT_FINAL_WRITE)
    await hass.async_block_till_done()
    assert hass_storage[key]["data"] == []


async def test_events_waiting_at_shutdown_are_saved(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """HA's final write on shutdown saves events accepted a moment before."""
    set_connected(hass, mqtt_mock, False)
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

    Elsewhere nothing changes: HA before 2026.6 has no such keyword, and on
    MQTT 3.1.1 newer HA refuses it.
    """
    # PHACC's mock answers every attribute with a truthy mock: mirror the real
    # client's protocol, which the bridge reads.
    mqtt_mock.is_mqttv5 = mqtt_mock._mock_wraps.is_mqttv5
    assert mqtt_mock.is_mqttv5 is mqtt5
    set_connected(hass, mqtt_mock, False)
    await _publish(hass, 0, ttl=30)
    freezer.tick(timedelta(seconds=10.5))
    set_connected(hass, mqtt_mock, True)
    await hass.async_block_till_done()

    [call] = event_calls(mqtt_mock)
    expiry = call.kwargs.get("message_expiry_interval")
    if PUBLISH_TAKES_EXPIRY and mqtt5:
        # 19.5 s were left: rounded down, never past expires_at.
        assert expiry == 19
    else:
        assert expiry is None
    assert _publisher(init_integration).counters.published == 1


@pytest.fixture
def mqtt5_publishes(
    mqtt_mock: MqttMockHAClient, monkeypatch: pytest.MonkeyPatch
) -> list[dict[str, Any]]:
    """Retain and the keywords of each publish (MQTT 5, an HA that has expiry)."""
    monkeypatch.setattr(
        "custom_components.mqtt_event_bridge.mqtt_client.PUBLISH_TAKES_EXPIRY", True
    )
    recorded: list[dict[str, Any]] = []

    async def record(*args: Any, **kwargs: Any) -> None:
        # hass, topic, payload, qos, retain: retain by position or by name.
        [retain] = args[4:] or [kwargs.pop("retain")]
        recorded.append({"retain": retain, **kwargs})

    monkeypatch.setattr(
        "custom_components.mqtt_event_bridge.mqtt_client._publish", record
    )
    monkeypatch.setattr(mqtt_mock, "is_mqttv5", True)
    return recorded


async def test_broker_expiry_is_at_least_one_second(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    mqtt5_publishes: list[dict[str, Any]],
) -> None:
    """An event with under a second left is not sent without expiry (0 means none)."""
    set_connected(hass, mqtt_mock, False)
    await _publish(hass, 0, ttl=2)
    freezer.tick(timedelta(seconds=1.7))
    set_connected(hass, mqtt_mock, True)
    await hass.async_block_till_done()
    assert mqtt5_publishes == [{"retain": False, "message_expiry_interval": 1}]


async def test_broker_expiry_is_at_most_the_longest_ttl(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    mqtt5_publishes: list[dict[str, Any]],
) -> None:
    """An expiry centuries ahead (an outbox file edited by hand) is not refused.

    MQTT's message expiry interval has 32 bits, and paho raises past them:
    the event would have been counted as failed.
    """
    publisher = _publisher(init_integration)
    far = _event(1)._replace(expires_at=datetime(2300, 1, 1, tzinfo=UTC))
    publisher.async_submit(far)
    await hass.async_block_till_done()
    assert mqtt5_publishes == [{"retain": False, "message_expiry_interval": MAX_TTL}]
    assert publisher.counters.published == 1


def _saved(name: str, **changes: Any) -> dict[str, Any]:
    """An event as the outbox Store keeps it, valid unless changed."""
    return {
        "event_id": name,
        "topic": "ha-ai/events/seq",
        "payload": f'{{"event_id": "{name}"}}',
        "qos": 1,
        "expires_at": (dt_util.utcnow() + timedelta(seconds=30)).isoformat(),
    } | changes


def _event(n: int, size: int = 0) -> OutgoingEvent:
    return build_event(
        topic="ha-ai/events/seq",
        event_type="seq",
        data={"n": n, "pad": "x" * size},
        qos=1,
        ttl=60,
        now=dt_util.utcnow(),
    )


async def test_saving_while_events_arrive(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """The Store writes in a worker thread while the loop keeps adding events.

    What it writes is a snapshot taken in the loop: walking the outbox from the
    thread failed with "deque mutated during iteration" during steady traffic.
    """
    entry = await setup_bridge(hass, **{CONF_OUTBOX_SIZE: 100_000})
    publisher = _publisher(entry)
    set_connected(hass, mqtt_mock, False)
    await hass.async_block_till_done()
    submitted: list[str] = []

    def submit(n: int) -> None:
        event = _event(n)
        submitted.append(event.event_id)
        publisher.async_submit(event)

    for n in range(30_000):
        submit(n)
    saving = hass.async_add_executor_job(publisher._outbox._stored)
    n = 30_000
    while not saving.done():
        submit(n)
        n += 1
        await asyncio.sleep(0)
    saved = [item["event_id"] for item in await saving]
    # The outbox as it was at one moment: a run of the events, in order.
    assert len(saved) >= 30_000
    first = submitted.index(saved[0])
    assert saved == submitted[first : first + len(saved)]


async def test_outbox_is_bounded_in_bytes(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """1,000 events of 60 KB hold at most MAX_OUTBOX_BYTES; the oldest give way."""
    publisher = _publisher(init_integration)
    set_connected(hass, mqtt_mock, False)
    await hass.async_block_till_done()
    events = [_event(n, size=60_000) for n in range(1_000)]
    for event in events:
        publisher.async_submit(event)
    kept = publisher.outbox_size
    held = sum(len(event.payload) for event in events[-kept:])
    assert held <= MAX_OUTBOX_BYTES < held + len(events[-kept - 1].payload)
    assert publisher.outbox_bytes == held
    assert publisher.counters.overflowed == 1_000 - kept

    assert await hass.config_entries.async_unload(init_integration.entry_id)
    saved = hass_storage[STORE_KEY.format(init_integration.entry_id)]["data"]
    assert [item["event_id"] for item in saved] == [
        event.event_id for event in events[-kept:]
    ]


async def test_restored_outbox_obeys_a_smaller_size(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, hass_storage: dict[str, Any]
) -> None:
    """Saved with room for 10, restored with room for 3: the 3 newest stay."""
    entry = make_entry()
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, options={CONF_OUTBOX_SIZE: 3})
    hass_storage[STORE_KEY.format(entry.entry_id)] = {
        "version": 1,
        "key": STORE_KEY.format(entry.entry_id),
        "data": [_saved(f"e{n}") for n in range(10)],
    }
    set_connected(hass, mqtt_mock, False)
    assert await hass.config_entries.async_setup(entry.entry_id)
    publisher = _publisher(entry)
    assert publisher.outbox_size == 3
    assert publisher.counters.overflowed == 7
    assert [item["event_id"] for item in publisher._outbox._stored()] == [
        "e7",
        "e8",
        "e9",
    ]


# Bad entries beside a sound one ("ok"), made when the test runs (times pass).
BAD_ENTRIES: list[tuple[Callable[[], list[Any]], int]] = [
    (lambda: ["text"], 1),
    (lambda: [_saved("a", qos="1"), _saved("b", qos=5)], 2),
    (lambda: [_saved("c", qos=True), _saved("d", topic="x/+/y")], 2),
    (lambda: [_saved("e", topic=""), _saved("f", topic="$SYS/x")], 2),
    (lambda: [_saved("g", topic="t" * 2_000)], 1),
    (lambda: [_saved("h", expires_at="2026-12-01T10:00:00")], 1),
    (lambda: [_saved("i", expires_at="2026-02-30T10:00:00+00:00")], 1),
    (lambda: [_saved("j", payload=5), _saved("k", event_id=None)], 2),
    (lambda: [_saved("l", payload="x" * 70_000)], 1),
    (lambda: [{"event_id": "m"}], 1),
]


@pytest.mark.parametrize(("bad", "failed"), BAD_ENTRIES)
async def test_a_corrupted_outbox_store_does_not_stop_the_bridge(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    hass_storage: dict[str, Any],
    bad: Callable[[], list[Any]],
    failed: int,
) -> None:
    """Hand-edited entries are dropped and counted; the sound ones are sent."""
    entry = await _start_with_saved(hass, hass_storage, [_saved("ok"), *bad()])
    counters = _publisher(entry).counters
    assert counters.failed == failed
    assert published(mqtt_mock) == [("ha-ai/events/seq", {"event_id": "ok"}, 1, False)]


async def test_an_outbox_store_that_is_no_list(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, hass_storage: dict[str, Any]
) -> None:
    """Saved data of the wrong shape is one unreadable entry, counted."""
    entry = await _start_with_saved(hass, hass_storage, {"not": "a list"})
    counters = _publisher(entry).counters
    assert counters.failed == 1
    assert published(mqtt_mock) == []


async def _start_with_saved(
    hass: HomeAssistant, hass_storage: dict[str, Any], data: Any, version: int = 1
) -> MockConfigEntry:
    """Load a bridge whose outbox Store holds `data`."""
    entry = make_entry()
    entry.add_to_hass(hass)
    hass_storage[STORE_KEY.format(entry.entry_id)] = {
        "version": version,
        "key": STORE_KEY.format(entry.entry_id),
        "data": data,
    }
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    return entry


async def test_an_outbox_store_of_another_version_does_not_stop_the_bridge(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, hass_storage: dict[str, Any]
) -> None:
    """A version this bridge cannot migrate counts as no saved outbox."""
    await _start_with_saved(hass, hass_storage, [_saved("ok")], version=7)
    assert published(mqtt_mock) == []


async def test_an_unexpected_client_error_is_counted(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    """Whatever the client raises, the event ends as failed, not as a lost task."""

    def refuse_events(
        topic: str, payload: Any, qos: int, retain: bool, **_: Any
    ) -> Any:
        if not retain:  # discovery configs, always retained, still go out
            raise ValueError("no such QoS")
        return DEFAULT

    mqtt_mock.async_publish.side_effect = refuse_events
    await _publish(hass, 1)
    await hass.async_block_till_done()
    counters = _publisher(init_integration).counters
    assert (counters.published, counters.failed) == (0, 1)
