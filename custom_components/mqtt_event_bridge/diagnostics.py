"""Config-entry diagnostics: settings, counters, snapshots and the last responses."""

from dataclasses import asdict
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from homeassistant.components.diagnostics import REDACTED
from homeassistant.core import HomeAssistant

from .models import BridgeConfigEntry
from .mqtt_client import features

# A key (or a link's query parameter) is a credential when one of its words,
# split at "_", "-", "." and camelCase humps, is one of these ...
_SECRET_WORDS = frozenset(
    {
        "pass",
        "password",
        "passwd",
        "passphrase",
        "pwd",
        "pin",
        "secret",
        "token",
        "auth",
        "authorization",
        "bearer",
        "jwt",
        "signature",
        "sig",
        "credential",
        "credentials",
        "cookie",
        "session",
        "apikey",
        "otp",
    }
)
# ... or "key" after one of these (api_key, x-api-key, access_key, private_key).
_KEY_QUALIFIERS = frozenset(
    {"api", "access", "private", "secret", "client", "auth", "signing", "encryption"}
)
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_BEARER = re.compile(r"\s*bearer\s", re.IGNORECASE)


def _is_secret(key: str) -> bool:
    """Tell a credential's name from a word that only contains one (compass)."""
    words = [word.lower() for word in _WORD.findall(key)]
    return any(word in _SECRET_WORDS for word in words) or any(
        word == "key" and index and words[index - 1] in _KEY_QUALIFIERS
        for index, word in enumerate(words)
    )


def _redact_text(text: str) -> str:
    """Hide a bearer token, a link's password and its secret query parameters."""
    if _BEARER.match(text):
        return REDACTED
    if "?" not in text and "@" not in text:
        return text
    try:
        parts = urlsplit(text)
        password = parts.password
    except ValueError:
        # Looks like a link, yet is none a parser can take apart: hide it all.
        return REDACTED
    netloc = parts.netloc
    if password is not None:
        netloc = f"{parts.username}:{REDACTED}@{netloc.rpartition('@')[2]}"
    query = parse_qsl(parts.query, keep_blank_values=True)
    hidden = [(name, REDACTED if _is_secret(name) else v) for name, v in query]
    if netloc == parts.netloc and hidden == query:
        return text  # plain text with a "?" in it, or a harmless link
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(hidden, safe="*")))


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: REDACTED if _is_secret(str(key)) else _redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redact(item) for item in value]
    if isinstance(value, str):
        return _redact_text(value)
    return value


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: BridgeConfigEntry
) -> dict[str, Any]:
    """Return what helps to understand a bridge's behaviour, credentials hidden."""
    data = entry.runtime_data
    responses = data.responses
    # Everything passes the redaction: responses are free-form, and a base
    # URL may carry a password.
    diagnostics: dict[str, Any] = _redact(
        {
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
                "outbox_bytes": data.publisher.outbox_bytes,
                "in_flight": data.publisher.in_flight,
                "last_latency_ms": data.publisher.last_latency_ms,
            },
            # What took effect of what HA's MQTT client offers beyond its API.
            "mqtt_client": features(hass),
            "discovery": {
                "enabled": data.settings.discovery,
                "event_types": data.discovery.event_types,
                "published_topics": data.discovery.published_topics,
            },
            "forwarding": {
                "event_types": list(data.forwarder.event_types),
                "counters": asdict(data.forwarder.counters),
            },
            "cameras": {
                "counters": asdict(data.cameras.counters),
                "waiting_for_snapshot": data.cameras.waiting,
                "snapshots_under_way": data.cameras.snapshots_under_way,
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
                        "payload": response.payload,
                    }
                    for response in responses.recent
                ],
            },
        }
    )
    return diagnostics
