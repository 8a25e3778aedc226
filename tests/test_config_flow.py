"""Config, options and reconfigure flows: every branch, then recovery."""

from collections.abc import AsyncGenerator
from typing import Any
from unittest.mock import AsyncMock, patch

from homeassistant.config_entries import SOURCE_USER, ConfigFlowResult
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
import voluptuous as vol

from custom_components.mqtt_event_bridge.const import (
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
    DOMAIN,
)
from tests.conftest import make_entry


@pytest.fixture
async def mock_setup_entry(hass: HomeAssistant) -> AsyncGenerator[AsyncMock]:
    """Keep the flow tests about the flow, not about setting the entry up.

    Nor about unloading it (a reconfigure or an options change reloads it):
    the entries go while both are still stand-ins.
    """
    with (
        patch(
            "custom_components.mqtt_event_bridge.async_setup_entry", return_value=True
        ) as mock,
        patch(
            "custom_components.mqtt_event_bridge.async_unload_entry", return_value=True
        ),
    ):
        yield mock
        for entry in hass.config_entries.async_entries(DOMAIN):
            await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.usefixtures("mqtt_mock")
async def test_user_defaults(hass: HomeAssistant, mock_setup_entry: AsyncMock) -> None:
    """Submitting the form untouched gives ha-ai, QoS 1, 30 s."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {}

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "ha-ai"
    assert result["data"] == {CONF_TOPIC_PREFIX: "ha-ai", CONF_QOS: 1, CONF_TTL: 30}
    assert result["result"].unique_id == "ha-ai"
    assert len(mock_setup_entry.mock_calls) == 1


@pytest.mark.usefixtures("mqtt_mock")
@pytest.mark.parametrize(
    ("prefix", "error"),
    [
        ("", "prefix_empty"),
        ("   ", "prefix_empty"),
        ("x" * 101, "prefix_too_long"),
        ("ha/+", "prefix_wildcard"),
        ("ha/#", "prefix_wildcard"),
        ("ha\0", "prefix_nul"),
        ("$SYS", "prefix_dollar"),
        ("/ha", "prefix_empty_level"),
        ("ha/", "prefix_empty_level"),
        ("a//b", "prefix_empty_level"),
        ("my.home", "prefix_dot"),
    ],
)
async def test_user_bad_prefix_then_recovery(
    hass: HomeAssistant, mock_setup_entry: AsyncMock, prefix: str, error: str
) -> None:
    """A bad prefix is a field error; a good one then creates the entry."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOPIC_PREFIX: prefix, CONF_QOS: "2", CONF_TTL: 60}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_TOPIC_PREFIX: error}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOPIC_PREFIX: " home/ai ", CONF_QOS: "2", CONF_TTL: 60}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_TOPIC_PREFIX: "home/ai", CONF_QOS: 2, CONF_TTL: 60}


@pytest.mark.usefixtures("mqtt_mock", "mock_setup_entry")
async def test_user_ttl_must_be_whole(hass: HomeAssistant) -> None:
    """A fractional TTL is refused, a whole one accepted."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_QOS: "0", CONF_TTL: 1.5}
    )
    assert result["errors"] == {CONF_TTL: "ttl_invalid"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_QOS: "0", CONF_TTL: 2.0}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_TOPIC_PREFIX: "ha-ai", CONF_QOS: 0, CONF_TTL: 2}


@pytest.mark.usefixtures("mqtt_mock", "mock_setup_entry")
@pytest.mark.parametrize("ttl", [0, 86401, -5, float("nan"), float("inf")])
async def test_user_ttl_out_of_range(hass: HomeAssistant, ttl: float) -> None:
    """A TTL outside 1..86400 is the field's own error, not HA's English one."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_QOS: "0", CONF_TTL: ttl}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_TTL: "ttl_invalid"}


@pytest.mark.usefixtures("mqtt_mock")
async def test_user_qos_out_of_range_is_refused(hass: HomeAssistant) -> None:
    """The QoS list offers 0, 1 and 2 only; anything else is refused."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    with pytest.raises(Exception, match=CONF_QOS):
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_QOS: "3"}
        )


async def test_user_aborts_without_mqtt(hass: HomeAssistant) -> None:
    """Without the MQTT integration there is nothing to publish through."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "mqtt_not_configured"


@pytest.mark.usefixtures("mqtt_mock", "mock_setup_entry")
async def test_user_offers_a_free_prefix(hass: HomeAssistant) -> None:
    """With ha-ai and ha-ai-2 taken, ha-ai-3 is offered; a taken one is an error."""
    make_entry(prefix="ha-ai").add_to_hass(hass)
    make_entry(prefix="ha-ai-2").add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert _shown(result)[CONF_TOPIC_PREFIX] == "ha-ai-3"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOPIC_PREFIX: " ha-ai "}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_TOPIC_PREFIX: "prefix_taken"}
    # The same form goes on: the user types a free prefix.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOPIC_PREFIX: "ha-ai-3"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "ha-ai-3"


