"""The first events of a new type wait for HA's new event entity (mocked MQTT).

The real broker's test shows the entity firing for the first event; these
show the bounds: other types go on, order is kept, the wait ends, and an
unload hands held events to the outbox.
"""

from collections.abc import Callable
from datetime import timedelta
import json

from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.mqtt_event_bridge.const import (
    FIRST_EVENT_FIXED_WAIT,
    FIRST_EVENT_WAIT,
)
from custom_components.mqtt_event_bridge.models import BridgeConfigEntry
from tests.conftest import call_action, event_calls


@pytest.fixture
def first_events_not_held() -> None:
    """Here the first events of a new type are held, as for users."""


def _sent(mqtt_mock: MqttMockHAClient) -> list[int]:
    return [json.loads(call.args[1])["n"] for call in event_calls(mqtt_mock)]


async def _publish(hass: HomeAssistant, event_type: str, n: int) -> None:
    await call_action(
        hass, "publish_event", {"event_type": event_type, "data": {"n": n}}
    )


async def test_new_type_waits_known_types_go_on(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    """Held in order, at most FIRST_EVENT_WAIT; a known type is not held back."""
    await _publish(hass, "brand/new", 1)
    await _publish(hass, "suggestion/generated", 2)
    await _publish(hass, "brand/new", 3)
    await hass.async_block_till_done()
    assert _sent(mqtt_mock) == [2]

    async_fire_time_changed(
        hass, dt_util.utcnow() + timedelta(seconds=FIRST_EVENT_WAIT + 1)
    )
    await hass.async_block_till_done()
    assert _sent(mqtt_mock) == [2, 1, 3]
    # Known from now on: the next one goes at once.
    await _publish(hass, "brand/new", 4)
    await hass.async_block_till_done()
    assert _sent(mqtt_mock) == [2, 1, 3, 4]


async def test_unload_hands_held_events_to_the_outbox(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    """Nothing held is lost when the bridge unloads meanwhile."""
    entry: BridgeConfigEntry = init_integration
    publisher = entry.runtime_data.publisher
    await _publish(hass, "brand/new", 1)
    await hass.async_block_till_done()
    assert _sent(mqtt_mock) == []
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert _sent(mqtt_mock) == [1]
    assert publisher.counters.published == 1


async def test_a_short_lived_event_waits_half_its_ttl(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    """A 1 s event is released after 0.5 s, not left to expire while it waits."""
    await call_action(
        hass, "publish_event", {"event_type": "brand/new", "ttl": 1, "data": {"n": 1}}
    )
    await hass.async_block_till_done()
    assert _sent(mqtt_mock) == []
    # 0.7 s with PHACC's 0.5 s: before any other wait could end (1.5 s at least).
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=0.2))
    await hass.async_block_till_done()
    assert _sent(mqtt_mock) == [1]


async def test_released_once_ha_has_subscribed(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where HA tells that a subscription is done, the wait ends right then, once."""
    done: list[tuple[str, int, Callable[[], None]]] = []
    stopped: list[str] = []

    def on_subscribe_done(
        _hass: HomeAssistant, topic: str, qos: int, callback: Callable[[], None]
    ) -> Callable[[], None]:
        done.append((topic, qos, callback))
        return lambda: stopped.append(topic)

    monkeypatch.setattr(
        mqtt, "async_on_subscribe_done", on_subscribe_done, raising=False
    )
    await _publish(hass, "brand/new", 1)
    await hass.async_block_till_done()
    assert _sent(mqtt_mock) == []
    [(topic, qos, subscribed)] = done
    assert (topic, qos) == ("ha-ai/events/brand/new", 1)

    subscribed()
    await hass.async_block_till_done()
    assert _sent(mqtt_mock) == [1]
    assert stopped == [topic]
    # A late second notice, or the timer, changes nothing.
    subscribed()
    async_fire_time_changed(
        hass, dt_util.utcnow() + timedelta(seconds=FIRST_EVENT_WAIT + 1)
    )
    await hass.async_block_till_done()
    assert _sent(mqtt_mock) == [1]


async def test_a_fixed_wait_where_ha_cannot_tell(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without async_on_subscribe_done (HA before 2025.12), the wait is fixed."""
    monkeypatch.delattr(mqtt, "async_on_subscribe_done", raising=False)
    await _publish(hass, "brand/new", 1)
    await hass.async_block_till_done()
    # (PHACC fires what is due up to 0.5 s later than the time given.)
    async_fire_time_changed(
        hass, dt_util.utcnow() + timedelta(seconds=FIRST_EVENT_FIXED_WAIT - 0.9)
    )
    await hass.async_block_till_done()
    assert _sent(mqtt_mock) == []
    async_fire_time_changed(
        hass, dt_util.utcnow() + timedelta(seconds=FIRST_EVENT_FIXED_WAIT + 0.1)
    )
    await hass.async_block_till_done()
    assert _sent(mqtt_mock) == [1]
