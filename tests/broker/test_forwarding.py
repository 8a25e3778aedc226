"""Forwarding against a real broker: echoes come back, and nothing loops."""

import asyncio
import json
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from paho.mqtt.client import Client
from paho.mqtt.enums import CallbackAPIVersion
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_mock_service,
)

from custom_components.mqtt_event_bridge.const import (
    CONF_FORWARD_DISCOVERY,
    CONF_FORWARD_EVENT_TYPES,
    CONF_FORWARD_RATE,
    DISCOVERY_QOS,
)
from custom_components.mqtt_event_bridge.models import BridgeConfigEntry
from tests.broker.conftest import HOST, WAIT, Broker, Observer, async_wait_subscribed
from tests.conftest import make_entry

STATE_TOPIC = "ha-ai/events/ha/state_changed"
SERVICE_TOPIC = "ha-ai/events/ha/call_service"
# Long enough for an echo, and anything it might cause, to come back twice.
QUIET = 1.5


async def _until(predicate: Any) -> None:
    async with asyncio.timeout(WAIT):
        while not predicate():
            await asyncio.sleep(0.05)


async def _quiet_then_drain(observer: Observer) -> list[tuple[str, dict[str, Any]]]:
    """Every event message the broker delivered until it stays quiet."""
    seen: list[tuple[str, dict[str, Any]]] = []
    while True:
        try:
            async with asyncio.timeout(QUIET):
                message = await observer.async_next()
        except TimeoutError:
            return seen
        seen.append((message.topic, json.loads(message.payload)))


async def test_forwarding_with_its_echo_does_not_loop(
    hass: HomeAssistant,
    mqtt_entry: MockConfigEntry,
    mosquitto: Broker,
    observer: Observer,
    entity_registry: er.EntityRegistry,
) -> None:
    """state_changed and call_service forwarded and offered, on a real broker.

    Each forwarded event comes back into HA (discovery made its event entity),
    an automation runs on that entity, and another HA on the same broker
    publishes under the same prefix: the broker sees each user-caused event
    once and nothing else.
    """
    entry = make_entry()
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        entry,
        options={
            CONF_FORWARD_EVENT_TYPES: ["state_changed", "call_service"],
            CONF_FORWARD_DISCOVERY: True,
        },
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    node = f"mqtt_event_bridge_{entry.entry_id}_ha_state_changed"

    def echo_entity() -> str | None:
        return next(
            (
                e.entity_id
                for e in entity_registry.entities.values()
                if e.platform == "mqtt"
                and e.unique_id.startswith(node)
                and e.domain == "event"
            ),
            None,
        )

    await _until(lambda: echo_entity() is not None)
    echo = echo_entity()
    assert echo is not None
    await async_wait_subscribed(hass, STATE_TOPIC, DISCOVERY_QOS)
    await _until(lambda: (s := hass.states.get(echo)) and s.state == "unknown")
    # An automation on the echo entity, calling a service (a call_service).
    calls = async_mock_service(hass, "test", "fired")
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "triggers": [{"trigger": "state", "entity_id": echo}],
                "actions": [{"action": "test.fired"}],
            }
        },
    )
    await hass.async_block_till_done()
    await _quiet_then_drain(observer)
    before = len(calls)

    for state in ("on", "off", "on"):
        hass.states.async_set("light.user", state)
    await hass.services.async_call("test", "fired", {"by": "user"}, blocking=True)
    seen = await _quiet_then_drain(observer)
    # The echoes reached HA: its entity fired, and the automation ran each time.
    echoed = hass.states.get(echo)
    assert echoed is not None
    assert echoed.attributes["event_type"] == "ha/state_changed"
    assert len(calls) - before == 1 + 3

    states = [p["data"]["entity_id"] for t, p in seen if t == STATE_TOPIC]
    services = [p["data"]["service_data"] for t, p in seen if t == SERVICE_TOPIC]
    assert states == ["light.user"] * 3
    assert services == [{"by": "user"}]
    assert {t for t, _ in seen} == {STATE_TOPIC, SERVICE_TOPIC}

    # Another HA on this broker, with the same prefix, forwarding too.
    other = Client(CallbackAPIVersion.VERSION2, client_id="other-ha")
    other.connect(HOST, mosquitto.port)
    other.loop_start()
    try:
        for n in range(5):
            envelope = {
                "event_id": f"other-{n}",
                "event_type": "ha/state_changed",
                "data": {"entity_id": "light.other"},
            }
            other.publish(STATE_TOPIC, json.dumps(envelope), qos=1).wait_for_publish(
                WAIT
            )
        seen = await _quiet_then_drain(observer)
    finally:
        other.disconnect()
        other.loop_stop()
    assert [p["event_id"] for _, p in seen] == [f"other-{n}" for n in range(5)]
    assert len(calls) - before == 4 + 5


@pytest.mark.parametrize("qos", [0, 1])
async def test_forwarded_events_arrive_complete_and_in_order(
    hass: HomeAssistant, mqtt_entry: MockConfigEntry, observer: Observer, qos: int
) -> None:
    """A burst fired in one go, then events one at a time: all arrive, in order.

    The first events of the burst, and each one fired on its own, reach HA's
    client within the bus's call; the rest of the burst waits its turn in the
    outbox behind them.
    """
    mock_entry = make_entry(qos=qos)
    mock_entry.add_to_hass(hass)
    entry: BridgeConfigEntry = mock_entry
    hass.config_entries.async_update_entry(
        entry,
        options={CONF_FORWARD_EVENT_TYPES: ["ai_suggestion"], CONF_FORWARD_RATE: 1000},
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    for n in range(200):
        hass.bus.async_fire("ai_suggestion", {"n": n})
    for n in range(200, 220):
        hass.bus.async_fire("ai_suggestion", {"n": n})
        await asyncio.sleep(0.01)
    received = [await observer.async_next() for _ in range(220)]
    assert {message.topic for message in received} == {"ha-ai/events/ha/ai_suggestion"}
    assert {message.qos for message in received} == {qos}
    payloads = [json.loads(message.payload) for message in received]
    assert [payload["data"]["n"] for payload in payloads] == list(range(220))
    await _until(lambda: entry.runtime_data.publisher.counters.published == 220)
    assert entry.runtime_data.publisher.in_flight == 0
