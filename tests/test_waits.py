"""Ask and wait: actions that return the response to their event (mocked MQTT)."""

import asyncio
from collections.abc import Awaitable
from datetime import timedelta
import json
import logging
import time
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_mqtt_message,
    async_fire_time_changed,
    async_mock_service,
)
from pytest_homeassistant_custom_component.typing import MqttMockHAClient
import voluptuous as vol

from custom_components.mqtt_event_bridge import actions
from custom_components.mqtt_event_bridge.const import CONF_OUTBOX_SIZE
from custom_components.mqtt_event_bridge.models import BridgeConfigEntry
from tests.conftest import (
    call_action,
    published,
    readme_example,
    set_connected,
    setup_bridge,
)

RESPONSES = "ha-ai/responses/automation/ask"


def _answer(hass: HomeAssistant, event_id: str, **extra: Any) -> dict[str, Any]:
    payload = {"automation_id": "ask", "status": "ok", "event_id": event_id, **extra}
    async_fire_mqtt_message(hass, RESPONSES, json.dumps(payload).encode())
    return payload


def _ask(hass: HomeAssistant, **data: Any) -> asyncio.Task[dict[str, Any]]:
    """Call publish_event with a wait, as a task of the test's own."""
    call: Awaitable[dict[str, Any]] = call_action(
        hass,
        "publish_event",
        {"event_type": "question/asked", "response_timeout": 30, **data},
    )
    return asyncio.ensure_future(call)


async def _sent_ids(mqtt_mock: MqttMockHAClient, count: int) -> list[str]:
    """The ids of the events handed to the client, once `count` of them are."""
    for _ in range(500):
        events = published(mqtt_mock)
        if len(events) >= count:
            return [payload["event_id"] for _, payload, _, _ in events]
        await asyncio.sleep(0.01)
    msg = f"{len(published(mqtt_mock))} events sent, expected {count}"
    raise AssertionError(msg)


def _open_waits(entry: MockConfigEntry) -> int:
    bridge: BridgeConfigEntry = entry
    return bridge.runtime_data.waits.open


