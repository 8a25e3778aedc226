"""The one door to HA's MQTT internals: canaries per leg, and safe fallbacks.

The canaries fail on the leg whose Home Assistant moved something the
bridge reads past HA's public helpers; the fallback tests show that whatever
HA's client looks like, the bridge carries on with the plain behaviour.
"""

from datetime import timedelta
import importlib
import inspect
import socket
from types import SimpleNamespace
from typing import Any
from unittest.mock import patch

from awesomeversion import AwesomeVersion
from homeassistant.components import mqtt
from homeassistant.components.mqtt.const import DEFAULT_BIRTH, DEFAULT_WILL
from homeassistant.const import __version__ as ha_version
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import dt as dt_util
import paho.mqtt.client as paho
import pytest
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.mqtt_event_bridge import mqtt_client
from custom_components.mqtt_event_bridge.mqtt_client import (
    DEFAULT_DISCOVERY_PREFIX,
    HA_STATUS_TOPIC,
    OFFLINE,
    ONLINE,
    HaStatus,
    async_keep_nodelay,
    async_set_nodelay,
    async_when_subscribed,
    client_kept_message,
    discovery_prefix,
    features,
    ha_status,
    is_mqtt5,
    nodelay_in_effect,
    sets_broker_expiry,
)

from .conftest import set_connected

HA = AwesomeVersion(ha_version)


def _use(hass: HomeAssistant, client: Any) -> None:
    """Stand in for HA's MQTT data, with the given client."""
    data: dict[Any, Any] = hass.data
    data[mqtt.DATA_MQTT] = SimpleNamespace(client=client)


def _client_with(sock: Any) -> SimpleNamespace:
    return SimpleNamespace(_mqttc=SimpleNamespace(socket=lambda: sock))


# Canaries: what the bridge relies on, as this leg's Home Assistant has it.


def test_canary_expiry_keyword_and_subscribe_acknowledgement() -> None:
    """HA 2026.6 added the expiry keyword, 2025.12 the subscription callback."""
    takes_expiry = (
        "message_expiry_interval" in inspect.signature(mqtt.async_publish).parameters
    )
    assert mqtt_client.PUBLISH_TAKES_EXPIRY is takes_expiry
    assert takes_expiry is (HA >= "2026.6.0")
    assert hasattr(mqtt, "async_on_subscribe_done") is (HA >= "2025.12.0")


def test_canary_ack_timeout_is_has_own() -> None:
    """HA's client gives up on an acknowledgement when the bridge thinks it does."""
    client = importlib.import_module("homeassistant.components.mqtt.client")
    assert client.TIMEOUT_ACK == mqtt_client.ACK_TIMEOUT


def test_canary_defaults_are_has_own() -> None:
    """The birth and will defaults the bridge assumes are HA's."""
    assert (DEFAULT_BIRTH["topic"], DEFAULT_BIRTH["payload"]) == (
        HA_STATUS_TOPIC,
        ONLINE,
    )
    assert (DEFAULT_WILL["topic"], DEFAULT_WILL["payload"]) == (
        HA_STATUS_TOPIC,
        OFFLINE,
    )
    assert mqtt.DEFAULT_PREFIX == DEFAULT_DISCOVERY_PREFIX


