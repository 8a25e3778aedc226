"""Home Assistant's MQTT connection tuned for small packets: no 40 ms waits.

Two TCP mechanisms, each sensible alone, stall small request-and-answer
traffic for about 40 ms when they meet: Nagle's algorithm (a small packet
waits while an earlier one is unacknowledged) and delayed ACKs (a receiver
that has nothing to send acknowledges up to 40 ms late). Neither HA nor paho
changes either on HA's socket, and mosquitto's defaults keep Nagle on at the
broker. The bridge adjusts HA's side, for HA's whole MQTT connection:

- Nagle off (TCP_NODELAY), set on every (re)connect. With discovery on, HA's
  own MQTT event entities receive every event the bridge publishes (the
  echo), and answer each QoS 1 one with a PUBACK; with Nagle on, HA's next
  PUBLISH waited behind that PUBACK until the broker's delayed ACK.
- Delayed ACKs flushed after every read (TCP_QUICKACK, Linux only), but only
  while a caller waits for a response. A packet HA does not answer (the
  broker's PUBACK for the question, or the echo of a QoS 0 question) left
  HA's acknowledgement delayed, and a broker with Nagle on held the answer
  until it came. TCP_QUICKACK does not stick (the kernel may go back to
  delaying), so it is set again after each time HA reads the socket. Always
  on, it cost every MQTT message HA read: about 20 us of loop time per event
  with the discovery echo (4 %, measured in pairs), hence only while someone
  waits.

Reached through HA's paho client and its public `socket()`, which are not
public API of HA: every step is feature-detected, and where HA's internals
differ the bridge leaves the connection as it is.
"""

from collections.abc import Callable
from contextlib import suppress
import logging
import socket
from typing import Any

from homeassistant.components import mqtt
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback

_LOGGER = logging.getLogger(__name__)

# Linux only; elsewhere delayed ACKs are left as they are.
_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)
# Who wants HA's delayed ACKs flushed now (bridge entries with waiting callers).
_WANTING = "mqtt_event_bridge_flush_acks"


def _paho(hass: HomeAssistant) -> Any:
    """Give HA's paho client, or None."""
    client = getattr(hass.data.get(mqtt.DATA_MQTT), "client", None)
    return getattr(client, "_mqttc", None)


def _tcp_socket(paho: Any) -> socket.socket | None:
    """Give the TCP socket of a connected paho client, or None."""
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
    """Turn Nagle off on HA's MQTT socket; False where that cannot be done."""
    if (sock := _tcp_socket(_paho(hass))) is None:
        return False
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (AttributeError, OSError, ValueError) as err:
        _LOGGER.debug("TCP_NODELAY not set on HA's MQTT socket: %r", err)
        return False
    return True


class QuickAckRead:
    """paho's `loop_read`, then any acknowledgement the kernel delayed sent now."""

    def __init__(self, paho: Any, read: Callable[..., Any], option: int) -> None:
        """Wrap `read` of `paho`; `option` is TCP_QUICKACK."""
        self._paho = paho
        self._option = option
        self.read = read

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Read as paho does; then flush the delayed ACK, if any."""
        result = self.read(*args, **kwargs)
        if (sock := _tcp_socket(self._paho)) is not None:
            # OSError: closing under us; the next connection is tuned again.
            with suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, self._option, 1)
        return result


@callback
def _async_apply_quickack(hass: HomeAssistant) -> None:
    """Wrap HA's reads while anyone wants ACKs flushed; unwrap them otherwise."""
    paho = _paho(hass)
    read = getattr(paho, "loop_read", None)
    if _QUICKACK is None or not callable(read):
        return
    if hass.data.get(_WANTING):
        if not isinstance(read, QuickAckRead):
            paho.loop_read = QuickAckRead(paho, read, _QUICKACK)
    elif isinstance(read, QuickAckRead):
        paho.loop_read = read.read


@callback
def async_flush_acks(hass: HomeAssistant, who: str, wanted: bool) -> None:  # noqa: FBT001
    """Say whether `who` wants HA's delayed ACKs flushed after each read.

    They are flushed while anyone wants it: a bridge entry while one of its
    callers waits for a response. Otherwise HA's reads are left as they are.
    """
    wanting: set[str] = hass.data.setdefault(_WANTING, set())
    if wanted:
        wanting.add(who)
    else:
        wanting.discard(who)
    _async_apply_quickack(hass)


@callback
def async_keep_tuned(hass: HomeAssistant) -> CALLBACK_TYPE:
    """Keep HA's MQTT connection tuned across reconnects; return how to stop.

    TCP_NODELAY is set now and on every connect, and stays on the socket.
    The ACK flushing, which follows `async_flush_acks`, is applied again on
    every connect too, in case HA made a new client.
    """

    @callback
    def async_tune() -> None:
        async_set_nodelay(hass)
        _async_apply_quickack(hass)

    @callback
    def connection_changed(connected: bool) -> None:  # noqa: FBT001
        if connected:
            async_tune()

    if mqtt.is_connected(hass):
        async_tune()
    return mqtt.async_subscribe_connection_status(hass, connection_changed)
