"""The files HA, hassfest and HACS read besides the code, checked offline.

The rules below are the ones hassfest and the HACS validator apply to a custom
integration (manifest keys and order, hacs.json's closed set of keys, services
with selectors and translations, complete and identical translations), so a
broken file fails CI here instead of at HACS or at a user's restart.
"""

import ast
from collections.abc import Awaitable, Callable
from http import HTTPStatus
import json
import logging
from pathlib import Path
import re
from typing import Any

from aiohttp.test_utils import TestClient
from awesomeversion import AwesomeVersion
import homeassistant.components
from homeassistant.const import Platform, __version__ as ha_version
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv, selector
from homeassistant.helpers.service import async_get_all_descriptions
from homeassistant.loader import Integration
from homeassistant.setup import async_setup_component
from homeassistant.util.yaml import load_yaml_dict
import pytest

from custom_components.mqtt_event_bridge.const import (
    DOMAIN,
    MAX_OUTBOX_SIZE,
    MAX_THUMBNAIL_LIFETIME,
    MAX_TTL,
    MIN_OUTBOX_SIZE,
    MIN_THUMBNAIL_LIFETIME,
    MIN_TTL,
)

type ClientFactory = Callable[[], Awaitable[TestClient[Any, Any]]]

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "custom_components" / DOMAIN
COMPONENTS = Path(homeassistant.components.__file__).parent


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


STRINGS: dict[str, Any] = _json(PACKAGE / "strings.json")
SERVICES: dict[str, Any] = dict(load_yaml_dict(PACKAGE / "services.yaml"))
MANIFEST: dict[str, Any] = _json(PACKAGE / "manifest.json")

# hassfest's manifest values for an integration (script/hassfest/manifest.py).
IOT_CLASSES = {
    "assumed_state",
    "calculated",
    "cloud_polling",
    "cloud_push",
    "local_polling",
    "local_push",
}
INTEGRATION_TYPES = {
    "device",
    "entity",
    "hardware",
    "helper",
    "hub",
    "service",
    "system",
    "virtual",
}
# HACS's hacs.json schema: `name` required, nothing outside this set allowed.
HACS_KEYS = {
    "content_in_root",
    "country",
    "filename",
    "hacs",
    "hide_default_branch",
    "homeassistant",
    "persistent_directory",
    "render_readme",
    "zip_release",
}
FIELD_KEYS = {"advanced", "default", "example", "filter", "required", "selector"}
# Components any integration may import without declaring them (hassfest's
# allowance for entity platforms and diagnostics).
IMPORTABLE_WITHOUT_DEPENDENCY = {str(platform) for platform in Platform} | {
    "diagnostics"
}


def test_manifest() -> None:
    """Keys in hassfest's order, values hassfest and HACS accept."""
    keys = list(MANIFEST)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    assert MANIFEST["domain"] == PACKAGE.name
    for key in ("codeowners", "documentation", "issue_tracker", "version"):
        assert MANIFEST[key], key
    assert all(owner.startswith("@") for owner in MANIFEST["codeowners"])
    for key in ("documentation", "issue_tracker"):
        assert cv.url(MANIFEST[key]).startswith("https://")
    assert AwesomeVersion(MANIFEST["version"]).valid
    assert MANIFEST["iot_class"] in IOT_CLASSES
    assert MANIFEST["integration_type"] in INTEGRATION_TYPES
    assert MANIFEST["config_flow"] is True
    assert MANIFEST["requirements"] == []
    for key in ("dependencies", "after_dependencies"):
        assert MANIFEST[key] == sorted(MANIFEST[key])
        for dependency in MANIFEST[key]:
            assert (COMPONENTS / dependency / "manifest.json").is_file(), dependency


def _imported_components() -> set[str]:
    """Every `homeassistant.components.<x>` the integration's code imports."""
    found = set()
    for module in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [
                    f"{node.module}.{alias.name}" for alias in node.names
                ]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                parts = name.split(".")
                if parts[:2] == ["homeassistant", "components"] and len(parts) > 2:
                    found.add(parts[2])
    return found


def test_imported_components_are_declared() -> None:
    """Hassfest refuses imports of integrations the manifest does not name."""
    declared = set(MANIFEST["dependencies"]) | set(MANIFEST["after_dependencies"])
    undeclared = _imported_components() - declared - IMPORTABLE_WITHOUT_DEPENDENCY
    assert not undeclared
    # And the check itself sees what is there.
    assert {"mqtt", "camera"} <= _imported_components()


def test_hacs_json() -> None:
    """HACS refuses unknown keys; the minimum HA version is one the tests run on."""
    hacs = _json(ROOT / "hacs.json")
    assert isinstance(hacs["name"], str)
    assert hacs["name"]
    assert set(hacs) - {"name"} <= HACS_KEYS
    assert AwesomeVersion(hacs["homeassistant"]) <= AwesomeVersion(ha_version) or (
        pytest.fail(
            f"hacs.json asks for {hacs['homeassistant']}, tests run {ha_version}"
        )
    )


