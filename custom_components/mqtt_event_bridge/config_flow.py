"""Config, options and reconfigure flows for MQTT Event Bridge."""

from collections.abc import Callable, Iterable
import math
from typing import Any
from urllib.parse import urlsplit

from homeassistant.components import mqtt
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.const import UnitOfTime
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import config_validation as cv, entity_registry as er
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import voluptuous as vol

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
    DEFAULT_QOS,
    DEFAULT_TOPIC_PREFIX,
    DEFAULT_TTL,
    DOMAIN,
    MAX_FORWARD_RATE,
    MAX_OUTBOX_SIZE,
    MAX_THUMBNAIL_LIFETIME,
    MAX_TTL,
    MIN_FORWARD_RATE,
    MIN_OUTBOX_SIZE,
    MIN_THUMBNAIL_LIFETIME,
    MIN_TTL,
    QOS_LEVELS,
)
from .forwarding import entity_filter
from .models import BridgeSettings
from .topics import is_valid_forward_type, is_valid_name, prefix_error, prefixes_overlap

PREFIX_SCHEMA = vol.Schema({vol.Required(CONF_TOPIC_PREFIX): TextSelector()})


class WholeNumberField(NumberSelector):
    """A number box whose range the step checks, with a translated error.

    HA's number selector would refuse a value out of range before the step
    runs, with an English "Value 0.0 is too small" for a whole-number field;
    here the form shows the field's own message instead.
    """

    def __call__(self, data: Any) -> float:
        """Take any number; the step checks the range."""
        return float(vol.Coerce(float)(data))


def _whole_in(value: float, low: int, high: int) -> bool:
    """Whether a number from a box is a whole number within its range."""
    return math.isfinite(value) and value.is_integer() and low <= value <= high


def _number_field(low: int, high: int, unit: str | None = None) -> WholeNumberField:
    """Ask for a whole number from low to high, typed in a box."""
    config = NumberSelectorConfig(
        min=low, max=high, step=1, mode=NumberSelectorMode.BOX
    )
    if unit is not None:
        config["unit_of_measurement"] = unit
    return WholeNumberField(config)


def _seconds_field(low: int, high: int) -> WholeNumberField:
    """Ask for a whole number of seconds, typed in a box."""
    return _number_field(low, high, UnitOfTime.SECONDS)


def _delivery_fields(qos: int, ttl: int) -> dict[vol.Marker, Any]:
    """QoS and TTL fields, with the values in force as defaults."""
    return {
        vol.Required(CONF_QOS, default=str(qos)): SelectSelector(
            SelectSelectorConfig(
                options=[str(level) for level in QOS_LEVELS],
                mode=SelectSelectorMode.LIST,
                translation_key=CONF_QOS,
            )
        ),
        vol.Required(CONF_TTL, default=ttl): _seconds_field(MIN_TTL, MAX_TTL),
    }


def _user_schema(prefix: str) -> vol.Schema:
    """Build the first form, offering a prefix no bridge uses yet."""
    return vol.Schema(
        {
            vol.Required(CONF_TOPIC_PREFIX, default=prefix): TextSelector(),
            **_delivery_fields(DEFAULT_QOS, DEFAULT_TTL),
        }
    )


def _free_prefix(taken: set[str]) -> str:
    """Pick the default prefix, or the first of ha-ai-2, ha-ai-3, ... not taken."""
    prefix, number = DEFAULT_TOPIC_PREFIX, 1
    while prefix in taken:
        number += 1
        prefix = f"{DEFAULT_TOPIC_PREFIX}-{number}"
    return prefix


