"""TCP_NODELAY on HA's MQTT socket: set where HA's internals allow, never a crash."""

import socket
from types import SimpleNamespace
from typing import Any

from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant
import pytest

from custom_components.mqtt_event_bridge.nodelay import async_set_nodelay


def _use(hass: HomeAssistant, client: Any) -> None:
    """Stand in for HA's MQTT data, with the given client."""
    data: dict[Any, Any] = hass.data
    data[mqtt.DATA_MQTT] = SimpleNamespace(client=client)


def _client_with(sock: Any) -> SimpleNamespace:
    return SimpleNamespace(_mqttc=SimpleNamespace(socket=lambda: sock))


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
async def test_where_it_cannot_be_set(hass: HomeAssistant, client: Any) -> None:
    """Whatever HA's client looks like, the answer is False, not an error."""
    _use(hass, client)
    assert async_set_nodelay(hass) is False


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
            assert async_set_nodelay(hass) is True
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