async def test_answered(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    """The call returns the response naming its event; it still counts as usual."""
    task = _ask(hass)
    [event_id] = await _sent_ids(mqtt_mock, 1)
    assert not task.done()
    payload = _answer(hass, event_id, answer="yes")
    result = await task

    assert result == {
        "event_id": event_id,
        "topic": "ha-ai/events/question/asked",
        "response": payload,
        "outcome": "answered",
    }
    bridge: BridgeConfigEntry = init_integration
    assert bridge.runtime_data.responses.counters.received == 1
    assert _open_waits(init_integration) == 0


async def test_without_a_timeout_nothing_changes(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    """No response_timeout: the call returns at once, with event id and topic."""
    result = await call_action(hass, "publish_event", {"event_type": "a"})
    assert set(result) == {"event_id", "topic"}
    assert _open_waits(init_integration) == 0


async def test_rejected_and_other_responses_do_not_answer(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    """Stale, malformed or someone else's responses leave the wait open."""
    task = _ask(hass)
    [event_id] = await _sent_ids(mqtt_mock, 1)
    old = (dt_util.utcnow() - timedelta(minutes=5)).isoformat()
    _answer(hass, event_id, timestamp=old, ttl=1)  # stale
    async_fire_mqtt_message(  # no status
        hass, RESPONSES, json.dumps({"automation_id": "x", "event_id": event_id})
    )
    _answer(hass, "another-event")
    await asyncio.sleep(0)
    assert not task.done()

    payload = _answer(hass, event_id, answer="the real one")
    result = await task
    assert (result["outcome"], result["response"]) == ("answered", payload)
    bridge: BridgeConfigEntry = init_integration
    assert bridge.runtime_data.responses.counters.rejected == 2


async def test_only_the_first_answer_counts(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    """Two responses in one go: the call returns the first."""
    task = _ask(hass)
    [event_id] = await _sent_ids(mqtt_mock, 1)
    first = _answer(hass, event_id, n=1)
    _answer(hass, event_id, n=2)
    assert (await task)["response"] == first


async def test_timed_out(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    """No answer in time: null and timed_out, no exception; a late one is harmless."""
    started = time.monotonic()
    task = _ask(hass, response_timeout=1)
    [event_id] = await _sent_ids(mqtt_mock, 1)
    result = await task
    assert time.monotonic() - started >= 1
    assert (result["response"], result["outcome"]) == (None, "timed_out")
    assert _open_waits(init_integration) == 0
    _answer(hass, event_id)  # too late: counted, answers nobody
    await hass.async_block_till_done()


async def test_a_responder_faster_than_the_call_is_not_missed(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    """The response arrives while the event is being published, before its ack."""
    answered: list[dict[str, Any]] = []

    async def respond_at_once(
        topic: str, payload: Any, *_args: Any, **_kwargs: Any
    ) -> None:
        if topic.startswith("ha-ai/events/"):
            answered.append(_answer(hass, json.loads(payload)["event_id"]))

    mqtt_mock.async_publish.side_effect = respond_at_once
    result = await _ask(hass)
    assert answered
    assert (result["outcome"], result["response"]) == ("answered", answered[0])


async def test_many_questions_at_once_each_get_their_answer(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    """100 concurrent calls, answered in reverse order: each gets its own answer."""
    tasks = [_ask(hass, data={"n": n}) for n in range(100)]
    ids = await _sent_ids(mqtt_mock, 100)
    assert _open_waits(init_integration) == 100
    for event_id in reversed(ids):
        _answer(hass, event_id, answer=f"for {event_id}")
    results = await asyncio.gather(*tasks)

    assert {r["event_id"] for r in results} == set(ids)
    for result in results:
        assert result["response"]["answer"] == f"for {result['event_id']}"
    assert _open_waits(init_integration) == 0


async def test_beyond_the_limit_of_waits_nothing_is_published(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A call over the limit is refused, with the limit in its message."""
    monkeypatch.setattr(actions, "MAX_OPEN_WAITS", 2)
    tasks = [_ask(hass), _ask(hass)]
    ids = await _sent_ids(mqtt_mock, 2)
    with pytest.raises(ServiceValidationError) as err:
        await call_action(
            hass,
            "publish_status",
            {"name": "x", "response_timeout": 5},
        )
    assert err.value.translation_key == "too_many_waits"
    assert err.value.translation_placeholders == {"limit": "2"}
    assert len(published(mqtt_mock)) == 2
    # A call without a wait still goes through.
    await call_action(hass, "publish_status", {"name": "x"})
    for event_id in ids:
        _answer(hass, event_id)
    await asyncio.gather(*tasks)


@pytest.mark.parametrize(
    # 10**400 is past a float's range (YAML reads such an integer as it is).
    "seconds",
    [
        0,
        0.5,
        301,
        "soon",
        True,
        float("nan"),
        pytest.param(10**400, id="10**400"),
        "1e400",
    ],
)
async def test_timeout_out_of_range_is_refused(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
    seconds: Any,
) -> None:
    """response_timeout takes 1 to 300 seconds."""
    with pytest.raises(vol.Invalid):
        await call_action(
            hass, "publish_event", {"event_type": "a", "response_timeout": seconds}
        )
    assert published(mqtt_mock) == []


async def test_unload_ends_the_waits(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    """A reload or unload answers waiting callers with unloaded, at once."""
    task = _ask(hass)
    await _sent_ids(mqtt_mock, 1)
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    result = await task
    assert (result["response"], result["outcome"]) == (None, "unloaded")


async def test_ha_stopping_ends_every_wait(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """HA's stop answers waiting callers with stopped, and any later one at once.

    No call is left for HA to cancel after its last writes, and unloading
    after the stop logs no error.
    """
    task = _ask(hass)
    await _sent_ids(mqtt_mock, 1)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    async with asyncio.timeout(1):
        result = await task
    assert (result["response"], result["outcome"]) == (None, "stopped")
    later = await call_action(
        hass, "publish_event", {"event_type": "a", "response_timeout": 30}
    )
    assert later["outcome"] == "stopped"
    assert _open_waits(init_integration) == 0
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_the_wait_covers_the_time_in_the_outbox(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    """While the broker is down the timeout does not run; it starts at the publish."""
    set_connected(hass, mqtt_mock, False)
    task = _ask(hass, response_timeout=1)
    await asyncio.sleep(1.5)
    assert not task.done()
    assert published(mqtt_mock) == []

    set_connected(hass, mqtt_mock, True)
    [event_id] = await _sent_ids(mqtt_mock, 1)
    payload = _answer(hass, event_id)
    assert (await task)["response"] == payload


async def test_expired_in_the_outbox(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """An event that expires while the broker is down ends its wait at once."""
    set_connected(hass, mqtt_mock, False)
    task = _ask(hass, ttl=1, response_timeout=300)
    await asyncio.sleep(0)
    freezer.tick(timedelta(seconds=2))
    async_fire_time_changed(hass)
    result = await task
    assert (result["response"], result["outcome"]) == (None, "expired")


async def test_expired_when_the_broker_comes_back(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Expiry found at the send, before the periodic check, ends the wait too."""
    set_connected(hass, mqtt_mock, False)
    task = _ask(hass, ttl=1)
    await asyncio.sleep(0)
    freezer.tick(timedelta(seconds=2))
    set_connected(hass, mqtt_mock, True)
    assert (await task)["outcome"] == "expired"


async def test_dropped_from_a_full_outbox(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """The oldest waiting event gives way: its caller hears dropped at once."""
    entry = await setup_bridge(hass, **{CONF_OUTBOX_SIZE: 1})
    set_connected(hass, mqtt_mock, False)
    first = _ask(hass)
    await asyncio.sleep(0)
    second = _ask(hass)
    result = await first
    assert (result["response"], result["outcome"]) == (None, "dropped")
    assert not second.done()
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert (await second)["outcome"] == "unloaded"


async def test_a_failed_publish_is_dropped(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    """An event the client refuses for good will never be answered."""

    async def refuse_events(topic: str, *_args: Any, **_kwargs: Any) -> None:
        if topic.startswith("ha-ai/events/"):
            raise HomeAssistantError("refused")

    mqtt_mock.async_publish.side_effect = refuse_events
    result = await _ask(hass, qos=0)
    assert (result["response"], result["outcome"]) == (None, "dropped")


async def test_status_and_camera_events_wait_too(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    """publish_status and publish_camera_event take the same field."""
    status = asyncio.ensure_future(
        call_action(hass, "publish_status", {"name": "busy", "response_timeout": 9})
    )
    camera = asyncio.ensure_future(
        call_action(
            hass,
            "publish_camera_event",
            {
                "camera_id": "gate",
                "camera_name": "Gate",
                "description": "A parcel at the gate",
                "objects_detected": ["package"],
                "confidence": 90,
                "source_type": "ai_analysis",
                "response_timeout": 9,
            },
        )
    )
    ids = await _sent_ids(mqtt_mock, 2)
    for event_id in ids:
        _answer(hass, event_id, seen=event_id)
    status_result, camera_result = await asyncio.gather(status, camera)
    assert status_result["outcome"] == camera_result["outcome"] == "answered"
    assert status_result["response"]["seen"] == status_result["event_id"]
    assert camera_result["response"]["seen"] == camera_result["event_id"]
    assert camera_result["thumbnail_url"] is None


@pytest.mark.parametrize(
    ("decision", "lights", "message"),
    [("on", 1, None), ("off", 0, "Porch light left alone (answered).")],
)
async def test_readme_ask_and_wait(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    init_integration: MockConfigEntry,
    decision: str,
    lights: int,
    message: str | None,
) -> None:
    """The documented automation asks, waits for the answer and acts on it."""
    light_calls = async_mock_service(hass, "light", "turn_on")
    notify_calls = async_mock_service(hass, "notify", "notify")

    async def ai_service(topic: str, payload: Any, *_args: Any, **_kw: Any) -> None:
        if topic == "ha-ai/events/question/porch_light":
            _answer(hass, json.loads(payload)["event_id"], decision=decision)

    mqtt_mock.async_publish.side_effect = ai_service
    automation = readme_example("ask-and-wait")
    assert await async_setup_component(hass, "automation", {"automation": automation})
    hass.states.async_set("binary_sensor.porch_motion", "on")
    await hass.async_block_till_done()

    assert len(light_calls) == lights
    assert [call.data["message"] for call in notify_calls] == (
        [message] if message else []
    )


async def test_kept_by_the_client_while_disconnected_still_waits(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, init_integration: MockConfigEntry
) -> None:
    """Paho keeps a QoS 1 event it could not send yet: the timeout runs from then."""
    mqtt_mock.async_publish.side_effect = HomeAssistantError(
        translation_domain="mqtt",
        translation_key="mqtt_broker_error",
        translation_placeholders={
            "error_message": "The client is not currently connected."
        },
    )
    task = _ask(hass, qos=1, response_timeout=1)
    await _sent_ids(mqtt_mock, 1)
    async with asyncio.timeout(5):
        result = await task
    assert (result["outcome"], result["response"]) == ("timed_out", None)
