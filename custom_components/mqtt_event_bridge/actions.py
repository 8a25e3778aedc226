"""The actions (services) users call to publish events.

Registered once in `async_setup`; each call picks the target entry, checks
everything a caller supplied, and hands the finished event to the entry's
publisher. Nothing is published unless every check passed.
"""

import asyncio
from collections.abc import Callable
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util
import voluptuous as vol

from .camera_fields import CAMERA_FIELDS, camera_fields, read_number
from .const import (
    ATTR_DATA,
    ATTR_EVENT_ID,
    ATTR_EVENT_TYPE,
    ATTR_NAME,
    ATTR_OUTCOME,
    ATTR_QOS,
    ATTR_RESPONSE,
    ATTR_RESPONSE_TIMEOUT,
    ATTR_THUMBNAIL_URL,
    ATTR_TOPIC,
    ATTR_TTL,
    CONF_CONFIG_ENTRY_ID,
    DOMAIN,
    FORWARD_TYPE_PREFIX,
    MAX_OPEN_WAITS,
    MAX_RESPONSE_TIMEOUT,
    MAX_TTL,
    MIN_RESPONSE_TIMEOUT,
    MIN_TTL,
    QOS_LEVELS,
    SERVICE_PUBLISH_CAMERA_EVENT,
    SERVICE_PUBLISH_EVENT,
    SERVICE_PUBLISH_STATUS,
    STATUS_TYPE_PREFIX,
)
from .envelope import EnvelopeError, build_event
from .models import BridgeConfigEntry
from .topics import camera_topic, event_topic, is_valid_name, status_topic


def whole_number(value: object) -> int:
    """Read a whole number from YAML, the UI or a template's text.

    Never truncated: 30.5, true and infinity are refused, not read as 30, 1
    or an overflow.
    """
    if isinstance(value, str):
        try:
            value = int(value) if value.strip().lstrip("+-").isdigit() else float(value)
        except ValueError as err:
            raise vol.Invalid("expected a whole number") from err
    if isinstance(value, float) and value.is_integer():  # False for inf and NaN
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise vol.Invalid("expected a whole number")
    return value


_COMMON_FIELDS: dict[vol.Marker, Any] = {
    vol.Optional(ATTR_DATA, default=dict): dict,
    vol.Optional(ATTR_QOS): vol.All(whole_number, vol.In(QOS_LEVELS)),
    vol.Optional(ATTR_TTL): vol.All(whole_number, vol.Range(min=MIN_TTL, max=MAX_TTL)),
    vol.Optional(CONF_CONFIG_ENTRY_ID): cv.string,
    vol.Optional(ATTR_RESPONSE_TIMEOUT): vol.All(
        read_number,
        vol.Range(min=MIN_RESPONSE_TIMEOUT, max=MAX_RESPONSE_TIMEOUT),
    ),
}
PUBLISH_EVENT_SCHEMA = vol.Schema(
    {vol.Required(ATTR_EVENT_TYPE): cv.string, **_COMMON_FIELDS}
)
PUBLISH_STATUS_SCHEMA = vol.Schema(
    {vol.Required(ATTR_NAME): cv.string, **_COMMON_FIELDS}
)
# A camera event's own keys take the place of free-form data.
PUBLISH_CAMERA_EVENT_SCHEMA = vol.Schema(
    {
        **CAMERA_FIELDS,
        **{key: value for key, value in _COMMON_FIELDS.items() if key != ATTR_DATA},
    }
)


def _validation_error(key: str, **placeholders: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders=placeholders or None,
    )


@callback
def async_get_target_entry(hass: HomeAssistant, call: ServiceCall) -> BridgeConfigEntry:
    """Return the loaded entry a call is meant for."""
    if entry_id := call.data.get(CONF_CONFIG_ENTRY_ID):
        entry: BridgeConfigEntry | None = hass.config_entries.async_get_entry(entry_id)
        if entry is None or entry.domain != DOMAIN:
            raise _validation_error("entry_not_found", entry_id=entry_id)
        if entry.state is not ConfigEntryState.LOADED:
            raise _validation_error("entry_not_loaded", title=entry.title)
        return entry
    entries: list[BridgeConfigEntry] = hass.config_entries.async_loaded_entries(DOMAIN)
    if not entries:
        raise _validation_error("no_loaded_entry")
    if len(entries) > 1:
        raise _validation_error("entry_required")
    return entries[0]


@callback
def _async_check_room(entry: BridgeConfigEntry, call: ServiceCall) -> bool:
    """Tell whether the call waits for a response; refuse it if none can wait."""
    if ATTR_RESPONSE_TIMEOUT not in call.data:
        return False
    if entry.runtime_data.waits.open >= MAX_OPEN_WAITS:
        raise _validation_error("too_many_waits", limit=str(MAX_OPEN_WAITS))
    return True


async def _async_answer(
    entry: BridgeConfigEntry, call: ServiceCall, result: dict[str, Any]
) -> ServiceResponse:
    """Wait for the response to the event, if the call asked for it."""
    if ATTR_RESPONSE_TIMEOUT not in call.data:
        return result
    answer = await entry.runtime_data.waits.async_wait(
        result[ATTR_EVENT_ID], call.data[ATTR_RESPONSE_TIMEOUT]
    )
    return {
        **result,
        ATTR_RESPONSE: answer.response,
        ATTR_OUTCOME: answer.outcome.value,
    }


