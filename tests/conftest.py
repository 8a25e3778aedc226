"""Fixtures shared by the unit tests."""

from collections.abc import AsyncGenerator, Generator, Iterator, Mapping
from datetime import timedelta
from enum import Enum
import faulthandler
import json
import os
from pathlib import Path
import signal
import subprocess
from typing import IO, Any
from unittest.mock import MagicMock, PropertyMock, patch

from homeassistant.components.mqtt import MQTT_CONNECTION_STATE
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.util import dt as dt_util
from homeassistant.util.yaml import parse_yaml
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed_exact,
)
from pytest_homeassistant_custom_component.syrupy import (
    HomeAssistantSnapshotExtension,
    HomeAssistantSnapshotSerializer,
)
from pytest_homeassistant_custom_component.typing import (
    MqttMockHAClient,
    MqttMockPahoClient,
)
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.mqtt_event_bridge import first_event
from custom_components.mqtt_event_bridge.const import (
    CONF_QOS,
    CONF_TOPIC_PREFIX,
    CONF_TTL,
    DOMAIN,
    PUBLISHER_UPDATE_INTERVAL,
)

pytest_plugins = ["pytest_homeassistant_custom_component"]


# Where each test process writes every thread's stack when it gets SIGUSR1:
# scripts/test sends that to a run that outlives its limit, then prints the
# files. (Its own stderr would not do: pytest captures it during a test.)
STACKS = "MQTT_EVENT_BRIDGE_STACKS"
_stacks: list[IO[str]] = []


def _writable(text: str) -> str:
    """Text that UTF-8 can carry: a lone surrogate becomes its escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep a failure's report sendable between pytest-xdist's processes.

    Tests feed the bridge text with lone surrogates on purpose; a failure
    that shows one could not be sent to xdist's controller (its channel
    speaks UTF-8), which then lost the worker instead of naming the test.
    """
    report: pytest.TestReport = yield
    if report.longrepr is not None:
        text = str(report.longrepr)
        if _writable(text) != text:
            report.longrepr = _writable(text)
    report.sections = [(name, _writable(content)) for name, content in report.sections]
    return report


def pytest_configure(config: pytest.Config) -> None:
    """Let scripts/test see where a hung run (or any of its workers) stands."""
    folder = os.environ.get(STACKS)
    if folder and not _stacks:
        stream = (Path(folder) / f"pytest-{os.getpid()}.txt").open("w")
        _stacks.append(stream)  # faulthandler writes here until the process ends
        faulthandler.register(signal.SIGUSR1, file=stream, all_threads=True)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let HA load the integration from custom_components/."""


def make_entry(prefix: str = "ha-ai", qos: int = 1, ttl: int = 30) -> MockConfigEntry:
    """A bridge entry as the config flow creates it."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=prefix,
        unique_id=prefix,
        data={CONF_TOPIC_PREFIX: prefix, CONF_QOS: qos, CONF_TTL: ttl},
    )


# Registry fields that only some HA versions have, or that they write
# differently; every other field is pinned by one snapshot that all test legs
# share. What `capabilities` holds (state class, event types) is pinned by the
# state snapshots too.
VERSION_DEPENDENT_FIELDS = (
    "aliases",
    "capabilities",
    "compat_name",
    "object_id_base",
    "suggested_object_id",
)


class PlainKeySerializer(HomeAssistantSnapshotSerializer):
    """HA's serializer, writing enum keys (newer HA's attribute names) as text."""

    @classmethod
    def _serialize(cls, data: Any, **kwargs: Any) -> str:
        if isinstance(data, Mapping) and any(isinstance(key, Enum) for key in data):
            # Keep the mapping's own type: its name is part of the snapshot.
            mapping_type: Any = type(data)
            data = mapping_type(
                {
                    key.value if isinstance(key, Enum) else key: value
                    for key, value in data.items()
                }
            )
        return str(super()._serialize(data, **kwargs))


