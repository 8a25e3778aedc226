"""Nagle's algorithm off on Home Assistant's MQTT connection.

Neither HA nor paho sets TCP_NODELAY. With discovery on, HA's own MQTT event
entities receive every event the bridge publishes (the echo), and with QoS 1
HA answers each with a PUBACK. A broker that sends without Nagle's delay
(EMQX; mosquitto with `set_tcp_nodelay true`) acknowledges HA's small packets
at once only if they do not wait on HA's side: with Nagle on, HA's next
PUBLISH waits behind its unacknowledged PUBACK until the broker's delayed ACK,
about 40 ms. Small MQTT packets gain nothing from Nagle, so the bridge turns
it off, on every (re)connect, for HA's whole MQTT connection.

Reached through paho's public `socket()` on HA's client object, which is not
public API: every step is feature-detected, and where HA's internals differ
the bridge simply leaves the socket as it is.
"""

import logging
import socket

from homeassistant.components import mqtt
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback

_LOGGER = logging.getLogger(__name__)


@callback
def async_set_nodelay(hass: HomeAssistant) -> bool:
    """Turn Nagle off on HA's MQTT socket; False where that cannot be done."""
    client = getattr(hass.data.get(mqtt.DATA_MQTT), "client", None)
    get_socket = getattr(getattr(client, "_mqttc", None), "socket", None)
    if not callable(get_socket):
        return False
    sock = get_socket()
    # paho's websocket wrapper keeps the TCP socket inside.
    sock = getattr(sock, "_socket", sock)
    try:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return False
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (AttributeError, OSError, ValueError) as err:
        _LOGGER.debug("TCP_NODELAY not set on HA's MQTT socket: %r", err)
        return False
    return True


@callback
def async_keep_nodelay(hass: HomeAssistant) -> CALLBACK_TYPE:
    """Set TCP_NODELAY now and after every reconnect; return how to stop."""

    @callback
    def connection_changed(connected: bool) -> None:  # noqa: FBT001
        if connected:
            async_set_nodelay(hass)

    if mqtt.is_connected(hass):
        async_set_nodelay(hass)
    return mqtt.async_subscribe_connection_status(hass, connection_changed)
