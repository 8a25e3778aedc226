"""The one way into the outbox: the first events of a new type wait for HA to listen.

Actions, camera events and forwarded HA events all enter the outbox here.
HA's event entity for a newly offered type subscribes only after it has read
the type's discovery config: sent at once, the first event would reach the
broker before anyone in HA listens, and never fire its entity. So events of a
type offered now wait until HA's subscription is acknowledged (or
FIRST_EVENT_WAIT; a fixed FIRST_EVENT_FIXED_WAIT where HA cannot tell), never
more than half the first event's TTL, in order; other types go on.
"""

from dataclasses import dataclass, field
from datetime import datetime

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_call_later
from homeassistant.util import dt as dt_util

from .const import DISCOVERY_QOS, FIRST_EVENT_FIXED_WAIT, FIRST_EVENT_WAIT
from .discovery import DiscoveryPublisher
from .discovery_payloads import type_topic
from .envelope import OutgoingEvent
from .mqtt_client import async_when_subscribed
from .publisher import EventPublisher
from .waits import RoundTrips


@dataclass(slots=True)
class _Held:
    """Events of one new type, and what ends their wait."""

    events: list[OutgoingEvent] = field(default_factory=list)
    stops: list[CALLBACK_TYPE] = field(default_factory=list)


class FirstEventGate:
    """Hands events to the outbox; those of a type offered now wait for HA."""

    def __init__(
        self,
        hass: HomeAssistant,
        *,
        prefix: str,
        discovery: DiscoveryPublisher,
        publisher: EventPublisher,
        round_trips: RoundTrips,
    ) -> None:
        """Hold nothing yet."""
        self._hass = hass
        self._round_trips = round_trips
        self._prefix = prefix
        self._discovery = discovery
        self._publisher = publisher
        self._held: dict[str, _Held] = {}

    @callback
    def async_submit(self, event_type: str | None, event: OutgoingEvent) -> None:
        """Accept an event; `event_type` None: a type never offered in discovery."""
        # The round trip to a response counts from here, a held wait included.
        self._round_trips.async_accepted(event.event_id)
        if event_type is None:
            self._publisher.async_submit(event)
            return
        if self._discovery.async_offer(event_type):
            self._async_hold_until_listened(event_type, event.expires_at)
        if (held := self._held.get(event_type)) is not None:
            held.events.append(event)
        else:
            self._publisher.async_submit(event)

    @callback
    def async_release_all(self) -> None:
        """Hand every held event to the outbox (on unload, before it is saved)."""
        for event_type in list(self._held):
            self._async_release(event_type)

    @callback
    def _async_hold_until_listened(self, event_type: str, expires_at: datetime) -> None:
        held = self._held[event_type] = _Held()

        @callback
        def release(*_: object) -> None:
            self._async_release(event_type)

        topic = type_topic(self._prefix, event_type)
        if (
            stop := async_when_subscribed(self._hass, topic, DISCOVERY_QOS, release)
        ) is not None:
            held.stops.append(stop)
            wait = FIRST_EVENT_WAIT
        else:
            wait = FIRST_EVENT_FIXED_WAIT
        # A short-lived event must not expire waiting.
        remaining = (expires_at - dt_util.utcnow()).total_seconds()
        wait = min(wait, max(0.0, remaining / 2))
        held.stops.append(async_call_later(self._hass, wait, release))

    @callback
    def _async_release(self, event_type: str) -> None:
        # Released already, by the other of its two triggers: nothing is left.
        held = self._held.pop(event_type, _Held())
        for stop in held.stops:
            stop()
        for event in held.events:
            self._publisher.async_submit(event)
