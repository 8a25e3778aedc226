"""The documentation matches the code: examples, links, versions, figures."""

from collections.abc import Iterator
import json
from pathlib import Path
import re
import tomllib
from typing import Any

from benchmark.report import block, table
from benchmark.rows import Results
from homeassistant.util.yaml import parse_yaml
import pytest

ROOT = Path(__file__).parent.parent
PAGES = [
    ROOT / "README.md",
    ROOT / "CHANGELOG.md",
    *sorted((ROOT / "docs").glob("*.md")),
]
_SERVICES_YAML = ROOT / "custom_components" / "mqtt_event_bridge" / "services.yaml"
SERVICES: dict[str, Any] = dict(parse_yaml(_SERVICES_YAML.read_text()))  # type: ignore[arg-type]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.DOTALL | re.MULTILINE)
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _prose(text: str) -> str:
    """The text without its code blocks and inline code."""
    return re.sub(r"`[^`\n]*`", "", FENCE.sub("", text))


def _yaml_blocks() -> Iterator[tuple[str, str]]:
    for page in PAGES:
        for number, match in enumerate(FENCE.finditer(page.read_text())):
            if match.group(1) == "yaml":
                yield f"{page.name}#{number}", match.group(2)


def _calls(node: Any) -> Iterator[dict[str, Any]]:
    """Every action call of the bridge anywhere in a YAML document."""
    if isinstance(node, dict):
        if str(node.get("action", "")).startswith("mqtt_event_bridge."):
            yield node
        for value in node.values():
            yield from _calls(value)
    elif isinstance(node, list):
        for item in node:
            yield from _calls(item)


@pytest.mark.parametrize(
    ("where", "text"), [pytest.param(*block, id=block[0]) for block in _yaml_blocks()]
)
def test_yaml_examples_call_actions_that_exist(where: str, text: str) -> None:
    """Each YAML example parses; its actions and their fields are in services.yaml."""
    document = parse_yaml(text)
    for call in _calls(document):
        service = call["action"].split(".", 1)[1]
        assert service in SERVICES, f"{where}: no action {service}"
        fields = set(SERVICES[service]["fields"])
        assert set(call.get("data", {})) <= fields, f"{where}: {call['data']}"


def test_there_are_examples_to_check() -> None:
    """The check above sees the documented action calls."""
    calls = [call for _, text in _yaml_blocks() for call in _calls(parse_yaml(text))]
    assert len(calls) >= 5


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors of a page's headings."""
    headings = re.findall(r"^#+ (.*)$", FENCE.sub("", page.read_text()), re.MULTILINE)
    return {
        re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        for heading in headings
    }


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_links_lead_somewhere(page: Path) -> None:
    """Every relative link names a file of the repository and a heading in it."""
    for target in LINK.findall(_prose(page.read_text())):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name}: {target}"
        if anchor:
            assert anchor in _anchors(linked), f"{page.name}: {target}"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_pages_do_not_speak_in_the_first_person(page: Path) -> None:
    """Pages describe the bridge; they are no work log."""
    found = re.findall(r"\b(?:I|we|We|our|Our|us)\b", _prose(page.read_text()))
    assert not found, f"{page.name}: {found}"


def test_versions_agree() -> None:
    """The manifest and the project give the same version."""
    manifest = json.loads(
        (ROOT / "custom_components" / "mqtt_event_bridge" / "manifest.json").read_text()
    )
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert manifest["version"] == project["version"]


@pytest.mark.parametrize("name", ["current", "before"])
def test_performance_tables_are_made_from_the_runs(name: str) -> None:
    """The performance page shows what `scripts/bench --table` makes of its runs."""
    runs = sorted((ROOT / "docs" / "performance").glob(f"{name}-*.json"))
    assert runs
    page = (ROOT / "docs" / "performance.md").read_text()
    made = table([Results.from_json(run.read_text()) for run in runs])
    assert block(page, name) == made
