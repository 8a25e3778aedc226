"""Camera events: payload, camera ids, snapshots and their signed links."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from fractions import Fraction
from http import HTTPStatus
import json
import logging
import math
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp.test_utils import TestClient
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.demo.camera import DemoCamera
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_mqtt_message,
    async_mock_service,
)
from pytest_homeassistant_custom_component.typing import MqttMockHAClient
from syrupy.assertion import SnapshotAssertion
import voluptuous as vol

from custom_components.mqtt_event_bridge import camera_event, camera_fields, envelope
from custom_components.mqtt_event_bridge.const import (
    CONF_BASE_URL,
    CONF_THUMBNAIL_LIFETIME,
    DOMAIN,
)
from custom_components.mqtt_event_bridge.models import BridgeConfigEntry
from tests.conftest import call_action, event_calls, published, readme_example
from tests.fake_camera import BLOCK, HANG, FakeCamera, async_setup_cameras

type ClientFactory = Callable[[], Awaitable[TestClient[Any, Any]]]

JPEG = b"\xff\xd8\xff\xe0 front door at 14:02 \xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n garden"
NOW = "2026-11-23T14:02:00+00:00"

# The fields every camera event needs, for a camera HA does not know.
MINIMAL = {
    "camera_id": "garden-cam-2",
    "camera_name": "Garden",
    "description": "Person walking along the hedge",
    "objects_detected": ["person"],
    "confidence": 87,
    "source_type": "ai_analysis",
}
FULL = {
    **MINIMAL,
    "smart_detection_type": "person",
    "is_doorbell_ring": False,
    "provider_used": "openai",
    "analysis_mode": "detailed",
    "ai_confidence": 92.5,
    "correlation_group_id": "visitor-1402",
    "thumbnail_url": "https://nvr.example.org/snapshots/1402.jpg",
}
FRONT_DOOR = {
    "entity_id": "camera.front_door",
    "description": "Person approaching the front door with a package",
    "objects_detected": ["person", "package"],
    "confidence": 91,
    "source_type": "ai_analysis",
}


@pytest.fixture
async def cameras(hass: HomeAssistant) -> dict[str, FakeCamera]:
    """A working, a failing and a silent HA camera."""
    found = {
        "front_door": FakeCamera("Front Door", JPEG),
        "garden": FakeCamera("Garden", PNG, content_type="image/png"),
        "broken": FakeCamera("Broken", OSError("connection refused")),
        "silent": FakeCamera("Silent", HANG),
    }
    await async_setup_cameras(hass, *found.values())
    return found


async def _setup(
    hass: HomeAssistant, entry: MockConfigEntry, options: dict[str, Any] | None = None
) -> None:
    """Load the bridge with these options."""
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, options=options or {})
    assert await hass.config_entries.async_setup(entry.entry_id)


async def _publish(hass: HomeAssistant, data: dict[str, Any]) -> dict[str, Any]:
    response = await call_action(hass, "publish_camera_event", data)
    await hass.async_block_till_done()
    return response


def _path(url: str) -> str:
    """The part of a link the test client requests: path and query."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def _only_event(mqtt_mock: MqttMockHAClient) -> tuple[str, dict[str, Any], int]:
    [(topic, payload, qos, retain)] = published(mqtt_mock)
    assert retain is False
    return topic, payload, qos


@pytest.mark.usefixtures("init_integration")
@pytest.mark.parametrize("fields", [MINIMAL, FULL], ids=["minimal", "full"])
async def test_payload(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    freezer: FrozenDateTimeFactory,
    snapshot: SnapshotAssertion,
    fields: dict[str, Any],
) -> None:
    """The envelope plus the camera keys; optional keys only when given."""
    freezer.move_to(NOW)
    response = await _publish(hass, fields)

    topic, payload, qos = _only_event(mqtt_mock)
    assert (topic, qos) == ("ha-ai/camera/garden-cam-2/event", 1)
    assert response == {
        "event_id": payload.pop("event_id"),
        "topic": topic,
        "thumbnail_url": payload["thumbnail_url"],
    }
    assert payload == snapshot