@pytest.mark.parametrize(
    ("mqtt_config_entry_data", "mqtt5"),
    [
        ({"broker": "mock-broker", "protocol": "5"}, True),
        ({"broker": "mock-broker", "protocol": "3.1.1"}, False),
    ],
)
async def test_canary_client_attributes(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    mqtt_config_entry_data: dict[str, Any],
    mqtt5: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HA's client names its protocol, settings and paho client as read here."""
    real = mqtt_mock._mock_wraps
    assert real.is_mqttv5 is mqtt5
    assert real.conf[mqtt.CONF_BROKER] == "mock-broker"
    # The real client, not PHACC's mock of it (put back before MQTT unloads).
    monkeypatch.setattr(hass.data[mqtt.DATA_MQTT], "client", real)
    assert is_mqtt5(hass) is mqtt5
    assert sets_broker_expiry(hass) is (mqtt5 and mqtt_client.PUBLISH_TAKES_EXPIRY)
    assert discovery_prefix(hass) == "homeassistant"
    assert ha_status(hass) == HaStatus(
        topic="homeassistant/status", online="online", offline="offline"
    )
    # paho's client is where HA keeps it, with its socket() to tune.
    assert callable(real._mqttc.socket)


async def test_canary_not_connected_words(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """HA passes paho's not-connected words on, as the bridge expects."""
    paho_client: Any = hass.data[mqtt.DATA_MQTT].client._mqttc
    paho_client.publish.side_effect = lambda *_: SimpleNamespace(
        mid=1, rc=paho.MQTT_ERR_NO_CONN
    )
    with pytest.raises(HomeAssistantError) as err:
        await mqtt_mock._mock_wraps.async_publish("t", "x", 1, False)
    assert client_kept_message(err.value, 1) is True
    assert client_kept_message(err.value, 0) is False


# Fallbacks: HA's client changed or absent.


@pytest.mark.parametrize(
    "client",
    [None, SimpleNamespace(), SimpleNamespace(is_mqttv5="yes", conf=[1])],
    ids=["no client", "nothing", "odd values"],
)
async def test_unknown_client_falls_back(hass: HomeAssistant, client: Any) -> None:
    """No expiry, HA's defaults, no TCP_NODELAY: the plain behaviour."""
    _use(hass, client)
    assert is_mqtt5(hass) is False
    assert sets_broker_expiry(hass) is False
    assert discovery_prefix(hass) == DEFAULT_DISCOVERY_PREFIX
    assert ha_status(hass) == HaStatus(
        topic=HA_STATUS_TOPIC, online=ONLINE, offline=OFFLINE
    )
    assert features(hass) == {
        "mqtt5": False,
        "broker_expiry": False,
        "subscribe_acknowledged": hasattr(mqtt, "async_on_subscribe_done"),
        "tcp_nodelay": False,
    }


@pytest.mark.parametrize(
    ("conf", "expected"),
    [
        (
            {},
            HaStatus(topic="homeassistant/status", online="online", offline="offline"),
        ),
        (
            {"birth_message": {}, "will_message": {}},
            HaStatus(topic="homeassistant/status", online="online", offline=None),
        ),
        (
            {
                "birth_message": {"topic": "ha/up", "payload": "yes"},
                "will_message": {"topic": "ha/up", "payload": "no"},
                "discovery_prefix": "disco",
            },
            HaStatus(topic="ha/up", online="yes", offline="no"),
        ),
    ],
)
async def test_ha_status_from_mqtt_settings(
    hass: HomeAssistant, conf: dict[str, Any], expected: HaStatus
) -> None:
    """HA's birth and will as configured, or HA's defaults."""
    _use(hass, SimpleNamespace(conf=conf))
    assert ha_status(hass) == expected
    assert discovery_prefix(hass) == conf.get("discovery_prefix", "homeassistant")


def test_unknown_paho_words_count_as_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where paho's words cannot be known, a refused event is never "kept"."""
    err = HomeAssistantError(
        translation_domain="mqtt",
        translation_key="mqtt_broker_error",
        translation_placeholders={"error_message": paho.error_string(4)},
    )
    assert client_kept_message(err, 1) is True
    monkeypatch.setattr(mqtt_client, "_NOT_CONNECTED", None)
    assert client_kept_message(err, 1) is False
    with patch.object(paho, "error_string", side_effect=AttributeError):
        assert mqtt_client._not_connected_text() is None


async def test_when_subscribed_without_has_callback(hass: HomeAssistant) -> None:
    """Before HA 2025.12 there is nothing to wait for: None, for a fixed wait."""
    with patch.object(mqtt, "async_on_subscribe_done", None, create=True):
        assert async_when_subscribed(hass, "t", 1, lambda: None) is None


async def test_expiry_is_the_remaining_ttl_in_whole_seconds(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rounded down, at least 1, at most the longest TTL."""
    calls: list[dict[str, Any]] = []

    async def record(*args: Any, **kwargs: Any) -> None:
        calls.append(kwargs)

    monkeypatch.setattr(mqtt_client, "_publish", record)
    monkeypatch.setattr(mqtt_client, "PUBLISH_TAKES_EXPIRY", True)
    _use(hass, SimpleNamespace(is_mqttv5=True))
    now = dt_util.utcnow()
    for left, expected in ((19.9, 19), (0.2, 1), (10**7, 86_400)):
        await mqtt_client.async_publish_event(
            hass, "t", b"{}", 1, now + timedelta(seconds=left)
        )
        assert calls.pop() == {"retain": False, "message_expiry_interval": expected}
    _use(hass, SimpleNamespace(is_mqttv5=False))
    await mqtt_client.async_publish_event(hass, "t", b"{}", 1, now)
    assert calls.pop() == {"retain": False}


# TCP_NODELAY on HA's socket.


@pytest.mark.parametrize(
    "client",
    [
        None,
        SimpleNamespace(),
        SimpleNamespace(_mqttc=None),
        _client_with(None),
        _client_with(object()),
    ],
    ids=["no client", "no paho", "paho gone", "not connected", "no socket api"],
)
async def test_where_nodelay_cannot_be_set(hass: HomeAssistant, client: Any) -> None:
    """Whatever HA's client looks like, the answer is False, not an error."""
    _use(hass, client)
    assert async_set_nodelay(hass) is False
    assert nodelay_in_effect(hass) is False


async def test_closed_socket_is_not_a_crash(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    """A socket closing under the bridge: False, and HA goes on."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.close()
    _use(hass, _client_with(sock))
    assert async_set_nodelay(hass) is False
    assert nodelay_in_effect(hass) is False


async def test_unix_socket_is_left_alone(hass: HomeAssistant) -> None:
    """Only TCP sockets have Nagle's algorithm."""
    left, right = socket.socketpair(socket.AF_UNIX)
    with left, right:
        _use(hass, _client_with(left))
        assert async_set_nodelay(hass) is False


async def test_tcp_socket_and_websocket_wrapper(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    """A TCP socket gets TCP_NODELAY, also inside paho's websocket wrapper."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        for seen in (sock, SimpleNamespace(_socket=sock)):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
            _use(hass, _client_with(seen))
            assert nodelay_in_effect(hass) is False
            assert async_set_nodelay(hass) is True
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
            assert nodelay_in_effect(hass) is True


async def test_nodelay_follows_reconnects(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, socket_enabled: None
) -> None:
    """Set at once, and again on each connect, until stopped."""
    paho_client: Any = hass.data[mqtt.DATA_MQTT].client._mqttc
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        paho_client.socket.return_value = sock
        stop = async_keep_nodelay(hass)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        # HA made a new socket on reconnect (here: the same, reset).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
        set_connected(hass, mqtt_mock, False)
        set_connected(hass, mqtt_mock, True)
        await hass.async_block_till_done()
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        stop()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
        set_connected(hass, mqtt_mock, False)
        set_connected(hass, mqtt_mock, True)
        await hass.async_block_till_done()
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
