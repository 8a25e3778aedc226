"""Typed state that one config entry keeps in `entry.runtime_data`."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Self

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import Event, HomeAssistant, callback

from .camera_event import CameraEvents
from .const import (
    CONF_BASE_URL,
    CONF_DISCOVERY,
    CONF_EVENT_TYPES,
    CONF_FORWARD_DISCOVERY,
    CONF_FORWARD_ENTITIES,
    CONF_FORWARD_EVENT_TYPES,
    CONF_FORWARD_RATE,
    CONF_OUTBOX_SIZE,
    CONF_QOS,
    CONF_TCP_NODELAY,
    CONF_THUMBNAIL_LIFETIME,
    CONF_TOPIC_PREFIX,
    CONF_TTL,
    DEFAULT_DISCOVERY,
    DEFAULT_EVENT_TYPES,
    DEFAULT_FORWARD_DISCOVERY,
    DEFAULT_FORWARD_RATE,
    DEFAULT_OUTBOX_SIZE,
    DEFAULT_TCP_NODELAY,
    DEFAULT_THUMBNAIL_LIFETIME,
)
from .discovery import DiscoveryPublisher
from .first_event import FirstEventGate
from .forwarding import EventForwarder
from .mqtt_client import async_keep_nodelay
from .publisher import EventPublisher
from .responses import ResponseListener
from .waits import Outcome, ResponseWaits, RoundTrips


@dataclass(frozen=True, kw_only=True, slots=True)
class BridgeSettings:
    """The settings in force: options win over the data the entry was created with."""

    topic_prefix: str
    qos: int
    ttl: int
    outbox_size: int
    discovery: bool
    event_types: tuple[str, ...]
    # Where thumbnail links point; None: HA's own URL at the time of the event.
    base_url: str | None
    thumbnail_lifetime: int
    # HA's own events published too, and for state_changed which entities.
    forward_event_types: tuple[str, ...] = ()
    forward_entities: tuple[str, ...] = ()
    forward_rate: int = DEFAULT_FORWARD_RATE
    forward_discovery: bool = DEFAULT_FORWARD_DISCOVERY
    # Nagle's algorithm off on HA's whole MQTT connection.
    tcp_nodelay: bool = DEFAULT_TCP_NODELAY

    @classmethod
    def from_entry(cls, entry: ConfigEntry) -> Self:
        """Read the settings of an entry, options winning over the initial data."""
        return cls(
            topic_prefix=entry.data[CONF_TOPIC_PREFIX],
            qos=int(entry.options.get(CONF_QOS, entry.data[CONF_QOS])),
            ttl=int(entry.options.get(CONF_TTL, entry.data[CONF_TTL])),
            outbox_size=int(entry.options.get(CONF_OUTBOX_SIZE, DEFAULT_OUTBOX_SIZE)),
            discovery=bool(entry.options.get(CONF_DISCOVERY, DEFAULT_DISCOVERY)),
            event_types=tuple(entry.options.get(CONF_EVENT_TYPES, DEFAULT_EVENT_TYPES)),
            base_url=entry.options.get(CONF_BASE_URL),
            thumbnail_lifetime=int(
                entry.options.get(CONF_THUMBNAIL_LIFETIME, DEFAULT_THUMBNAIL_LIFETIME)
            ),
            forward_event_types=tuple(entry.options.get(CONF_FORWARD_EVENT_TYPES, ())),
            forward_entities=tuple(entry.options.get(CONF_FORWARD_ENTITIES, ())),
            forward_rate=int(
                entry.options.get(CONF_FORWARD_RATE, DEFAULT_FORWARD_RATE)
            ),
            forward_discovery=bool(
                entry.options.get(CONF_FORWARD_DISCOVERY, DEFAULT_FORWARD_DISCOVERY)
            ),
            tcp_nodelay=bool(entry.options.get(CONF_TCP_NODELAY, DEFAULT_TCP_NODELAY)),
        )


@dataclass(kw_only=True, slots=True)
class BridgeRuntimeData:
    """Everything a loaded entry owns, and the order it starts and stops in."""

    settings: BridgeSettings
    publisher: EventPublisher
    responses: ResponseListener
    discovery: DiscoveryPublisher
    gate: FirstEventGate
    cameras: CameraEvents
    waits: ResponseWaits
    round_trips: RoundTrips
    forwarder: EventForwarder
    # How to stop each part that has started, in the order they started: the
    # way to the broker, and what brings events and responses in.
    _stops: list[Callable[[], Awaitable[None] | None]] = field(default_factory=list)
    _intake: list[Callable[[], None]] = field(default_factory=list)

    async def async_start(self, hass: HomeAssistant) -> None:
        """Start the parts, each after what it hands events to.

        A part that fails to start leaves the ones before it to `async_stop`.
        """
        if self.settings.tcp_nodelay:
            self._stops.append(async_keep_nodelay(hass))

        @callback
        def ha_stops(_: Event) -> None:
            # Before HA's last writes: no call is left waiting for HA to cancel.
            self.waits.async_end_all(Outcome.STOPPED)

        self._intake.append(hass.bus.async_listen(EVENT_HOMEASSISTANT_STOP, ha_stops))
        await self.discovery.async_start()
        self._stops.append(self.discovery.async_stop)
        await self.publisher.async_start()
        self._stops.append(self.publisher.async_stop)
        # Events waiting for a snapshot, or for HA to listen to a new type,
        # reach the outbox before it is saved.
        self._intake.append(self.gate.async_release_all)
        self._intake.append(self.cameras.async_stop)
        self._intake.append(await self.responses.async_start())
        self._intake.append(self.forwarder.async_start())

    async def async_quiesce(self) -> None:
        """Take nothing more in, and let the events handed to HA's client end.

        Waiting callers are told at once. Run before the entities go: the
        counts they save then include every send.
        """
        self.waits.async_end_all()
        while self._intake:
            self._intake.pop()()
        await self.publisher.async_drain()

    async def async_stop(self) -> None:
        """Stop what started, newest first."""
        await self.async_quiesce()
        while self._stops:
            if (result := self._stops.pop()()) is not None:
                await result


type BridgeConfigEntry = ConfigEntry[BridgeRuntimeData]