class SnapshotExtension(HomeAssistantSnapshotExtension):
    """HA's snapshot format, the same on every HA version the suite runs on."""

    serializer_class = PlainKeySerializer


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Serialise HA objects (registry entries, states) the way HA core does."""
    return snapshot.with_defaults(
        extension_class=SnapshotExtension,
        exclude=props(*VERSION_DEPENDENT_FIELDS),
    )


@pytest.fixture
async def mqtt_mock(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    mqtt_client_mock: MqttMockPahoClient,
) -> AsyncGenerator[MqttMockHAClient]:
    """PHACC's mocked MQTT, torn down the way a real disconnect does it.

    Every entry is unloaded, MQTT's last, and the mocked socket is closed: that
    is what stops MQTT's once-a-second housekeeping timer, which the mocked
    paho client would otherwise leave behind.
    """
    yield mqtt_mock
    for entry in reversed(hass.config_entries.async_entries()):
        if entry.state is ConfigEntryState.LOADED:
            assert await hass.config_entries.async_unload(entry.entry_id)
    mqtt_client_mock.on_socket_close(
        mqtt_client_mock, None, MagicMock(fileno=MagicMock(return_value=-1))
    )
    await hass.async_block_till_done()


@pytest.fixture(autouse=True)
def first_events_not_held(monkeypatch: pytest.MonkeyPatch) -> None:
    """Send the first events of a new type at once, on PHACC's mocked MQTT.

    The mocked client never acknowledges the subscription HA's new event entity
    makes; waiting for it is tested on its own (test_first_event.py) and
    against the real broker, whose tests override this fixture.
    """
    monkeypatch.setattr(
        first_event.FirstEventGate,
        "_async_hold_until_listened",
        lambda _self, _event_type, _expires_at: None,
    )


def alive(pid: int) -> bool:
    """Tell whether a process is still there."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def read_pids(script: subprocess.Popen[str], leftovers: list[int]) -> list[int]:
    """Read the `PIDS ...` line a script under test prints; all of them run."""
    assert script.stdout is not None
    line = script.stdout.readline()
    assert line.startswith("PIDS "), line
    pids = [int(pid) for pid in line.split()[1:]]
    leftovers.extend(pids)
    assert all(map(alive, pids))
    return pids


@pytest.fixture
def entity_registry_enabled_by_default() -> Iterator[None]:
    """Enable the entities that start disabled, as HA's own tests do."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        return_value=True,
        new_callable=PropertyMock,
    ):
        yield


@pytest.fixture
def leftovers() -> Iterator[list[int]]:
    """Pids to kill after the test, should the script leave them behind."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def mock_config_entry() -> MockConfigEntry:
    """The default bridge entry."""
    return make_entry()


@pytest.fixture
async def init_integration(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    mock_config_entry: MockConfigEntry,
) -> MockConfigEntry:
    """A loaded bridge on top of PHACC's mocked MQTT client."""
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    return mock_config_entry


def event_calls(mqtt_mock: MqttMockHAClient) -> list[Any]:
    """The mocked client's publish calls that carried events.

    Events are never retained; discovery configs and availability always are.
    """
    return [call for call in mqtt_mock.async_publish.call_args_list if not call.args[3]]


def published(mqtt_mock: MqttMockHAClient) -> list[tuple[str, Any, int, bool]]:
    """Every event seen by the mocked client, payloads decoded."""
    return [
        (call.args[0], json.loads(call.args[1]), call.args[2], call.args[3])
        for call in event_calls(mqtt_mock)
    ]


async def entities_follow(
    hass: HomeAssistant, within: float = PUBLISHER_UPDATE_INTERVAL
) -> None:
    """Let the bridge's entities show the changes they hear of `within` seconds.

    They hear of changes through HA's Debouncer, a second after the first
    one, never inside the call that made it.
    """
    async_fire_time_changed_exact(hass, dt_util.utcnow() + timedelta(seconds=within))
    await hass.async_block_till_done()


def published_ids(mqtt_mock: MqttMockHAClient) -> list[str]:
    """The ids of the events seen by the mocked client, in order."""
    return [payload["event_id"] for _, payload, _, _ in published(mqtt_mock)]


async def call_action(
    hass: HomeAssistant, action: str, data: dict[str, Any]
) -> dict[str, Any]:
    """Call one of the bridge's actions and return its response."""
    response = await hass.services.async_call(
        DOMAIN, action, data, blocking=True, return_response=True
    )
    assert response is not None
    return dict(response)


def doc_example(name: str, language: str = "yaml") -> str:
    """The code block that follows `<!-- example: name -->` in the documentation."""
    root = Path(__file__).parent.parent
    marker = f"<!-- example: {name} -->\n```{language}\n"
    for page in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        if marker in text:
            return text.split(marker, 1)[1].split("```", 1)[0]
    msg = f"no example {name!r} in the documentation"
    raise AssertionError(msg)


def readme_example(name: str) -> dict[str, Any]:
    """The YAML example named `name` in the documentation, parsed."""
    loaded = parse_yaml(doc_example(name))
    assert isinstance(loaded, dict)
    return loaded


def set_connected(hass: HomeAssistant, mqtt_mock: MqttMockHAClient, up: bool) -> None:
    """Tell the bridge HA's mocked MQTT client (dis)connected, as HA does."""
    mqtt_mock.connected = up
    async_dispatcher_send(hass, MQTT_CONNECTION_STATE, up)


async def setup_bridge(hass: HomeAssistant, **options: Any) -> MockConfigEntry:
    """Set up the default bridge entry with these options."""
    entry = make_entry()
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, options=options)
    assert await hass.config_entries.async_setup(entry.entry_id)
    return entry
