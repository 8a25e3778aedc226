"""Events published through the action reach an independent subscriber."""

from datetime import datetime, timedelta
import json

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from tests.broker.conftest import Observer
from tests.conftest import call_action, make_entry


@pytest.mark.parametrize("qos", [0, 1, 2])
async def test_event_arrives_with_topic_qos_and_envelope(
    hass: HomeAssistant, mqtt_entry: MockConfigEntry, observer: Observer, qos: int
) -> None:
    """The observer subscribes at QoS 2, so it receives at the QoS we published with."""
    entry = make_entry(prefix="it/ha-ai", qos=qos, ttl=45)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)

    response = await call_action(
        hass,
        "publish_event",
        {"event_type": "suggestion/generated", "data": {"suggestion": "lights off"}},
    )

    message = await observer.async_next()
    assert message.topic == "it/ha-ai/events/suggestion/generated" == response["topic"]
    assert message.qos == qos
    assert not message.retain
    payload = json.loads(message.payload)
    assert payload["event_id"] == response["event_id"]
    assert payload["event_type"] == "suggestion/generated"
    assert payload["suggestion"] == "lights off"
    assert payload["ttl"] == 45
    elapsed = datetime.fromisoformat(payload["expires_at"]) - datetime.fromisoformat(
        payload["timestamp"]
    )
    assert elapsed == timedelta(seconds=45)


async def test_status_and_order_on_the_wire(
    hass: HomeAssistant, mqtt_entry: MockConfigEntry, observer: Observer
) -> None:
    """A burst of events arrives complete and in the order the actions accepted it."""
    entry = make_entry(qos=1)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)

    sent = []
    for n in range(50):
        response = await call_action(
            hass, "publish_status", {"name": "analysis_complete", "data": {"n": n}}
        )
        sent.append(response["event_id"])

    received = [json.loads((await observer.async_next()).payload) for _ in sent]
    assert [payload["event_id"] for payload in received] == sent
    assert [payload["n"] for payload in received] == list(range(50))
    types = {payload["event_type"] for payload in received}
    assert types == {"status/analysis_complete"}
