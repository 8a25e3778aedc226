"""The one place that reaches past HA's public MQTT helpers.

Everything else in the bridge uses `mqtt.async_publish`, `async_subscribe`,
`is_connected`, `async_subscribe_connection_status` and
`async_wait_for_mqtt_client`. What those do not offer is read here, each
piece feature-detected: where HA or paho changed, the bridge falls back to
the plain behaviour, says so in a debug line, and `features` (shown in
diagnostics) tells what took effect. Nothing of HA's or paho's is replaced or
patched; `tests/test_mqtt_client.py` fails on the leg whose HA moved a piece.

- The broker-side expiry: newer HA's `mqtt.async_publish` takes
  `message_expiry_interval`, on MQTT 5 connections only.
- Whether a publish that raised was still kept by paho (it queues QoS 1 and
  2 messages while disconnected and sends them after reconnecting).
- HA's birth and will messages and its discovery prefix, from the settings
  of HA's MQTT client.
- The acknowledgement of a subscription (`mqtt.async_on_subscribe_done`,
  HA 2025.12 and newer).
- TCP_NODELAY on HA's MQTT socket, for HA's whole MQTT connection.
- How long HA's client waits for an acknowledgement before it gives up and
  returns as if the message had been acknowledged (ACK_TIMEOUT).
"""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
import inspect
import logging
import socket
from typing import Any

from homeassistant.components import mqtt
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import dt as dt_util

from .const import MAX_TTL

_LOGGER = logging.getLogger(__name__)

# HA's defaults for its birth and will messages (the canary test compares them
# with HA's own): used where its settings name none.
HA_STATUS_TOPIC = "homeassistant/status"
ONLINE = "online"
OFFLINE = "offline"
DEFAULT_DISCOVERY_PREFIX = "homeassistant"
# HA's client stops waiting for a QoS 1 or 2 acknowledgement after this many
# seconds, logs a warning and returns normally (the canary test reads HA's).
ACK_TIMEOUT = 10.0

# A keyword of the public helper, but only in newer HA: looked for once.
_publish: Callable[..., Awaitable[None]] = mqtt.async_publish
PUBLISH_TAKES_EXPIRY = (
    "message_expiry_interval" in inspect.signature(_publish).parameters
)


def _not_connected_text() -> str | None:
    """Give the words paho uses when it is not connected; HA passes them on."""
    try:
        import paho.mqtt.client as paho  # noqa: PLC0415 - HA imports it lazily too

        return str(paho.error_string(paho.MQTT_ERR_NO_CONN))
    except (ImportError, AttributeError) as err:
        _LOGGER.debug("paho's not-connected error is unknown: %r", err)
        return None


_NOT_CONNECTED = _not_connected_text()


def _client(hass: HomeAssistant) -> Any:
    """Give HA's MQTT client object, or None."""
    return getattr(hass.data.get(mqtt.DATA_MQTT), "client", None)


def is_mqtt5(hass: HomeAssistant) -> bool:
    """Tell whether HA's MQTT connection speaks MQTT 5; False when unknown."""
    value = getattr(_client(hass), "is_mqttv5", None)
    if not isinstance(value, bool):
        _LOGGER.debug("HA's MQTT client does not say its protocol: no expiry")
        return False
    return value


def sets_broker_expiry(hass: HomeAssistant) -> bool:
    """Tell whether events get a broker-side expiry: HA takes one, on MQTT 5."""
    return PUBLISH_TAKES_EXPIRY and is_mqtt5(hass)


async def async_publish_event(
    hass: HomeAssistant, topic: str, payload: bytes, qos: int, expires_at: datetime
) -> bool:
    """Publish one event, never retained, with a broker expiry where it can have one.

    The expiry is the remaining TTL in whole seconds, rounded down so that a
    broker never keeps an event past its `expires_at`; at least 1 (0 is no
    expiry to a broker), at most the longest TTL.

    Give False when HA's client gave up waiting for the acknowledgement of a
    QoS 1 or 2 event (it returns as if acknowledged, after ACK_TIMEOUT): the
    broker may have it or not, and may still deliver it late.
    """
    started = hass.loop.time()
    if not sets_broker_expiry(hass):
        await _publish(hass, topic, payload, qos, retain=False)
    else:
        remaining = int((expires_at - dt_util.utcnow()).total_seconds())
        await _publish(
            hass,
            topic,
            payload,
            qos,
            retain=False,
            message_expiry_interval=min(MAX_TTL, max(1, remaining)),
        )
    return qos == 0 or hass.loop.time() - started < ACK_TIMEOUT


def client_kept_message(err: HomeAssistantError, qos: int) -> bool:
    """Tell whether paho kept a message although publishing raised.

    Disconnected, paho still queues QoS 1 and 2 messages and sends them after
    reconnecting; QoS 0 messages are gone. Unknown words count as not kept.
    """
    placeholders = err.translation_placeholders or {}
    return (
        qos > 0
        and _NOT_CONNECTED is not None
        and placeholders.get("error_message") == _NOT_CONNECTED
    )