def _shown(result: ConfigFlowResult) -> dict[str, Any]:
    """What each field of a form shows: its default, or else its suggested value."""
    assert result["data_schema"] is not None
    return {
        str(key): key.default()
        if key.default is not vol.UNDEFINED
        else (key.description or {}).get("suggested_value")
        for key in result["data_schema"].schema
    }


# Options as a user types them, every field valid.
VALID_OPTIONS: dict[str, Any] = {
    CONF_QOS: "2",
    CONF_TTL: 120,
    CONF_OUTBOX_SIZE: 50.0,
    CONF_DISCOVERY: False,
    CONF_TCP_NODELAY: False,
    CONF_EVENT_TYPES: [" pattern/alert ", "", "pattern/alert", "status/x"],
    CONF_BASE_URL: " https://ha.example.org:8443/ ",
    CONF_THUMBNAIL_LIFETIME: 600.0,
    CONF_FORWARD_EVENT_TYPES: [" state_changed ", "ios.action_fired", "state_changed"],
    CONF_FORWARD_ENTITIES: ["light", "sensor.*_temperature", " switch.pump ", ""],
    CONF_FORWARD_RATE: 20.0,
    CONF_FORWARD_DISCOVERY: True,
}


@pytest.mark.usefixtures("mqtt_mock")
async def test_options_flow(hass: HomeAssistant, mock_setup_entry: AsyncMock) -> None:
    """Options show the values in force, refuse bad ones, then store clean values."""
    entry = make_entry(qos=1, ttl=30)
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)

    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "init"
    # The dialog's title names the bridge; no row is refused yet.
    assert result["description_placeholders"] == {
        "prefix": "ha-ai",
        "event_type": "",
        "forward_type": "",
        "forward_entity": "",
    }
    assert _shown(result) == {
        CONF_QOS: "1",
        CONF_TTL: 30,
        CONF_OUTBOX_SIZE: 1000,
        CONF_DISCOVERY: True,
        CONF_TCP_NODELAY: True,
        CONF_EVENT_TYPES: ["suggestion/generated", "status/analysis_complete"],
        CONF_BASE_URL: None,
        CONF_THUMBNAIL_LIFETIME: 3600,
        CONF_FORWARD_EVENT_TYPES: [],
        CONF_FORWARD_ENTITIES: [],
        CONF_FORWARD_RATE: 100,
        CONF_FORWARD_DISCOVERY: False,
    }
    # Suggested types: common ones and those something in HA listens to.
    schema = result["data_schema"]
    assert schema is not None
    forward_field = next(
        key for key in schema.schema if key == CONF_FORWARD_EVENT_TYPES
    )
    offered = schema.schema[forward_field].config["options"]
    assert {"state_changed", "call_service", "automation_triggered"} <= set(offered)
    assert "*" not in offered
    assert offered == sorted(offered)

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_QOS: "2",
            CONF_TTL: 10.5,
            CONF_OUTBOX_SIZE: 9.5,
            CONF_DISCOVERY: True,
            CONF_TCP_NODELAY: True,
            CONF_EVENT_TYPES: ["ok/type", "Bad/+"],
            CONF_BASE_URL: "ftp://ha.example.org",
            CONF_THUMBNAIL_LIFETIME: 60.5,
            CONF_FORWARD_EVENT_TYPES: ["state_changed", "a/b"],
            CONF_FORWARD_ENTITIES: ["light", "Sensor.Bad"],
            CONF_FORWARD_RATE: 1.5,
            CONF_FORWARD_DISCOVERY: False,
        },
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {
        CONF_TTL: "ttl_invalid",
        CONF_OUTBOX_SIZE: "outbox_invalid",
        CONF_EVENT_TYPES: "invalid_event_types",
        CONF_BASE_URL: "invalid_base_url",
        CONF_THUMBNAIL_LIFETIME: "lifetime_invalid",
        CONF_FORWARD_EVENT_TYPES: "invalid_forward_types",
        CONF_FORWARD_ENTITIES: "invalid_forward_entities",
        CONF_FORWARD_RATE: "forward_rate_invalid",
    }
    # Each list's error names the row that is wrong, the first one given.
    assert result["description_placeholders"] == {
        "prefix": "ha-ai",
        "event_type": "Bad/+",
        "forward_type": "a/b",
        "forward_entity": "Sensor.Bad",
    }

    # Out of range: each field's own message.
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        VALID_OPTIONS
        | {
            CONF_TTL: 0,
            CONF_OUTBOX_SIZE: 0,
            CONF_THUMBNAIL_LIFETIME: 59,
            CONF_FORWARD_RATE: 10_001,
        },
    )
    assert result["errors"] == {
        CONF_TTL: "ttl_invalid",
        CONF_OUTBOX_SIZE: "outbox_invalid",
        CONF_THUMBNAIL_LIFETIME: "lifetime_invalid",
        CONF_FORWARD_RATE: "forward_rate_invalid",
    }

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], VALID_OPTIONS
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    saved = {
        CONF_QOS: 2,
        CONF_TTL: 120,
        CONF_OUTBOX_SIZE: 50,
        CONF_DISCOVERY: False,
        CONF_TCP_NODELAY: False,
        CONF_EVENT_TYPES: ["pattern/alert", "status/x"],
        CONF_BASE_URL: "https://ha.example.org:8443",
        CONF_THUMBNAIL_LIFETIME: 600,
        CONF_FORWARD_EVENT_TYPES: ["state_changed", "ios.action_fired"],
        CONF_FORWARD_ENTITIES: ["light", "sensor.*_temperature", "switch.pump"],
        CONF_FORWARD_RATE: 20,
        CONF_FORWARD_DISCOVERY: True,
    }
    assert entry.options == saved

    # Shown again as saved; the QoS select shows its value as text.
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert _shown(result) == {**saved, CONF_QOS: "2"}