def _prefix_errors(
    prefix: str, others: set[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Give the field error for a prefix, and the placeholders its message needs.

    Said on the field, so that the user can pick another prefix in the form.
    """
    if error := prefix_error(prefix):
        return {CONF_TOPIC_PREFIX: error}, {}
    if prefix in others:
        return {CONF_TOPIC_PREFIX: "prefix_taken"}, {}
    for other in sorted(others):
        if prefixes_overlap(prefix, other):
            return {CONF_TOPIC_PREFIX: "prefix_overlaps"}, {"other": other}
    return {}, {}


def _delivery_errors(user_input: dict[str, Any]) -> dict[str, str]:
    ok = _whole_in(user_input[CONF_TTL], MIN_TTL, MAX_TTL)
    return {} if ok else {CONF_TTL: "ttl_invalid"}


def _delivery_values(user_input: dict[str, Any]) -> dict[str, int]:
    """QoS comes from a select (text) and TTL from a number (float): store ints."""
    return {CONF_QOS: int(user_input[CONF_QOS]), CONF_TTL: int(user_input[CONF_TTL])}


async def _async_migrate_unique_ids(
    hass: HomeAssistant, entry: ConfigEntry, old: str, new: str
) -> None:
    """Keep the entities (ids, names, history) when the prefix changes."""

    @callback
    def migrate(entity_entry: er.RegistryEntry) -> dict[str, Any] | None:
        if not entity_entry.unique_id.startswith(old):
            return None
        return {"new_unique_id": new + entity_entry.unique_id.removeprefix(old)}

    await er.async_migrate_entries(hass, entry.entry_id, migrate)


class MqttEventBridgeConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up a bridge for one topic prefix."""

    VERSION = 1

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the topic prefix, QoS and TTL."""
        if not self.hass.config_entries.async_has_entries(
            mqtt.DOMAIN, include_disabled=False, include_ignore=False
        ):
            return self.async_abort(reason="mqtt_not_configured")
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        taken = self._async_other_prefixes()
        if user_input is not None:
            prefix = user_input[CONF_TOPIC_PREFIX].strip()
            errors, placeholders = _prefix_errors(prefix, taken)
            errors |= _delivery_errors(user_input)
            if not errors:
                await self.async_set_unique_id(prefix)
                self._abort_if_unique_id_configured()
                return self.async_create_entry(
                    title=prefix,
                    data={CONF_TOPIC_PREFIX: prefix, **_delivery_values(user_input)},
                )
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(
                _user_schema(_free_prefix(taken)), user_input
            ),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the topic prefix of an existing bridge."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        prefix = entry.data[CONF_TOPIC_PREFIX]
        if user_input is not None:
            prefix = user_input[CONF_TOPIC_PREFIX].strip()
            errors, placeholders = _prefix_errors(
                prefix, self._async_other_prefixes(entry.entry_id)
            )
            if not errors:
                if prefix != entry.unique_id:
                    await self.async_set_unique_id(prefix)
                    self._abort_if_unique_id_configured()
                    await _async_migrate_unique_ids(
                        self.hass, entry, f"{entry.unique_id}_", f"{prefix}_"
                    )
                # The entry's update listener reloads it with the new prefix.
                self.hass.config_entries.async_update_entry(
                    entry,
                    unique_id=prefix,
                    title=prefix,
                    data={**entry.data, CONF_TOPIC_PREFIX: prefix},
                )
                return self.async_abort(reason="reconfigure_successful")
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                PREFIX_SCHEMA, {CONF_TOPIC_PREFIX: prefix}
            ),
            errors=errors,
            description_placeholders=placeholders,
        )

    @callback
    def _async_other_prefixes(self, but: str | None = None) -> set[str]:
        """Give the prefixes of the bridges set up, but the entry `but`."""
        return {
            entry.unique_id
            for entry in self._async_current_entries()
            if entry.unique_id is not None and entry.entry_id != but
        }

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        """Options change delivery, discovery and thumbnail settings."""
        return MqttEventBridgeOptionsFlow()


OUTBOX_FIELD = _number_field(MIN_OUTBOX_SIZE, MAX_OUTBOX_SIZE)


LIFETIME_FIELD = _seconds_field(MIN_THUMBNAIL_LIFETIME, MAX_THUMBNAIL_LIFETIME)


FORWARD_RATE_FIELD = _number_field(MIN_FORWARD_RATE, MAX_FORWARD_RATE, "events/s")

# Offered for forwarding beside the types something in HA listens to now.
COMMON_EVENT_TYPES = (
    "automation_reloaded",
    "automation_triggered",
    "call_service",
    "homeassistant_started",
    "homeassistant_stop",
    "logbook_entry",
    "mobile_app_notification_action",
    "script_started",
    "state_changed",
    "tag_scanned",
    "zha_event",
)


def _forward_type_options(hass: HomeAssistant, chosen: Iterable[str]) -> list[str]:
    """Event types to pick from: common ones, those HA listens to, those chosen."""
    listened = (str(event_type) for event_type in hass.bus.async_listeners())
    known = {*COMMON_EVENT_TYPES, *listened, *chosen}
    return sorted(filter(is_valid_forward_type, known))


def _items(values: Iterable[str]) -> list[str]:
    """Strip each value; keep the non-empty ones, each once, in order."""
    return list(dict.fromkeys(v.strip() for v in values if v.strip()))


def _forward_values(user_input: dict[str, Any]) -> dict[str, Any]:
    """Give the forwarding options as stored, once checked."""
    return {
        CONF_FORWARD_EVENT_TYPES: _items(user_input[CONF_FORWARD_EVENT_TYPES]),
        CONF_FORWARD_ENTITIES: _items(user_input[CONF_FORWARD_ENTITIES]),
        CONF_FORWARD_RATE: int(user_input[CONF_FORWARD_RATE]),
        CONF_FORWARD_DISCOVERY: user_input[CONF_FORWARD_DISCOVERY],
    }


def _first_refused(items: Iterable[str], accepts: Callable[[str], bool]) -> str | None:
    """Give the first item `accepts` refuses, for its error to name it."""
    return next((item for item in items if not accepts(item)), None)


def _is_entity_pattern(item: str) -> bool:
    try:
        entity_filter([item])
    except ValueError:
        return False
    return True


def _forward_errors(
    user_input: dict[str, Any], refused: dict[str, str]
) -> dict[str, str]:
    """Check the forwarding fields; name the first refused row in `refused`."""
    errors: dict[str, str] = {}
    event_types = _items(user_input[CONF_FORWARD_EVENT_TYPES])
    if (bad := _first_refused(event_types, is_valid_forward_type)) is not None:
        errors[CONF_FORWARD_EVENT_TYPES] = "invalid_forward_types"
        refused["forward_type"] = bad
    entities = _items(user_input[CONF_FORWARD_ENTITIES])
    if (bad := _first_refused(entities, _is_entity_pattern)) is not None:
        errors[CONF_FORWARD_ENTITIES] = "invalid_forward_entities"
        refused["forward_entity"] = bad
    if not _whole_in(user_input[CONF_FORWARD_RATE], MIN_FORWARD_RATE, MAX_FORWARD_RATE):
        errors[CONF_FORWARD_RATE] = "forward_rate_invalid"
    return errors


def _base_url(value: str) -> str:
    """Check a base URL: http(s), no credentials, query or fragment; drop a trailing /.

    Raises ValueError with the form's error key. The link goes into every
    camera event on the broker, where anyone subscribed would read a password.
    """
    try:
        url = cv.url(value.strip())
    except vol.Invalid as err:
        raise ValueError("invalid_base_url") from err
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise ValueError("base_url_credentials")
    if parts.query or parts.fragment:
        raise ValueError("invalid_base_url")
    return url.rstrip("/")


class MqttEventBridgeOptionsFlow(OptionsFlow):
    """Change the delivery settings of a bridge."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for delivery, discovery and thumbnail settings."""
        errors: dict[str, str] = {}
        # The rows an error names; each placeholder is given, empty when unused.
        refused = {"event_type": "", "forward_type": "", "forward_entity": ""}
        if user_input is not None:
            errors = _delivery_errors(user_input)
            outbox_size = user_input[CONF_OUTBOX_SIZE]
            if not _whole_in(outbox_size, MIN_OUTBOX_SIZE, MAX_OUTBOX_SIZE):
                errors[CONF_OUTBOX_SIZE] = "outbox_invalid"
            # In the order given, each once.
            event_types = _items(user_input[CONF_EVENT_TYPES])
            if (bad := _first_refused(event_types, is_valid_name)) is not None:
                errors[CONF_EVENT_TYPES] = "invalid_event_types"
                refused["event_type"] = bad
            lifetime = user_input[CONF_THUMBNAIL_LIFETIME]
            if not _whole_in(lifetime, MIN_THUMBNAIL_LIFETIME, MAX_THUMBNAIL_LIFETIME):
                errors[CONF_THUMBNAIL_LIFETIME] = "lifetime_invalid"
            # Left empty: HA's own URL, as it is when each event is published.
            base_url: str | None = None
            if user_input.get(CONF_BASE_URL, "").strip():
                try:
                    base_url = _base_url(user_input[CONF_BASE_URL])
                except ValueError as err:
                    errors[CONF_BASE_URL] = str(err)
            errors |= _forward_errors(user_input, refused)
            if not errors:
                options: dict[str, Any] = {
                    **_delivery_values(user_input),
                    CONF_OUTBOX_SIZE: int(outbox_size),
                    CONF_DISCOVERY: user_input[CONF_DISCOVERY],
                    CONF_EVENT_TYPES: event_types,
                    CONF_THUMBNAIL_LIFETIME: int(lifetime),
                    CONF_TCP_NODELAY: user_input[CONF_TCP_NODELAY],
                }
                if base_url is not None:
                    options[CONF_BASE_URL] = base_url
                return self.async_create_entry(
                    data=options | _forward_values(user_input)
                )
        settings = BridgeSettings.from_entry(self.config_entry)
        schema = vol.Schema(
            {
                **_delivery_fields(settings.qos, settings.ttl),
                vol.Required(
                    CONF_OUTBOX_SIZE, default=settings.outbox_size
                ): OUTBOX_FIELD,
                vol.Required(CONF_DISCOVERY, default=settings.discovery): (
                    BooleanSelector()
                ),
                vol.Required(CONF_TCP_NODELAY, default=settings.tcp_nodelay): (
                    BooleanSelector()
                ),
                vol.Optional(
                    CONF_EVENT_TYPES, default=list(settings.event_types)
                ): TextSelector(TextSelectorConfig(multiple=True)),
                # A suggestion, not a default: a cleared field stays cleared.
                vol.Optional(
                    CONF_BASE_URL, description={"suggested_value": settings.base_url}
                ): TextSelector(TextSelectorConfig(type=TextSelectorType.URL)),
                vol.Required(
                    CONF_THUMBNAIL_LIFETIME, default=settings.thumbnail_lifetime
                ): LIFETIME_FIELD,
                vol.Optional(
                    CONF_FORWARD_EVENT_TYPES,
                    default=list(settings.forward_event_types),
                ): SelectSelector(
                    SelectSelectorConfig(
                        options=_forward_type_options(
                            self.hass, settings.forward_event_types
                        ),
                        multiple=True,
                        custom_value=True,
                        mode=SelectSelectorMode.DROPDOWN,
                    )
                ),
                vol.Optional(
                    CONF_FORWARD_ENTITIES, default=list(settings.forward_entities)
                ): TextSelector(TextSelectorConfig(multiple=True)),
                vol.Required(
                    CONF_FORWARD_RATE, default=settings.forward_rate
                ): FORWARD_RATE_FIELD,
                vol.Required(
                    CONF_FORWARD_DISCOVERY, default=settings.forward_discovery
                ): BooleanSelector(),
            }
        )
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
            # The dialog names its bridge: several may be set up.
            description_placeholders={"prefix": settings.topic_prefix} | refused,
        )
