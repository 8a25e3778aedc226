"""MQTT discovery configs, built from settings alone: no I/O, no state.

Each event type becomes an MQTT `event` entity and a device trigger on the
bridge's events device; camera events get one of each too. Everything goes in
one device-based config (`<discovery prefix>/device/<id>/config`, HA 2024.11
and newer).
"""

from dataclasses import dataclass
import hashlib
from typing import Any

from .const import (
    CAMERA_EVENT_TYPE,
    DISCOVERY_QOS,
    DOMAIN,
    FORWARD_TYPE_PREFIX,
    STATUS_TYPE_PREFIX,
)
from .mqtt_client import HaStatus
from .topics import availability_topic, camera_filter, event_topic, status_topic

SUPPORT_URL = "https://github.com/mqtt-event-bridge/mqtt-event-bridge"

# Every id discovery gives (devices, and the unique ids of their entities)
# begins with this.
DISCOVERY_ID_PREFIX = f"{DOMAIN}_"


def device_identifier(entry_id: str) -> str:
    """Return the id of the MQTT device that holds the event types."""
    return f"{DISCOVERY_ID_PREFIX}{entry_id}"


def device_name(prefix: str) -> str:
    """Name the bridge's own device (sensors, Response entity)."""
    return f"MQTT Event Bridge {prefix}"


def events_device_name(prefix: str) -> str:
    """Name the device of the event types (event entities, device triggers)."""
    return f"{device_name(prefix)} events"


def readable_name(event_type: str) -> str:
    """Give an event type a readable name: "Status analysis complete".

    The UI cuts a long entity name short; words read better there than a topic.
    A forwarded HA event type says so: "State changed (Home Assistant event)".
    """
    if event_type.startswith(FORWARD_TYPE_PREFIX):
        words = _words(event_type.removeprefix(FORWARD_TYPE_PREFIX))
        return f"{words} (Home Assistant event)"
    return _words(event_type)


def _words(text: str) -> str:
    for separator in "/_-.":
        text = text.replace(separator, " ")
    return " ".join(text.split()).capitalize()


def readable_names(event_types: list[str]) -> dict[str, str]:
    """Name each type; a type whose words an earlier type has is named with itself too.

    `door/open_close` and `door-open/close` read the same: the first keeps
    "Door open close", the second becomes "Door open close (door-open/close)".
    Types are kept in the order they were offered, so a name never changes
    when another type comes.
    """
    names: dict[str, str] = {}
    taken: set[str] = set()
    for event_type in event_types:
        name = readable_name(event_type)
        if name in taken:
            name = f"{name} ({event_type})"
        taken.add(name)
        names[event_type] = name
    return names


def _object_id(event_type: str) -> str:
    """Return a discovery id for an event type: readable, distinct per type."""
    digest = hashlib.sha256(event_type.encode()).hexdigest()[:8]
    return f"{event_type.replace('/', '_')}_{digest}"


def type_topic(prefix: str, event_type: str) -> str:
    """Return the topic events of a type are published to."""
    if event_type.startswith(STATUS_TYPE_PREFIX):
        return status_topic(prefix, event_type.removeprefix(STATUS_TYPE_PREFIX))
    return event_topic(prefix, event_type)


@dataclass(kw_only=True, slots=True)
class _Component:
    object_id: str
    platform: str
    config: dict[str, Any]


def _components(prefix: str, event_types: list[str]) -> list[_Component]:
    """Build an event entity and a device trigger per type, and for cameras."""
    kinds = [(kind, type_topic(prefix, kind)) for kind in event_types]
    kinds.append((CAMERA_EVENT_TYPE, camera_filter(prefix)))
    names = readable_names([kind for kind, _ in kinds])
    components = []
    for event_type, topic in kinds:
        object_id = _object_id(event_type)
        components.append(
            _Component(
                object_id=f"{object_id}_event",
                platform="event",
                config={
                    "name": names[event_type],
                    "state_topic": topic,
                    "event_types": [event_type],
                    "qos": DISCOVERY_QOS,
                },
            )
        )
        components.append(
            _Component(
                object_id=f"{object_id}_trigger",
                platform="device_automation",
                config={
                    "automation_type": "trigger",
                    "topic": topic,
                    "type": "event",
                    "subtype": event_type,
                    "qos": DISCOVERY_QOS,
                },
            )
        )
    return components


def config_topic(discovery_prefix: str, entry_id: str) -> str:
    """Give the topic of a bridge's discovery config."""
    return f"{discovery_prefix}/device/{device_identifier(entry_id)}/config"


def components(
    prefix: str, entry_id: str, event_types: list[str]
) -> dict[str, dict[str, Any]]:
    """Give {component id: config} for the types and for cameras.

    QoS is set per component: HA does not share it from the device level.
    """
    node_id = device_identifier(entry_id)
    return {
        c.object_id: {
            "platform": c.platform,
            **c.config,
            "unique_id": f"{node_id}_{c.object_id}",
        }
        for c in _components(prefix, event_types)
    }


@dataclass(frozen=True, kw_only=True, slots=True)
class Origin:
    """What every config says of its bridge besides the components."""

    entry_id: str
    prefix: str
    version: str
    ha_status: HaStatus


def config_payload(
    origin: Origin,
    wanted: dict[str, dict[str, Any]],
    previous: dict[str, str],
) -> dict[str, Any]:
    """Give the config: the device, origin, availability and every component.

    `previous` ({component id: platform}) was published before: a component
    no longer wanted is given with its platform alone, which HA removes.
    """
    removed = {
        object_id: {"platform": platform}
        for object_id, platform in previous.items()
        if object_id not in wanted
    }
    availability: list[dict[str, str]] = [{"topic": availability_topic(origin.prefix)}]
    status = origin.ha_status
    if status.offline is not None:
        # HA's will: if HA dies, its entities elsewhere go unavailable.
        availability.append(
            {
                "topic": status.topic,
                "payload_available": status.online,
                "payload_not_available": status.offline,
            }
        )
    return {
        "device": {
            "identifiers": [device_identifier(origin.entry_id)],
            "name": events_device_name(origin.prefix),
            "manufacturer": "MQTT Event Bridge",
            "model": "Event types",
            "sw_version": origin.version,
        },
        "origin": {
            "name": "MQTT Event Bridge",
            "sw_version": origin.version,
            "support_url": SUPPORT_URL,
        },
        "availability": availability,
        # The newest availability message wins: a retained "online" of the
        # bridge, or HA's will "offline" when HA is gone.
        "availability_mode": "latest",
        "components": {**wanted, **removed},
    }