@pytest.mark.parametrize(
    ("base_url", "error"),
    [
        ("not a url", "invalid_base_url"),
        ("https://ha.example.org/?token=1", "invalid_base_url"),
        ("https://ha.example.org/#top", "invalid_base_url"),
        ("mqtt://ha.example.org", "invalid_base_url"),
        # A user or password would be published in every camera event.
        ("https://user:secret@ha.example.org", "base_url_credentials"),
        ("https://user@ha.example.org:8443/", "base_url_credentials"),
        ("http://:secret@ha.example.org", "base_url_credentials"),
    ],
)
@pytest.mark.usefixtures("mqtt_mock")
async def test_options_refuse_base_url(
    hass: HomeAssistant, mock_setup_entry: AsyncMock, base_url: str, error: str
) -> None:
    """Only an http(s) URL without credentials, query or fragment carries links.

    The form keeps what was typed, for the user to correct, then goes on.
    """
    entry = make_entry()
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**VALID_OPTIONS, CONF_BASE_URL: base_url}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_BASE_URL: error}
    assert _shown(result)[CONF_BASE_URL] == base_url
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], VALID_OPTIONS
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.usefixtures("mqtt_mock")
async def test_options_clear_base_url(
    hass: HomeAssistant, mock_setup_entry: AsyncMock
) -> None:
    """A cleared base URL is forgotten: links follow HA's own URL again."""
    entry = make_entry()
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    hass.config_entries.async_update_entry(
        entry, options={CONF_BASE_URL: "https://old.example.org"}
    )
    for cleared in ({CONF_BASE_URL: "  "}, {}):
        result = await hass.config_entries.options.async_init(entry.entry_id)
        fields = {k: v for k, v in VALID_OPTIONS.items() if k != CONF_BASE_URL}
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {**fields, **cleared}
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert CONF_BASE_URL not in entry.options


@pytest.mark.usefixtures("mqtt_mock")
async def test_reconfigure_prefix(
    hass: HomeAssistant, mock_setup_entry: AsyncMock
) -> None:
    """A new prefix becomes the unique id and title; errors first, then success."""
    entry = make_entry(prefix="ha-ai")
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    make_entry(prefix="taken").add_to_hass(hass)

    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOPIC_PREFIX: "bad/#"}
    )
    assert result["errors"] == {CONF_TOPIC_PREFIX: "prefix_wildcard"}

    # Taken: the form stays, with the error on the field, as when adding.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOPIC_PREFIX: "taken"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_TOPIC_PREFIX: "prefix_taken"}
    assert entry.data[CONF_TOPIC_PREFIX] == "ha-ai"

    # Inside the other bridge's topics: refused, naming it.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOPIC_PREFIX: "taken/responses"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_TOPIC_PREFIX: "prefix_overlaps"}
    assert result["description_placeholders"] == {"other": "taken"}
    assert _shown(result)[CONF_TOPIC_PREFIX] == "taken/responses"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOPIC_PREFIX: "home/ai"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.data == {CONF_TOPIC_PREFIX: "home/ai", CONF_QOS: 1, CONF_TTL: 30}
    assert (entry.unique_id, entry.title) == ("home/ai", "home/ai")


@pytest.mark.parametrize(
    ("existing", "typed"),
    [
        ("ov", "ov/responses"),
        ("ov", "ov/events/x"),
        ("home/ai", "home"),
    ],
)
@pytest.mark.usefixtures("mqtt_mock")
async def test_overlapping_prefix_is_refused_when_adding(
    hass: HomeAssistant, mock_setup_entry: AsyncMock, existing: str, typed: str
) -> None:
    """A prefix inside another bridge's topics, or holding them, is a field error."""
    make_entry(prefix=existing).add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOPIC_PREFIX: typed, CONF_QOS: "1", CONF_TTL: 30}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_TOPIC_PREFIX: "prefix_overlaps"}
    assert result["description_placeholders"] == {"other": existing}
    # ov-2 shares letters, not topic levels: it is apart.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_TOPIC_PREFIX: f"{existing}-2", CONF_QOS: "1", CONF_TTL: 30},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.usefixtures("mqtt_mock")
async def test_reconfigure_same_prefix(
    hass: HomeAssistant, mock_setup_entry: AsyncMock
) -> None:
    """Keeping the prefix is allowed and changes nothing."""
    entry = make_entry(prefix="ha-ai")
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)

    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_TOPIC_PREFIX: "ha-ai"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.unique_id == "ha-ai"