def _conf(hass: HomeAssistant) -> Mapping[str, Any]:
    """Give the settings of HA's MQTT client; empty when they cannot be read."""
    conf: Any = getattr(_client(hass), "conf", None)
    if not callable(getattr(conf, "get", None)):
        _LOGGER.debug("HA's MQTT settings cannot be read: HA's defaults assumed")
        return {}
    settings: Mapping[str, Any] = conf
    return settings


@dataclass(frozen=True, kw_only=True, slots=True)
class HaStatus:
    """HA's own birth and will, as its MQTT integration is configured."""

    topic: str
    online: str
    # None when HA sends no will: then it cannot mark entities unavailable.
    offline: str | None


def ha_status(hass: HomeAssistant) -> HaStatus:
    """Read HA's birth and will messages from its MQTT settings."""
    conf = _conf(hass)
    # An empty birth message means HA sends none: HA's default topic is
    # still where it would say it is online.
    birth = conf.get(mqtt.CONF_BIRTH_MESSAGE) or {}
    will = conf.get(mqtt.CONF_WILL_MESSAGE, {"payload": OFFLINE})
    return HaStatus(
        topic=str(birth.get("topic", HA_STATUS_TOPIC)),
        online=str(birth.get("payload", ONLINE)),
        offline=str(will.get("payload", OFFLINE)) if will else None,
    )


def discovery_prefix(hass: HomeAssistant) -> str:
    """Give the prefix HA's MQTT discovery listens on."""
    return str(_conf(hass).get(mqtt.CONF_DISCOVERY_PREFIX, DEFAULT_DISCOVERY_PREFIX))


@callback
def async_when_subscribed(
    hass: HomeAssistant, topic: str, qos: int, done: CALLBACK_TYPE
) -> CALLBACK_TYPE | None:
    """Call `done` once the broker acknowledged HA's subscription to `topic`.

    None where HA cannot tell (before 2025.12): the caller waits a fixed time.
    """
    if (on_done := _on_subscribe_done()) is None:
        return None
    unsubscribe: CALLBACK_TYPE = on_done(hass, topic, qos, done)
    return unsubscribe


def _on_subscribe_done() -> Callable[..., CALLBACK_TYPE] | None:
    """Give HA's `async_on_subscribe_done` (HA 2025.12 and newer), or None."""
    found: Callable[..., CALLBACK_TYPE] | None = getattr(
        mqtt, "async_on_subscribe_done", None
    )
    return found


def _tcp_socket(hass: HomeAssistant) -> socket.socket | None:
    """Give the TCP socket of HA's connected paho client, or None."""
    paho = getattr(_client(hass), "_mqttc", None)
    get_socket = getattr(paho, "socket", None)
    if not callable(get_socket):
        return None
    sock = get_socket()
    # paho's websocket wrapper keeps the TCP socket inside.
    sock = getattr(sock, "_socket", sock)
    if getattr(sock, "family", None) not in (socket.AF_INET, socket.AF_INET6):
        return None
    tcp: socket.socket = sock
    return tcp


@callback
def async_set_nodelay(hass: HomeAssistant) -> bool:
    """Turn Nagle's algorithm off on HA's MQTT socket; False where it cannot be."""
    if (sock := _tcp_socket(hass)) is None:
        _LOGGER.debug("HA's MQTT socket is not reachable: TCP_NODELAY not set")
        return False
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (AttributeError, OSError, ValueError) as err:
        _LOGGER.debug("TCP_NODELAY not set on HA's MQTT socket: %r", err)
        return False
    return True


def nodelay_in_effect(hass: HomeAssistant) -> bool:
    """Tell whether HA's MQTT socket has Nagle's algorithm off now."""
    if (sock := _tcp_socket(hass)) is None:
        return False
    try:
        return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
    except (AttributeError, OSError, ValueError):
        return False


@callback
def async_keep_nodelay(hass: HomeAssistant) -> CALLBACK_TYPE:
    """Set TCP_NODELAY now and on every (re)connect; return how to stop.

    It stays on the socket until HA makes a new one (a reconnect).
    """

    @callback
    def connection_changed(connected: bool) -> None:  # noqa: FBT001
        if connected:
            async_set_nodelay(hass)

    if mqtt.is_connected(hass):
        async_set_nodelay(hass)
    return mqtt.async_subscribe_connection_status(hass, connection_changed)


def features(hass: HomeAssistant) -> dict[str, bool]:
    """Say what took effect of the above, for diagnostics."""
    return {
        "mqtt5": is_mqtt5(hass),
        "broker_expiry": sets_broker_expiry(hass),
        "subscribe_acknowledged": _on_subscribe_done() is not None,
        "tcp_nodelay": nodelay_in_effect(hass),
    }
