"""Delivery across broker outages, against a real mosquitto.

HA's MQTT client notices a stopped broker at once and retries every 10 s, so
each test that restarts the broker takes about that long.
"""

import asyncio
from collections import Counter
import json
import socket
from typing import Any

from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.mqtt_event_bridge.const import CONF_OUTBOX_SIZE, CONF_TCP_NODELAY
from custom_components.mqtt_event_bridge.models import BridgeConfigEntry
from custom_components.mqtt_event_bridge.mqtt_client import features
from custom_components.mqtt_event_bridge.publisher import EventPublisher
from tests.broker.conftest import Broker, Observer
from tests.conftest import call_action, entities_follow, make_entry

TOPIC = "it/ai/events/seq"
# HA retries every 10 s; the flush then takes well under a second.
RECOVERY = 30.0


async def _bridge(
    hass: HomeAssistant, *, ttl: int = 60, outbox_size: int | None = None
) -> EventPublisher:
    entry = make_entry(prefix="it/ai", qos=1, ttl=ttl)
    entry.add_to_hass(hass)
    if outbox_size is not None:
        hass.config_entries.async_update_entry(
            entry, options={CONF_OUTBOX_SIZE: outbox_size}
        )
    assert await hass.config_entries.async_setup(entry.entry_id)
    bridge: BridgeConfigEntry = entry
    return bridge.runtime_data.publisher


async def _publish(hass: HomeAssistant, n: int) -> str:
    response = await call_action(
        hass, "publish_event", {"event_type": "seq", "data": {"n": n}}
    )
    return str(response["event_id"])


async def _until(predicate: Any, limit: float = RECOVERY) -> None:
    async with asyncio.timeout(limit):
        while not predicate():
            await asyncio.sleep(0.05)


def _nodelay(hass: HomeAssistant) -> int:
    """TCP_NODELAY of HA's MQTT socket now."""
    sock = hass.data[mqtt.DATA_MQTT].client._mqttc.socket()
    assert isinstance(sock, socket.socket)
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


async def _stop(hass: HomeAssistant, broker: Broker) -> None:
    broker.stop()
    await _until(lambda: not mqtt.is_connected(hass), limit=10)


async def _collect(observer: Observer, count: int) -> list[dict[str, Any]]:
    """The next `count` events on TOPIC, then anything else that arrives soon after."""
    events: list[dict[str, Any]] = []
    async with asyncio.timeout(RECOVERY):
        while len(events) < count:
            message = await observer.messages.get()
            if message.topic == TOPIC:
                events.append(json.loads(message.payload))
    # Duplicates, if any, come right behind.
    await asyncio.sleep(0.5)
    while not observer.messages.empty():
        message = observer.messages.get_nowait()
        if message.topic == TOPIC:
            events.append(json.loads(message.payload))
    return events


async def test_outage_within_ttl_delivers_all_once_in_order(
    hass: HomeAssistant,
    mqtt_entry: MockConfigEntry,
    mosquitto: Broker,
    observer: Observer,
) -> None:
    """100 events while the broker is down arrive after it is back: once, in order.

    HA's MQTT socket sends without Nagle's delay, before and after the reconnect.
    """
    publisher = await _bridge(hass)
    assert _nodelay(hass) == 1
    await _stop(hass, mosquitto)
    ids = [await _publish(hass, n) for n in range(100)]
    assert publisher.outbox_size == 100
    mosquitto.start()

    events = await _collect(observer, 100)
    assert [event["event_id"] for event in events] == ids
    assert [event["n"] for event in events] == list(range(100))
    # Sent late, but as they were created: timestamps are the original ones.
    stamps = [event["timestamp"] for event in events]
    assert stamps == sorted(stamps)
    await _until(lambda: publisher.counters.published == 100)
    assert publisher.counters.expired == publisher.counters.failed == 0
    assert _nodelay(hass) == 1


async def test_tcp_nodelay_follows_the_option(
    hass: HomeAssistant, mqtt_entry: MockConfigEntry, mosquitto: Broker
) -> None:
    """Off, HA's socket keeps Nagle's algorithm; on, Nagle is off (diagnostics too)."""
    entry = make_entry(prefix="it/ai")
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, options={CONF_TCP_NODELAY: False})
    assert await hass.config_entries.async_setup(entry.entry_id)
    assert _nodelay(hass) == 0
    assert features(hass)["tcp_nodelay"] is False
    # Saved options reload the bridge.
    hass.config_entries.async_update_entry(entry, options={CONF_TCP_NODELAY: True})
    await hass.async_block_till_done()
    assert _nodelay(hass) == 1
    assert features(hass)["tcp_nodelay"] is True
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_counters_are_exact_when_options_change_mid_burst(
    hass: HomeAssistant, mqtt_entry: MockConfigEntry, mosquitto: Broker
) -> None:
    """500 events, then at once an options change: every one is counted once.

    The unload lets the events handed to HA's client end before the entities
    save their counts; the rest wait in the saved outbox and are counted when
    the reloaded bridge sends them.
    """
    await _bridge(hass)
    entry: BridgeConfigEntry = hass.config_entries.async_entries("mqtt_event_bridge")[0]
    for n in range(500):
        await _publish(hass, n)
    hass.config_entries.async_update_entry(entry, options={CONF_OUTBOX_SIZE: 2000})
    await hass.async_block_till_done()
    publisher = entry.runtime_data.publisher
    await _until(lambda: publisher.outbox_size == 0 and not publisher.in_flight)
    await entities_follow(hass)
    state = hass.states.get("sensor.mqtt_event_bridge_it_ai_events_published")
    assert state is not None
    assert state.state == "500"
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_outage_longer_than_ttl_sends_nothing_stale(
    hass: HomeAssistant,
    mqtt_entry: MockConfigEntry,
    mosquitto: Broker,
    observer: Observer,
) -> None:
    """Events that expire while the broker is down are counted, never sent."""
    publisher = await _bridge(hass, ttl=1)
    await _stop(hass, mosquitto)
    for n in range(100):
        await _publish(hass, n)
    await _until(lambda: publisher.counters.expired == 100, limit=5)
    assert publisher.outbox_size == 0
    mosquitto.start()
    await _until(lambda: mqtt.is_connected(hass))

    marker = await _publish(hass, 100)
    [event] = await _collect(observer, 1)
    # The first event on the topic after the outage is the fresh one.
    assert event["event_id"] == marker
    assert publisher.counters.published == 1


