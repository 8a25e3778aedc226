"""Config-entry diagnostics: settings, counters, snapshots and the last responses."""

from dataclasses import asdict
import re
from typing import Any

from homeassistant.components.diagnostics import REDACTED
from homeassistant.core import HomeAssistant

from .discovery import DEVICE_DISCOVERY
from .models import BridgeConfigEntry

# Responses are free-form: hide any value whose key looks like a credential.
_SECRET_KEY = re.compile(
    r"pass|secret|token|api_?key|auth|credential|cookie|session", re.IGNORECASE
)


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: REDACTED if _SECRET_KEY.search(str(key)) else _redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact(item) for item in value]
    return value


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: BridgeConfigEntry
) -> dict[str, Any]:
    """Return what helps to understand a bridge's behaviour."""
    data = entry.runtime_data
    responses = data.responses
    return {
        "entry": {
            "title": entry.title,
            "data": dict(entry.data),
            "options": dict(entry.options),
        },
        "settings": asdict(data.settings),
        "publisher": {
            "counters": asdict(data.publisher.counters),
            "connected": data.publisher.connected,
            "outbox_size": data.publisher.outbox_size,
            "in_flight": data.publisher.in_flight,
            "last_latency_ms": data.publisher.last_latency_ms,
        },
        "discovery": {
            "enabled": data.settings.discovery,
            "device_based": DEVICE_DISCOVERY,
            "event_types": data.discovery.event_types,
            "published_topics": data.discovery.published_topics,
        },
        "cameras": {
            "counters": asdict(data.cameras.counters),
            "waiting_for_snapshot": data.cameras.waiting,
            "thumbnails_kept": len(data.cameras.thumbnails),
            "thumbnail_bytes": data.cameras.thumbnails.total_bytes,
        },
        "responses": {
            "counters": asdict(responses.counters),
            "last_round_trip_ms": responses.last_round_trip_ms,
            "recent": [
                {
                    "topic": response.topic,
                    "received_at": response.received_at.isoformat(),
                    "succeeded": response.succeeded,
                    "payload": _redact(response.payload),
                }
                for response in responses.recent
            ],
        },
    }
