"""HA's MQTT socket tuned: where HA's internals allow, never a crash."""

import socket
from types import SimpleNamespace
from typing import Any

from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.mqtt_event_bridge.nodelay import (
    QuickAckRead,
    async_flush_acks,
    async_keep_tuned,
    async_set_nodelay,
)

from .conftest import set_connected


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


async def test_closed_socket_is_not_a_crash(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    """A socket closing under the bridge: False, and HA goes on."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.close()
    _use(hass, _client_with(sock))
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


def _connected_pair() -> tuple[socket.socket, socket.socket]:
    """Two ends of a TCP connection on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    return client, server


def _paho_reading(sock: Any, result: Any = 0) -> SimpleNamespace:
    """A stand-in for HA's paho client whose `loop_read` returns `result`."""
    reads: list[tuple[Any, ...]] = []

    def loop_read(*args: Any) -> Any:
        reads.append(args)
        return result

    return SimpleNamespace(socket=lambda: sock, loop_read=loop_read, reads=reads)


@pytest.mark.parametrize(
    "client",
    [None, SimpleNamespace(), SimpleNamespace(_mqttc=SimpleNamespace(loop_read=None))],
    ids=["no client", "no paho", "no loop_read"],
)
async def test_quickack_where_it_cannot_be_set(
    hass: HomeAssistant, client: Any
) -> None:
    """Without paho's read to wrap, wanting ACKs flushed changes nothing."""
    _use(hass, client)
    async_flush_acks(hass, "entry", True)
    async_flush_acks(hass, "entry", False)
    if client is not None and getattr(client, "_mqttc", None) is not None:
        assert client._mqttc.loop_read is None


async def test_quickack_after_every_read_while_wanted(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    """While wanted, each read is paho's and leaves the socket in quick-ACK mode."""
    client, server = _connected_pair()
    with client, server:
        paho = _paho_reading(client, result=7)
        original = paho.loop_read
        _use(hass, SimpleNamespace(_mqttc=paho))
        async_flush_acks(hass, "first", True)
        async_flush_acks(hass, "second", True)
        wrapper = paho.loop_read
        assert isinstance(wrapper, QuickAckRead)
        # Wrapped once, however many want it.
        assert wrapper.read is original
        for _ in range(2):
            # Off (as the kernel may turn it), then a read turns it on again.
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 0)
            assert client.getsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK) == 0
            assert paho.loop_read(10) == 7
            assert client.getsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK) == 1
        assert paho.reads == [(10,), (10,)]

        # Until the last one stops wanting it, then HA's reads are paho's again.
        async_flush_acks(hass, "first", False)
        assert paho.loop_read is wrapper
        async_flush_acks(hass, "second", False)
        assert paho.loop_read is original
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 0)
        assert paho.loop_read(10) == 7
        assert client.getsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK) == 0


async def test_quickack_read_survives_what_the_socket_does(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    """No socket, a Unix socket or a closed one: paho's read result, no error."""
    client, server = _connected_pair()
    server.close()
    client.close()
    left, right = socket.socketpair(socket.AF_UNIX)
    with left, right:
        for sock in (None, left, client):
            paho = _paho_reading(sock, result=3)
            _use(hass, SimpleNamespace(_mqttc=paho))
            async_flush_acks(hass, "entry", True)
            assert isinstance(paho.loop_read, QuickAckRead)
            assert paho.loop_read() == 3
            async_flush_acks(hass, "entry", False)


async def test_tuning_follows_reconnects(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient
) -> None:
    """On a (re)connect, the flush is applied to HA's client as it is then."""
    paho = hass.data[mqtt.DATA_MQTT].client._mqttc
    original = paho.loop_read
    set_connected(hass, mqtt_mock, False)
    stop = async_keep_tuned(hass)
    set_connected(hass, mqtt_mock, True)
    await hass.async_block_till_done()
    assert paho.loop_read is original
    async_flush_acks(hass, "entry", True)
    assert isinstance(paho.loop_read, QuickAckRead)
    # HA made a new client meanwhile: the next connect wraps its reads.
    paho.loop_read = original  # type: ignore[method-assign]
    set_connected(hass, mqtt_mock, False)
    set_connected(hass, mqtt_mock, True)
    await hass.async_block_till_done()
    assert isinstance(paho.loop_read, QuickAckRead)
    stop()
    async_flush_acks(hass, "entry", False)
    assert paho.loop_read is original
