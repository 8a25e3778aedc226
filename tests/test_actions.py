"""The publish actions, against PHACC's mocked MQTT client."""

from datetime import datetime, timedelta
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import MqttMockHAClient
import voluptuous as vol

from custom_components.mqtt_event_bridge.const import DOMAIN, MAX_PAYLOAD_BYTES
from tests.conftest import (
    call_action,
    event_calls,
    make_entry,
    published,
    published_ids,
)

DEEP: Any = 0
for _ in range(300):
    DEEP = [DEEP]


async def _call(
    hass: HomeAssistant, action: str, data: dict[str, Any]
) -> dict[str, Any]:
    response = await call_action(hass, action, data)
    await hass.async_block_till_done()
    return response


@pytest.mark.usefixtures("init_integration")
async def test_publish_event_exact_message(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """Topic, QoS, retain and the decoded envelope are exactly as designed."""
    response = await _call(
        hass,
        "publish_event",
        {"event_type": "suggestion/generated", "data": {"suggestion": "lights off"}},
    )

    assert len(event_calls(mqtt_mock)) == 1
    [(topic, payload, qos, retain)] = published(mqtt_mock)
    assert (topic, qos, retain) == ("ha-ai/events/suggestion/generated", 1, False)
    assert response == {"event_id": payload["event_id"], "topic": topic}
    timestamp = datetime.fromisoformat(payload["timestamp"])
    expires_at = datetime.fromisoformat(payload["expires_at"])
    assert timestamp.utcoffset() == timedelta(0)
    assert expires_at - timestamp == timedelta(seconds=30)
    for key in ("event_id", "timestamp", "expires_at"):
        del payload[key]
    assert payload == {
        "event_type": "suggestion/generated",
        "ttl": 30,
        "suggestion": "lights off",
    }


@pytest.mark.usefixtures("init_integration")
async def test_publish_status_with_overrides(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """Per-call QoS and TTL win over the entry's; status goes to its own branch."""
    response = await _call(
        hass,
        "publish_status",
        {"name": "analysis_complete", "data": {"count": 3}, "qos": "2", "ttl": 600},
    )

    [(topic, payload, qos, retain)] = published(mqtt_mock)
    assert (topic, qos, retain) == ("ha-ai/status/analysis_complete", 2, False)
    assert response["topic"] == topic
    assert payload["event_type"] == "status/analysis_complete"
    assert payload["ttl"] == 600
    assert payload["count"] == 3


@pytest.mark.usefixtures("init_integration")
async def test_data_is_optional(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """An event without data is just the envelope."""
    await _call(hass, "publish_event", {"event_type": "pattern/alert"})
    [(_, payload, qos, _)] = published(mqtt_mock)
    assert set(payload) == {"event_id", "event_type", "timestamp", "ttl", "expires_at"}
    assert qos == 1


@pytest.mark.usefixtures("init_integration")
async def test_events_keep_their_order(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """Events reach the client in the order the actions accepted them."""
    ids = [
        (await _call(hass, "publish_event", {"event_type": "seq", "data": {"n": n}}))[
            "event_id"
        ]
        for n in range(20)
    ]
    assert published_ids(mqtt_mock) == ids


@pytest.mark.usefixtures("init_integration")
@pytest.mark.parametrize(
    ("action", "data", "key"),
    [
        ("publish_event", {"event_type": "a/+/b"}, "invalid_event_type"),
        ("publish_event", {"event_type": "a/#"}, "invalid_event_type"),
        ("publish_event", {"event_type": "a//b"}, "invalid_event_type"),
        ("publish_event", {"event_type": "/a"}, "invalid_event_type"),
        ("publish_event", {"event_type": "$SYS/x"}, "invalid_event_type"),
        ("publish_event", {"event_type": "Big"}, "invalid_event_type"),
        ("publish_event", {"event_type": "nul\0"}, "invalid_event_type"),
        ("publish_status", {"name": "done/"}, "invalid_status_name"),
        ("publish_status", {"name": "+"}, "invalid_status_name"),
        (
            "publish_event",
            {"event_type": "x", "data": {"event_id": "mine"}},
            "reserved_key",
        ),
        (
            "publish_event",
            {"event_type": "x", "data": {"thing": object()}},
            "not_serializable",
        ),
        (
            "publish_event",
            {"event_type": "x", "data": {"blob": "a" * MAX_PAYLOAD_BYTES}},
            "payload_too_large",
        ),
        # What HA's JSON encoder cannot write never becomes an event.
        (
            "publish_event",
            {"event_type": "x", "data": {"n": 2**70}},
            "not_serializable",
        ),
        (
            "publish_event",
            {"event_type": "x", "data": {"s": "\ud800"}},
            "not_serializable",
        ),
        ("publish_event", {"event_type": "x", "data": {"d": DEEP}}, "not_serializable"),
        (
            "publish_event",
            {"event_type": "x", "config_entry_id": "nope"},
            "entry_not_found",
        ),
    ],
)
async def test_bad_input_is_refused(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    action: str,
    data: dict[str, Any],
    key: str,
) -> None:
    """Every bad input is a translated validation error and nothing is published."""
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, action, data)
    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == key
    # The message users see is the translated one, not the bare key.
    assert key not in str(err.value)
    await hass.async_block_till_done()
    assert event_calls(mqtt_mock) == []


async def test_no_entry_loaded(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """With the integration set up but no bridge loaded, the call explains why."""
    entry = make_entry()
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    assert await hass.config_entries.async_unload(entry.entry_id)

    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "publish_event", {"event_type": "x"})
    assert err.value.translation_key == "no_loaded_entry"
    with pytest.raises(ServiceValidationError) as err:
        await _call(
            hass,
            "publish_event",
            {"event_type": "x", "config_entry_id": entry.entry_id},
        )
    assert err.value.translation_key == "entry_not_loaded"
    assert event_calls(mqtt_mock) == []


async def test_other_domain_entry_refused(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    """The id of another integration's entry is not a bridge."""
    mqtt_entry = hass.config_entries.async_entries("mqtt")[0]
    with pytest.raises(ServiceValidationError) as err:
        await _call(
            hass,
            "publish_event",
            {"event_type": "x", "config_entry_id": mqtt_entry.entry_id},
        )
    assert err.value.translation_key == "entry_not_found"


async def test_several_entries_need_a_choice(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    """With two bridges a call must name one, and then uses that one's prefix."""
    second = make_entry(prefix="site/two", qos=0, ttl=5)
    second.add_to_hass(hass)
    assert await hass.config_entries.async_setup(second.entry_id)

    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "publish_event", {"event_type": "x"})
    assert err.value.translation_key == "entry_required"
    assert event_calls(mqtt_mock) == []

    response = await _call(
        hass, "publish_event", {"event_type": "x", "config_entry_id": second.entry_id}
    )
    [(topic, payload, qos, _)] = published(mqtt_mock)
    assert (topic, qos, payload["ttl"]) == ("site/two/events/x", 0, 5)
    assert response["topic"] == topic


@pytest.mark.usefixtures("init_integration")
@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("publish_event", {"event_type": "x", "ttl": float("inf")}),
        ("publish_event", {"event_type": "x", "ttl": "inf"}),
        ("publish_event", {"event_type": "x", "ttl": float("nan")}),
        ("publish_event", {"event_type": "x", "qos": float("inf")}),
        ("publish_event", {"event_type": "x", "ttl": 30.5}),
        ("publish_event", {"event_type": "x", "ttl": "30.5"}),
        ("publish_event", {"event_type": "x", "ttl": True}),
        ("publish_event", {"event_type": "x", "qos": 1.5}),
        ("publish_event", {"event_type": "x", "qos": False}),
        ("publish_event", {"event_type": "x", "qos": "1" * 5000}),
        ("publish_status", {"name": "x", "ttl": "soon"}),
        (
            "publish_camera_event",
            {
                "camera_id": "c",
                "camera_name": "C",
                "description": "d",
                "objects_detected": [],
                "source_type": "ai",
                "confidence": True,
            },
        ),
    ],
)
async def test_numbers_are_never_truncated(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    action: str,
    data: dict[str, Any],
) -> None:
    """Infinity, fractions and booleans are refused, not read as a nearby number."""
    with pytest.raises((vol.Invalid, ServiceValidationError)):
        await _call(hass, action, data)
    assert event_calls(mqtt_mock) == []


@pytest.mark.usefixtures("init_integration")
@pytest.mark.parametrize(
    ("given", "ttl", "qos"),
    [
        ({"ttl": "45", "qos": "0"}, 45, 0),
        ({"ttl": 45.0, "qos": 2.0}, 45, 2),
        ({"ttl": " 45 ", "qos": "+1"}, 45, 1),
    ],
)
async def test_whole_numbers_in_any_form(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    given: dict[str, Any],
    ttl: int,
    qos: int,
) -> None:
    """A template's text or the UI's 45.0 is the whole number it says."""
    await _call(hass, "publish_event", {"event_type": "x", **given})
    [(_, payload, sent_qos, _)] = published(mqtt_mock)
    assert (payload["ttl"], sent_qos) == (ttl, qos)