def test_translations_are_complete_and_identical() -> None:
    """translations/en.json is strings.json; no string is empty."""
    assert _json(PACKAGE / "translations" / "en.json") == STRINGS

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                assert re.fullmatch(r"[a-z0-9_@-]+", key), f"{path}.{key}"
                walk(item, f"{path}.{key}")
        else:
            assert isinstance(value, str), path
            assert value.strip(), path

    walk(STRINGS, "strings")


def _message_format_problem(text: str) -> str | None:
    """What HA's frontend message formatter would misread in a string, if anything.

    The frontend formats every translation as an ICU message with tags: `<x>`
    opens a tag (a description showing "<prefix>" fails with INVALID_TAG),
    `{...}` is a placeholder that must be a plain name and closed, and an
    apostrophe before a brace or tag character starts a quoted literal.
    """
    if "<" in text:
        return "tag"
    if re.search(r"'[{}<]", text):
        return "quote"
    rest = re.sub(r"\{[A-Za-z0-9_]+\}", "", text)
    if "{" in rest or "}" in rest:
        return "placeholder"
    return None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Publishes to <prefix>/events/<event type>.", "tag"),
        ("Publishes to <prefix>/status/<name>.", "tag"),
        ("Closed </b> alone", "tag"),
        ("Value {value is open", "placeholder"),
        ("A stray } brace", "placeholder"),
        ("{nested {name}}", "placeholder"),
        ("{value, plural, one {# event} other {# events}}", "placeholder"),
        ("It's '{name}' quoted", "quote"),
        ('Event type "{name}" is not valid', None),
        ("Settings > System > Network, HA's own URL", None),
    ],
)
def test_message_format_check(text: str, problem: str | None) -> None:
    """The check below finds what the formatter misreads, and only that."""
    assert _message_format_problem(text) == problem


def test_translations_read_as_plain_messages() -> None:
    """No translation holds anything the frontend's formatter reads as markup."""

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}")
        else:
            assert _message_format_problem(value) is None, (path, value)

    walk(STRINGS, "strings")


def _code(*, platforms: bool) -> str:
    """The integration's code: its entity platforms, or everything else."""
    return "\n".join(
        path.read_text(encoding="utf-8")
        for path in PACKAGE.glob("*.py")
        if (path.stem in {str(platform) for platform in Platform}) == platforms
    )


def test_every_key_the_code_raises_is_translated() -> None:
    """Exceptions, form errors and aborts named in code all have a message."""
    code = _code(platforms=False)
    exceptions = set(STRINGS["exceptions"])
    raised = set(re.findall(r'translation_key="(\w+)"', code))
    raised |= set(re.findall(r'(?:EnvelopeError|_validation_error)\(\s*"(\w+)"', code))
    assert len(raised) > 10
    assert raised <= exceptions, raised - exceptions
    # Keys passed on from the envelope and topic checks.
    errors = set(STRINGS["config"]["error"]) | set(STRINGS["options"]["error"])
    form_errors = set(re.findall(r'\] = "(\w+)"', code))
    form_errors |= set(re.findall(r'\("(prefix_\w+)", lambda', code))
    assert form_errors <= errors, form_errors - errors
    aborts = set(re.findall(r'reason="(\w+)"', code))
    assert aborts <= set(STRINGS["config"]["abort"]) | {"already_configured"}


def test_every_entity_name_is_translated() -> None:
    """Each entity translation key of a platform has a name."""
    for platform in (Platform.BINARY_SENSOR, Platform.EVENT, Platform.SENSOR):
        code = (PACKAGE / f"{platform}.py").read_text(encoding="utf-8")
        keys = set(re.findall(r'translation_key\s*=\s*"(\w+)"', code))
        assert keys, platform
        for key in keys:
            assert STRINGS["entity"][str(platform)][key]["name"], key


def test_every_service_is_described_and_translated() -> None:
    """Each action in services.yaml has an icon, a name and text for every field."""
    icons = _json(PACKAGE / "icons.json")["services"]
    assert set(SERVICES) == set(STRINGS["services"]) == set(icons)
    for service, description in SERVICES.items():
        strings = STRINGS["services"][service]
        assert strings["name"]
        assert strings["description"]
        assert set(description["fields"]) == set(strings["fields"]), service
        for field in strings["fields"].values():
            assert field["name"]
            assert field["description"]
        for name, field in description["fields"].items():
            # hassfest's field keys; name and description come from strings.json.
            assert set(field) <= FIELD_KEYS, (service, name)
            selector.validate_selector(field["selector"])
            config = next(iter(field["selector"].values())) or {}
            if "translation_key" in config:
                assert config["translation_key"] in STRINGS["selector"]