@pytest.mark.usefixtures("init_integration")
async def test_minimal_has_no_optional_keys(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """Keys the caller did not give are absent, not null; thumbnail_url is null."""
    await _publish(hass, MINIMAL)
    _, payload, _ = _only_event(mqtt_mock)
    assert set(payload) == {
        "event_id",
        "event_type",
        "timestamp",
        "ttl",
        "expires_at",
        "camera_id",
        "camera_name",
        "description",
        "objects_detected",
        "confidence",
        "source_type",
        "thumbnail_url",
    }
    assert payload["thumbnail_url"] is None
    assert payload["event_type"] == "camera/detection"


@pytest.mark.usefixtures("init_integration")
@pytest.mark.parametrize(
    ("camera_id", "level"),
    [
        ("Front Door/1", "front_door_1"),
        ("Küche", "kuche"),
        ("カメラ", "kamera"),
        ("cam+1", "cam_1"),
        ("#garage", "garage"),
        ("porch-cam--2", "porch-cam-2"),
        ("$SYS/x", "sys_x"),
    ],
)
async def test_camera_id_is_sanitised(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, camera_id: str, level: str
) -> None:
    """Any camera id becomes one topic level of [a-z0-9_-], in topic and payload."""
    response = await _publish(hass, {**MINIMAL, "camera_id": camera_id})
    topic, payload, _ = _only_event(mqtt_mock)
    assert topic == response["topic"] == f"ha-ai/camera/{level}/event"
    assert payload["camera_id"] == level


@pytest.mark.usefixtures("init_integration", "cameras")
async def test_ha_camera_thumbnail_link(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    hass_client_no_auth: ClientFactory,
) -> None:
    """An HA camera gives id, name and a link that returns the exact snapshot."""
    response = await _publish(hass, FRONT_DOOR)

    topic, payload, _ = _only_event(mqtt_mock)
    assert topic == "ha-ai/camera/front_door/event"
    assert response["event_id"] == payload["event_id"]
    # The caller gets the link the payload carries.
    assert response["thumbnail_url"] == payload["thumbnail_url"]
    assert payload["camera_id"] == "front_door"
    assert payload["camera_name"] == "Front Door"
    url = urlsplit(payload["thumbnail_url"])
    assert url.scheme in {"http", "https"}
    assert url.netloc
    assert set(parse_qs(url.query)) == {"expires", "sig"}

    client = await hass_client_no_auth()
    answer = await client.get(_path(payload["thumbnail_url"]))
    assert answer.status == HTTPStatus.OK
    assert answer.content_type == "image/jpeg"
    assert await answer.read() == JPEG


@pytest.mark.usefixtures("init_integration")
async def test_has_demo_camera_gets_a_working_link(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    hass_client_no_auth: ClientFactory,
) -> None:
    """HA's demo camera says image/jpg: its snapshot is linked, as image/jpeg."""
    await async_setup_cameras(hass, DemoCamera("Demo camera", "image/jpg"))
    response = await _publish(hass, {**FRONT_DOOR, "entity_id": "camera.demo_camera"})
    _, payload, _ = _only_event(mqtt_mock)
    assert payload["thumbnail_url"] is not None
    assert response["thumbnail_url"] == payload["thumbnail_url"]
    client = await hass_client_no_auth()
    answer = await client.get(_path(payload["thumbnail_url"]))
    assert answer.status == HTTPStatus.OK
    assert answer.content_type == "image/jpeg"
    assert (await answer.read())[:2] == b"\xff\xd8"  # a JPEG's first bytes


@pytest.mark.usefixtures("init_integration")
@pytest.mark.parametrize(
    ("reported", "served"),
    [("image/pjpeg", "image/jpeg"), ("IMAGE/X-PNG; q=1", "image/png")],
)
async def test_content_type_aliases_are_served_by_their_standard_name(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    hass_client_no_auth: ClientFactory,
    reported: str,
    served: str,
) -> None:
    """Older names of JPEG and PNG are images too."""
    await async_setup_cameras(hass, FakeCamera("Old", JPEG, content_type=reported))
    await _publish(hass, {**FRONT_DOOR, "entity_id": "camera.old"})
    _, payload, _ = _only_event(mqtt_mock)
    client = await hass_client_no_auth()
    answer = await client.get(_path(payload["thumbnail_url"]))
    assert answer.status == HTTPStatus.OK
    assert answer.content_type == served


@pytest.mark.usefixtures("init_integration", "cameras")
async def test_camera_name_and_content_type(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    hass_client_no_auth: ClientFactory,
) -> None:
    """A given camera_name wins over the entity's; the camera's content type is kept."""
    await _publish(
        hass, {**FRONT_DOOR, "entity_id": "camera.garden", "camera_name": "Back"}
    )
    _, payload, _ = _only_event(mqtt_mock)
    assert (payload["camera_id"], payload["camera_name"]) == ("garden", "Back")
    client = await hass_client_no_auth()
    answer = await client.get(_path(payload["thumbnail_url"]))
    assert answer.status == HTTPStatus.OK
    assert answer.content_type == "image/png"
    assert await answer.read() == PNG


def _assert_no_failed_login(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """HA saw no failed login.

    HA's ban middleware logs every failed login ("... with invalid
    authentication") before it raises the notification or counts it towards a
    ban (the count only runs with a login threshold set, so the log line is
    what shows it here; a 401 from an HA view makes this fail).
    """
    assert hass.http is not None
    assert "invalid authentication" not in caplog.text


async def _thumbnail_link(hass: HomeAssistant, mqtt_mock: MqttMockHAClient) -> str:
    """Publish a front-door event and return the path of its thumbnail link."""
    mqtt_mock.async_publish.reset_mock()
    await _publish(hass, FRONT_DOOR)
    _, payload, _ = _only_event(mqtt_mock)
    return _path(payload["thumbnail_url"])


@pytest.mark.usefixtures("init_integration", "cameras")
async def test_links_that_are_refused(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    hass_client_no_auth: ClientFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Unsigned, forged, stretched, another event's: 404, no failed login."""
    first = await _thumbnail_link(hass, mqtt_mock)
    second = await _thumbnail_link(hass, mqtt_mock)
    path, query = first.split("?")
    query_of = {key: value[0] for key, value in parse_qs(query).items()}
    expires, signature = query_of["expires"], query_of["sig"]
    other_path = second.split("?")[0]
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    client = await hass_client_no_auth()

    for refused in (
        path,
        f"{path}?expires={expires}&sig={flipped}",
        f"{path}?expires={int(expires) + 3600}&sig={signature}",
        f"{path}?expires=-1&sig={signature}",
        f"{path}?sig={signature}",
        f"{path}?expires={expires}",
        f"{other_path}?expires={expires}&sig={signature}",
        f"{path}?authSig={signature}",
        "/api/mqtt_event_bridge/thumbnail/any/any",
        # More digits than Python turns into an integer, and digits that are
        # not ASCII ones: refused like any wrong link, not a server error.
        f"{path}?expires={'9' * 5000}&sig={signature}",
        f"{path}?expires={'\u0661' * 10}&sig={signature}",
    ):
        answer = await client.get(refused)
        assert answer.status == HTTPStatus.NOT_FOUND, refused
    # A messenger's own tags on the link do not matter.
    assert (await client.get(f"{first}&utm_source=x")).status == HTTPStatus.OK
    assert (await client.get(first)).status == HTTPStatus.OK
    _assert_no_failed_login(hass, caplog)


@pytest.mark.usefixtures("cameras")
async def test_link_expires(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    mock_config_entry: MockConfigEntry,
    hass_client_no_auth: ClientFactory,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A link works for its lifetime, then is Gone, not a failed login."""
    await _setup(hass, mock_config_entry, {CONF_THUMBNAIL_LIFETIME: 120})
    link = await _thumbnail_link(hass, mqtt_mock)
    client = await hass_client_no_auth()

    freezer.tick(timedelta(seconds=110))
    assert (await client.get(link)).status == HTTPStatus.OK
    freezer.tick(timedelta(seconds=20))
    for _ in range(3):
        assert (await client.get(link)).status == HTTPStatus.GONE
    _assert_no_failed_login(hass, caplog)


@pytest.mark.usefixtures("cameras")
async def test_evicted_snapshot_is_not_found(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    mock_config_entry: MockConfigEntry,
    hass_client_no_auth: ClientFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The cache keeps the newest snapshots; an older valid link then gives 404."""
    monkeypatch.setattr(camera_event, "MAX_THUMBNAILS", 2)
    await _setup(hass, mock_config_entry)
    links = [await _thumbnail_link(hass, mqtt_mock) for _ in range(3)]
    client = await hass_client_no_auth()

    assert (await client.get(links[0])).status == HTTPStatus.NOT_FOUND
    for link in links[1:]:
        assert (await client.get(link)).status == HTTPStatus.OK
    entry: BridgeConfigEntry = mock_config_entry
    assert len(entry.runtime_data.cameras.thumbnails) == 2


@pytest.mark.usefixtures("init_integration", "cameras")
async def test_logged_in_user_and_unknown_ids(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    mock_config_entry: MockConfigEntry,
    hass_client: ClientFactory,
) -> None:
    """A logged-in user needs no signature; unknown entries and events are 404."""
    link = await _thumbnail_link(hass, mqtt_mock)
    path = link.split("?")[0]
    entry_id, event_id = path.rsplit("/", 2)[1:]
    assert entry_id == mock_config_entry.entry_id
    client = await hass_client()

    assert (await client.get(path)).status == HTTPStatus.OK
    for missing in (
        f"/api/mqtt_event_bridge/thumbnail/{entry_id}/not-an-event",
        f"/api/mqtt_event_bridge/thumbnail/not-an-entry/{event_id}",
    ):
        assert (await client.get(missing)).status == HTTPStatus.NOT_FOUND

    await hass.config_entries.async_unload(entry_id)
    assert (await client.get(path)).status == HTTPStatus.NOT_FOUND


@pytest.mark.usefixtures("cameras")
async def test_configured_base_url(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    mock_config_entry: MockConfigEntry,
) -> None:
    """Links start with the base URL from the options."""
    await _setup(
        hass, mock_config_entry, {CONF_BASE_URL: "https://ha.example.org/home"}
    )
    await _publish(hass, FRONT_DOOR)
    _, payload, _ = _only_event(mqtt_mock)
    assert payload["thumbnail_url"].startswith(
        f"https://ha.example.org/home/api/mqtt_event_bridge/thumbnail/"
        f"{mock_config_entry.entry_id}/{payload['event_id']}?expires="
    )


@pytest.mark.usefixtures("init_integration", "cameras")
async def test_no_known_url_gives_signed_path(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """When HA knows no URL of its own, the link is the signed path alone."""
    hass.config.api = None
    await _publish(hass, FRONT_DOOR)
    _, payload, _ = _only_event(mqtt_mock)
    assert payload["thumbnail_url"].startswith("/api/mqtt_event_bridge/thumbnail/")


@pytest.mark.usefixtures("init_integration")
async def test_callers_link_skips_the_snapshot(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    cameras: dict[str, FakeCamera],
) -> None:
    """A caller's own thumbnail_url is published as given; no snapshot is taken."""
    link = "https://nvr.example.org/front/latest.jpg"
    await _publish(hass, {**FRONT_DOOR, "thumbnail_url": link})
    _, payload, _ = _only_event(mqtt_mock)
    assert payload["thumbnail_url"] == link
    assert cameras["front_door"].snapshots == 0


@pytest.mark.usefixtures("init_integration")
@pytest.mark.parametrize(
    ("camera", "problem"),
    [("broken", "connection refused"), ("silent", "no answer within 0.05 s")],
)
async def test_failing_camera_still_publishes(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    mock_config_entry: MockConfigEntry,
    cameras: dict[str, FakeCamera],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    camera: str,
    problem: str,
) -> None:
    """A camera that raises or never answers gives thumbnail_url null."""
    monkeypatch.setattr(camera_event, "SNAPSHOT_TIMEOUT", 0.05)
    response = await _publish(hass, {**FRONT_DOOR, "entity_id": f"camera.{camera}"})

    _, payload, _ = _only_event(mqtt_mock)
    assert payload["event_id"] == response["event_id"]
    assert payload["camera_id"] == camera
    assert payload["thumbnail_url"] is None
    assert response["thumbnail_url"] is None
    assert cameras[camera].snapshots == 1
    assert problem in caplog.text
    entry: BridgeConfigEntry = mock_config_entry
    counters = entry.runtime_data.cameras.counters
    assert (counters.snapshots, counters.snapshot_failures) == (1, 1)


@pytest.mark.usefixtures("init_integration", "cameras")
async def test_action_returns_before_the_snapshot(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    mock_config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A caller not asking for a response returns at once; the event follows."""
    data = {**FRONT_DOOR, "entity_id": "camera.silent"}
    await hass.services.async_call(DOMAIN, "publish_camera_event", data, blocking=True)
    entry: BridgeConfigEntry = mock_config_entry
    cameras = entry.runtime_data.cameras
    assert cameras.waiting == 1
    assert event_calls(mqtt_mock) == []

    # Unloading sends what still waits, without a snapshot and without a warning.
    await hass.config_entries.async_unload(entry.entry_id)
    _, payload, _ = _only_event(mqtt_mock)
    assert payload["thumbnail_url"] is None
    assert cameras.waiting == 0
    assert "No thumbnail" not in caplog.text


@pytest.mark.usefixtures("init_integration", "cameras")
async def test_caller_asking_for_the_link_waits_for_it(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    mock_config_entry: MockConfigEntry,
) -> None:
    """A caller asking for the response waits for the snapshot, to get the link.

    The bridge unloading while it waits ends the wait: the event goes out
    without a snapshot and the caller gets thumbnail_url null.
    """
    data = {**FRONT_DOOR, "entity_id": "camera.silent"}
    asking = hass.async_create_task(call_action(hass, "publish_camera_event", data))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not asking.done()
    assert event_calls(mqtt_mock) == []

    await hass.config_entries.async_unload(mock_config_entry.entry_id)
    response = await asking
    assert response["thumbnail_url"] is None
    _, payload, _ = _only_event(mqtt_mock)
    assert payload["event_id"] == response["event_id"]
    assert payload["thumbnail_url"] is None


@pytest.mark.usefixtures("init_integration", "cameras")
async def test_caller_gone_before_its_wait_leaves_no_wait(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    mock_config_entry: MockConfigEntry,
) -> None:
    """A caller cancelled while the snapshot is taken leaves no open wait behind."""
    entry: BridgeConfigEntry = mock_config_entry
    data = {**FRONT_DOOR, "entity_id": "camera.silent", "response_timeout": 30}
    asking = hass.async_create_task(call_action(hass, "publish_camera_event", data))
    for _ in range(5):
        await asyncio.sleep(0)
    assert entry.runtime_data.waits.open == 1

    asking.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asking
    assert entry.runtime_data.waits.open == 0


@pytest.mark.usefixtures("init_integration", "cameras")
async def test_oversized_snapshot_is_not_kept(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A snapshot larger than the whole cache gives the fallback."""
    monkeypatch.setattr(camera_event, "MAX_THUMBNAIL_BYTES", len(JPEG) - 1)
    # The cache was built at setup: rebuild it with the smaller bound.
    await hass.config_entries.async_reload(
        hass.config_entries.async_entries("mqtt_event_bridge")[0].entry_id
    )
    with caplog.at_level(logging.WARNING):
        await _publish(hass, FRONT_DOOR)
    _, payload, _ = _only_event(mqtt_mock)
    assert payload["thumbnail_url"] is None
    assert "too large to keep" in caplog.text


@pytest.mark.usefixtures("init_integration", "cameras")
async def test_link_that_would_overflow_the_payload(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An event that fits only without its link goes out without it."""
    await _publish(hass, FRONT_DOOR)
    _, payload, _ = _only_event(mqtt_mock)
    with_link = len(json.dumps(payload, separators=(",", ":")).encode())
    without_link = with_link - len(payload["thumbnail_url"]) - len('""') + len("null")
    monkeypatch.setattr(envelope, "MAX_PAYLOAD_BYTES", without_link + 20)

    mqtt_mock.async_publish.reset_mock()
    await _publish(hass, FRONT_DOOR)
    _, payload, _ = _only_event(mqtt_mock)
    assert payload["thumbnail_url"] is None
    assert "the link would make the payload too large" in caplog.text


@pytest.mark.usefixtures("init_integration", "cameras")
@pytest.mark.parametrize(
    ("change", "key", "placeholders"),
    [
        ({"confidence": 100.5}, "out_of_range", {"field": "confidence"}),
        ({"confidence": -1}, "out_of_range", {"field": "confidence"}),
        # Past a float's range: float() itself would raise.
        ({"confidence": 10**400}, "out_of_range", {"field": "confidence"}),
        ({"ai_confidence": -(10**400)}, "out_of_range", {"field": "ai_confidence"}),
        ({"ai_confidence": 150}, "out_of_range", {"field": "ai_confidence"}),
        ({"description": "  "}, "empty_field", {"field": "description"}),
        ({"source_type": ""}, "empty_field", {"field": "source_type"}),
        ({"objects_detected": ["person", " "]}, "empty_field", {}),
        ({"provider_used": ""}, "empty_field", {"field": "provider_used"}),
        ({"camera_name": " "}, "empty_field", {"field": "camera_name"}),
        ({"entity_id": "sensor.front_door"}, "not_a_camera", {}),
        ({"entity_id": "not an entity"}, "not_a_camera", {}),
        ({"entity_id": "camera.missing"}, "camera_not_found", {}),
        ({"camera_id": "x", "camera_name": "X"}, "camera_ambiguous", {}),
        ({"entity_id": None}, "camera_missing", {}),
        ({"entity_id": None, "camera_id": "x"}, "camera_name_missing", {}),
        (
            {"entity_id": None, "camera_id": "+#", "camera_name": "X"},
            "invalid_camera_id",
            {},
        ),
        ({"thumbnail_url": "ftp://nvr/x.jpg"}, "invalid_thumbnail_url", {}),
        ({"ttl": 86400, "description": "x" * 70_000}, "payload_too_large", {}),
    ],
)
async def test_bad_values_are_refused(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    cameras: dict[str, FakeCamera],
    change: dict[str, Any],
    key: str,
    placeholders: dict[str, str],
) -> None:
    """Each bad value is a translated validation error; nothing is published."""
    data = {k: v for k, v in {**FRONT_DOOR, **change}.items() if v is not None}
    with pytest.raises(ServiceValidationError) as err:
        await call_action(hass, "publish_camera_event", data)
    assert err.value.translation_key == key
    assert placeholders.items() <= (err.value.translation_placeholders or {}).items()
    await hass.async_block_till_done()
    assert event_calls(mqtt_mock) == []
    assert cameras["front_door"].snapshots == 0


def test_read_number() -> None:
    """Numbers and their text; past a float's range, infinity or refused."""
    assert camera_fields.read_number("87.5") == 87.5
    assert camera_fields.read_number(87) == 87.0
    assert camera_fields.read_number(10**400) == math.inf
    assert camera_fields.read_number(-(10**400)) == -math.inf
    for refused in (True, "high", Fraction(10**400, 3)):
        with pytest.raises(vol.Invalid):
            camera_fields.read_number(refused)


@pytest.mark.usefixtures("init_integration")
async def test_readme_camera_notification(hass: HomeAssistant) -> None:
    """The documented automation sends the description and the picture to a phone."""
    calls = async_mock_service(hass, "notify", "mobile_app_my_phone")
    automation = readme_example("camera-notification")
    assert await async_setup_component(hass, "automation", {"automation": automation})

    def event(confidence: int, thumbnail_url: str | None) -> str:
        return json.dumps(
            {
                "event_type": "camera/detection",
                "camera_id": "front_door",
                "camera_name": "Front Door",
                "description": "Person approaching the front door with a package",
                "confidence": confidence,
                "thumbnail_url": thumbnail_url,
            }
        )

    link = "https://ha.example.org/api/mqtt_event_bridge/thumbnail/e/1?authSig=x"
    async_fire_mqtt_message(hass, "ha-ai/camera/front_door/event", event(40, link))
    async_fire_mqtt_message(hass, "ha-ai/camera/front_door/event", event(91, link))
    async_fire_mqtt_message(hass, "ha-ai/camera/front_door/event", event(95, None))
    await hass.async_block_till_done()

    assert [call.data for call in calls] == [
        {
            "title": "Front Door",
            "message": "Person approaching the front door with a package",
            "data": {"image": link, "tag": "front_door"},
        },
        {
            "title": "Front Door",
            "message": "Person approaching the front door with a package",
            "data": {"image": "", "tag": "front_door"},
        },
    ]


@pytest.mark.usefixtures("init_integration")
async def test_a_stuck_camera_holds_one_thread(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    mock_config_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """100 events of a camera that blocks: one worker thread, one warning a minute."""
    monkeypatch.setattr(camera_event, "SNAPSHOT_TIMEOUT", 0.05)
    stuck = FakeCamera("Stuck", BLOCK)
    await async_setup_cameras(hass, stuck)
    try:
        for _ in range(100):
            await _publish(hass, {**FRONT_DOOR, "entity_id": "camera.stuck"})
        assert stuck.snapshots == 1
        assert stuck.threads_blocked == 1
        payloads = [payload for _, payload, _, _ in published(mqtt_mock)]
        assert len(payloads) == 100
        assert all(payload["thumbnail_url"] is None for payload in payloads)
        entry: BridgeConfigEntry = mock_config_entry
        counters = entry.runtime_data.cameras.counters
        assert (counters.snapshots, counters.snapshot_failures) == (100, 100)
        warnings = [r for r in caplog.records if "No thumbnail" in r.message]
        assert len(warnings) == 1
    finally:
        stuck.release.set()
    # Once the camera answers, the next event asks again and gets its snapshot.
    async with asyncio.timeout(5):
        while entry.runtime_data.cameras.snapshots_under_way:
            await asyncio.sleep(0.01)
    stuck.release.clear()
    stuck.answer = JPEG
    mqtt_mock.async_publish.reset_mock()
    await _publish(hass, {**FRONT_DOOR, "entity_id": "camera.stuck"})
    _, payload, _ = _only_event(mqtt_mock)
    assert payload["thumbnail_url"] is not None
    assert stuck.snapshots == 2


@pytest.mark.usefixtures("init_integration")
@pytest.mark.parametrize(
    "content_type", ["text/html", "image/svg+xml", "application/octet-stream", ""]
)
async def test_only_images_are_served(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    mock_config_entry: MockConfigEntry,
    content_type: str,
) -> None:
    """A snapshot that says it is HTML gets no link: nothing runs on HA's origin."""
    await async_setup_cameras(
        hass, FakeCamera("Odd", b"<script>alert(1)</script>", content_type)
    )
    await _publish(hass, {**FRONT_DOOR, "entity_id": "camera.odd"})
    _, payload, _ = _only_event(mqtt_mock)
    assert payload["thumbnail_url"] is None
    entry: BridgeConfigEntry = mock_config_entry
    assert len(entry.runtime_data.cameras.thumbnails) == 0
    assert entry.runtime_data.cameras.counters.snapshot_failures == 1


@pytest.mark.usefixtures("init_integration")
async def test_served_images_are_not_sniffed(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    hass_client_no_auth: ClientFactory,
) -> None:
    """The content type is the normalised image type; browsers may not guess another."""
    await async_setup_cameras(
        hass, FakeCamera("Upper", JPEG, content_type="Image/JPEG; charset=binary")
    )
    await _publish(hass, {**FRONT_DOOR, "entity_id": "camera.upper"})
    _, payload, _ = _only_event(mqtt_mock)
    client = await hass_client_no_auth()
    answer = await client.get(_path(payload["thumbnail_url"]))
    assert answer.status == HTTPStatus.OK
    assert answer.content_type == "image/jpeg"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Content-Security-Policy"] == "default-src 'none'"