@callback
def _async_publish(
    hass: HomeAssistant,
    call: ServiceCall,
    *,
    name: str,
    invalid_key: str,
    topic_fn: Callable[[str, str], str],
    event_type: str,
    reserved: tuple[tuple[str, str], ...] = (),
) -> tuple[BridgeConfigEntry, dict[str, Any]]:
    if not is_valid_name(name):
        raise _validation_error(invalid_key, name=name)
    for prefix, key in reserved:
        if name.startswith(prefix):
            raise _validation_error(key, name=name)
    entry = async_get_target_entry(hass, call)
    waits = _async_check_room(entry, call)
    settings = entry.runtime_data.settings
    topic = topic_fn(settings.topic_prefix, name)
    try:
        event = build_event(
            topic=topic,
            event_type=event_type,
            data=call.data[ATTR_DATA],
            qos=call.data.get(ATTR_QOS, settings.qos),
            ttl=call.data.get(ATTR_TTL, settings.ttl),
            now=dt_util.utcnow(),
        )
    except EnvelopeError as err:
        raise _validation_error(err.reason, **err.placeholders) from err
    if waits:
        # Opened before the event can reach the broker: a responder faster
        # than this call is not missed.
        entry.runtime_data.waits.async_open(event.event_id)
    entry.runtime_data.gate.async_submit(event_type, event)
    return entry, {ATTR_EVENT_ID: event.event_id, ATTR_TOPIC: topic}


async def _async_publish_camera_event(
    hass: HomeAssistant, call: ServiceCall
) -> ServiceResponse:
    entry = async_get_target_entry(hass, call)
    waits = _async_check_room(entry, call)
    settings = entry.runtime_data.settings
    try:
        fields = camera_fields(hass, call.data)
        topic = camera_topic(settings.topic_prefix, fields.camera_id)
        event, capture = entry.runtime_data.cameras.async_submit(
            fields,
            topic=topic,
            qos=call.data.get(ATTR_QOS, settings.qos),
            ttl=call.data.get(ATTR_TTL, settings.ttl),
            now=dt_util.utcnow(),
        )
    except EnvelopeError as err:
        raise _validation_error(err.reason, **err.placeholders) from err
    if waits:
        # Still in the call's first step: the event goes out after the
        # snapshot or, at the soonest, on the loop's next turn.
        entry.runtime_data.waits.async_open(event.event_id)
    thumbnail_url: str | None = fields.data[ATTR_THUMBNAIL_URL]
    if capture is not None and call.return_response:
        # The link is known once the snapshot is kept (bounded by the
        # snapshot's timeout): only a caller who asked for it waits.
        # Waiting never cancels the capture, even if the caller goes away.
        try:
            await asyncio.wait({capture})
        except asyncio.CancelledError:
            # Gone before its wait began: nobody will wait for the answer.
            if waits:
                entry.runtime_data.waits.async_close(event.event_id)
            raise
        thumbnail_url = (
            None
            if capture.cancelled() or capture.exception() is not None
            else capture.result()
        )
    return await _async_answer(
        entry,
        call,
        {
            ATTR_EVENT_ID: event.event_id,
            ATTR_TOPIC: topic,
            ATTR_THUMBNAIL_URL: thumbnail_url,
        },
    )


@callback
def async_setup_actions(hass: HomeAssistant) -> None:
    """Register the publish actions."""

    async def publish_event(call: ServiceCall) -> ServiceResponse:
        event_type: str = call.data[ATTR_EVENT_TYPE]
        entry, result = _async_publish(
            hass,
            call,
            name=event_type,
            invalid_key="invalid_event_type",
            topic_fn=event_topic,
            event_type=event_type,
            # Discovery maps status/... types to the status topics, and
            # ha/... types are HA's own events, forwarded.
            reserved=(
                (STATUS_TYPE_PREFIX, "status_type_reserved"),
                (FORWARD_TYPE_PREFIX, "forward_type_reserved"),
            ),
        )
        return await _async_answer(entry, call, result)

    async def publish_status(call: ServiceCall) -> ServiceResponse:
        name: str = call.data[ATTR_NAME]
        entry, result = _async_publish(
            hass,
            call,
            name=name,
            invalid_key="invalid_status_name",
            topic_fn=status_topic,
            # Status notices share the envelope; their type names the topic branch.
            event_type=f"{STATUS_TYPE_PREFIX}{name}",
        )
        return await _async_answer(entry, call, result)

    hass.services.async_register(
        DOMAIN,
        SERVICE_PUBLISH_EVENT,
        publish_event,
        schema=PUBLISH_EVENT_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_PUBLISH_STATUS,
        publish_status,
        schema=PUBLISH_STATUS_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )

    async def publish_camera_event(call: ServiceCall) -> ServiceResponse:
        return await _async_publish_camera_event(hass, call)

    hass.services.async_register(
        DOMAIN,
        SERVICE_PUBLISH_CAMERA_EVENT,
        publish_camera_event,
        schema=PUBLISH_CAMERA_EVENT_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