async def test_full_outbox_keeps_the_newest(
    hass: HomeAssistant,
    mqtt_entry: MockConfigEntry,
    mosquitto: Broker,
    observer: Observer,
) -> None:
    """An outbox of 10 and 25 events while down: 15 overflowed, the 10 newest sent."""
    publisher = await _bridge(hass, outbox_size=10)
    await _stop(hass, mosquitto)
    ids = [await _publish(hass, n) for n in range(25)]
    assert (publisher.outbox_size, publisher.counters.overflowed) == (10, 15)
    mosquitto.start()

    events = await _collect(observer, 10)
    assert [event["event_id"] for event in events] == ids[15:]


async def test_thousand_events_across_a_restart(
    hass: HomeAssistant,
    mqtt_entry: MockConfigEntry,
    mosquitto: Broker,
    observer: Observer,
) -> None:
    """Every event ends counted once; every published one reaches the subscriber."""
    publisher = await _bridge(hass)
    ids = [await _publish(hass, n) for n in range(500)]
    # The broker goes away with events still in flight.
    await _stop(hass, mosquitto)
    ids += [await _publish(hass, n) for n in range(500, 1000)]
    mosquitto.start()

    counters = publisher.counters
    await _until(
        lambda: publisher.outbox_size == 0
        and publisher.in_flight == 0
        and counters.published
        + counters.expired
        + counters.overflowed
        + counters.failed
        == 1000
    )
    events = await _collect(observer, counters.published)
    seen = Counter(event["event_id"] for event in events)
    duplicates = sum(count - 1 for count in seen.values())
    print(  # noqa: T201 - the issue asks for duplicates to be shown, not hidden
        f"1000 events: published {counters.published}, expired {counters.expired},"
        f" overflowed {counters.overflowed}, failed {counters.failed};"
        f" received {len(seen)} distinct, {duplicates} duplicates (QoS 1)"
    )
    assert set(seen) <= set(ids)
    assert len(seen) >= counters.published
    assert counters.expired == counters.overflowed == counters.failed == 0
    assert set(seen) == set(ids)


async def test_action_returns_while_the_broker_hangs(
    hass: HomeAssistant,
    mqtt_entry: MockConfigEntry,
    mosquitto: Broker,
    observer: Observer,
) -> None:
    """A frozen broker holds up no caller; the events go out once it answers."""
    publisher = await _bridge(hass)
    mosquitto.freeze()
    try:
        async with asyncio.timeout(5):
            ids = [await _publish(hass, n) for n in range(10)]
        assert publisher.counters.published == 0
    finally:
        mosquitto.thaw()
    events = await _collect(observer, 10)
    assert [event["event_id"] for event in events] == ids


async def test_an_event_whose_acknowledgement_ha_gave_up_on_is_unacknowledged(
    hass: HomeAssistant,
    mqtt_entry: MockConfigEntry,
    mosquitto: Broker,
    observer: Observer,
) -> None:
    """A broker frozen past HA's 10 s wait: counted apart, never as published.

    HA's client returns as if the broker had acknowledged; the bridge tells it
    by the time the wait took. The event still arrives once the broker thaws
    (late: consumers check expires_at).
    """
    publisher = await _bridge(hass)
    mosquitto.freeze()
    try:
        [event_id] = [await _publish(hass, 0)]
        # A new type's first event waits up to 5 s for HA to listen (newer HA
        # waits for the subscription's acknowledgement), then HA's 10 s.
        await _until(lambda: publisher.counters.unacknowledged == 1, limit=25)
    finally:
        mosquitto.thaw()
    assert publisher.counters.published == 0
    events = await _collect(observer, 1)
    assert [event["event_id"] for event in events] == [event_id]
    # The broker answers again: the next event is published as usual.
    await _publish(hass, 1)
    await _until(lambda: publisher.counters.published == 1)
    assert publisher.counters.unacknowledged == 1