@pytest.mark.usefixtures("init_integration")
async def test_services_yaml_passes_has_own_check(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """HA itself loads services.yaml (selectors included) for the action editor."""
    with caplog.at_level(logging.WARNING):
        descriptions = (await async_get_all_descriptions(hass))[DOMAIN]
    assert "services.yaml" not in caplog.text
    assert (
        set(descriptions)
        == set(SERVICES)
        == set(hass.services.async_services()[DOMAIN])
    )
    camera = descriptions["publish_camera_event"]
    assert camera["fields"]["confidence"]["selector"] == {
        "number": {
            "min": 0,
            "max": 100,
            "step": 0.1,
            "mode": "box",
            "unit_of_measurement": "%",
        }
    }


def _form_fields(result: Any) -> set[str]:
    return {str(key) for key in result["data_schema"].schema}


@pytest.mark.usefixtures("mqtt_mock", "init_integration")
async def test_every_form_field_is_labelled(
    hass: HomeAssistant, mock_config_entry: Any
) -> None:
    """Each field of each form has a label and a description."""
    steps = {
        ("config", "user"): await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": "user"}
        ),
        ("config", "reconfigure"): await mock_config_entry.start_reconfigure_flow(hass),
        ("options", "init"): await hass.config_entries.options.async_init(
            mock_config_entry.entry_id
        ),
    }
    for (section, step), result in steps.items():
        assert result["step_id"] == step
        strings = STRINGS[section]["step"][step]
        assert strings["title"]
        fields = _form_fields(result)
        assert fields == set(strings["data"]) == set(strings["data_description"]), step


def _png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's header."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", path
    return int.from_bytes(header[16:20]), int.from_bytes(header[20:24])


def test_brand_images() -> None:
    """HA (2026.3+) and HACS look for the icons in brand/, at these sizes."""
    assert _png_size(PACKAGE / "brand" / "icon.png") == (256, 256)
    assert _png_size(PACKAGE / "brand" / "icon@2x.png") == (512, 512)


async def test_ha_serves_the_brand_icon(
    hass: HomeAssistant, hass_client: ClientFactory
) -> None:
    """From HA 2026.3 on, HA answers its brand-image URL with our own icon."""
    if not hasattr(Integration, "has_branding"):
        # Older HA serves brand images from its CDN only: nothing to ask it.
        assert AwesomeVersion(ha_version) < AwesomeVersion("2026.3")
        return
    assert await async_setup_component(hass, "brands", {})
    client = await hass_client()
    answer = await client.get(f"/api/brands/integration/{DOMAIN}/icon.png")
    assert answer.status == HTTPStatus.OK
    assert await answer.read() == (PACKAGE / "brand" / "icon.png").read_bytes()


# The quality-scale rules HA core tracks for each integration (hassfest's list).
QUALITY_RULES = {
    # Bronze
    "action-setup", "appropriate-polling", "brands", "common-modules",
    "config-flow-test-coverage", "config-flow", "dependency-transparency",
    "docs-actions", "docs-conditions", "docs-high-level-description",
    "docs-installation-instructions", "docs-removal-instructions", "docs-triggers",
    "entity-event-setup", "entity-unique-id", "has-entity-name", "runtime-data",
    "test-before-configure", "test-before-setup", "unique-config-entry",
    # Silver
    "action-exceptions", "config-entry-unloading", "docs-configuration-parameters",
    "docs-installation-parameters", "entity-unavailable", "integration-owner",
    "log-when-unavailable", "parallel-updates", "reauthentication-flow",
    "test-coverage",
    # Gold
    "devices", "diagnostics", "discovery-update-info", "discovery",
    "docs-data-update", "docs-examples", "docs-known-limitations",
    "docs-supported-devices", "docs-supported-functions", "docs-troubleshooting",
    "docs-use-cases", "dynamic-devices", "entity-category", "entity-device-class",
    "entity-disabled-by-default", "entity-translations", "exception-translations",
    "icon-translations", "reconfiguration-flow", "repair-issues", "stale-devices",
    # Platinum
    "async-dependency", "inject-websession", "strict-typing",
}  # fmt: skip


def test_quality_scale() -> None:
    """Every rule is marked; exempt and todo say why."""
    rules = load_yaml_dict(PACKAGE / "quality_scale.yaml")["rules"]
    assert set(rules) == QUALITY_RULES
    for rule, value in rules.items():
        status = value if isinstance(value, str) else value["status"]
        assert status in {"done", "todo", "exempt"}, rule
        if status != "done":
            assert isinstance(value, dict), rule
            assert value["comment"].strip(), rule


def test_range_errors_name_the_ranges() -> None:
    """The forms' range messages say the bounds the code checks."""
    config, options = STRINGS["config"]["error"], STRINGS["options"]["error"]
    for text, low, high in (
        (config["ttl_invalid"], MIN_TTL, MAX_TTL),
        (options["ttl_invalid"], MIN_TTL, MAX_TTL),
        (options["outbox_invalid"], MIN_OUTBOX_SIZE, MAX_OUTBOX_SIZE),
        (
            options["lifetime_invalid"],
            MIN_THUMBNAIL_LIFETIME,
            MAX_THUMBNAIL_LIFETIME,
        ),
    ):
        assert re.search(rf"\bfrom {low} to {high}\b", text), text
