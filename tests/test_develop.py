"""scripts/develop: blueprints HA finds, and nothing left running after any stop."""

import importlib.util
from pathlib import Path
import signal
import subprocess
import sys
import textwrap
from types import ModuleType

from homeassistant.components.automation.helpers import async_get_blueprints
from homeassistant.components.blueprint import models
from homeassistant.core import HomeAssistant
import pytest

from tests.conftest import alive, read_pids

SCRIPTS = Path(__file__).parent.parent / "scripts"


def _develop() -> ModuleType:
    spec = importlib.util.spec_from_file_location("develop", SCRIPTS / "develop.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("earlier", [False, True])
async def test_blueprints_found_by_ha(
    hass: HomeAssistant, tmp_path: Path, *, earlier: bool
) -> None:
    """HA's own blueprint loader finds every linked blueprint, twice prepared.

    `earlier`: the config/ of an earlier version, with the directory linked
    (which HA's glob does not enter on Python 3.13 and later).
    """
    develop = _develop()
    source = SCRIPTS.parent / "blueprints" / "automation" / "mqtt_event_bridge"
    if earlier:
        folder = tmp_path / "blueprints" / "automation"
        folder.mkdir(parents=True)
        (folder / "mqtt_event_bridge").symlink_to(source)
    develop.prepare_config(tmp_path)
    develop.prepare_config(tmp_path)
    hass.config.config_dir = str(tmp_path)

    found = await async_get_blueprints(hass).async_get_blueprints()

    expected = {f"mqtt_event_bridge/{path.name}" for path in source.glob("*.yaml")}
    assert len(expected) == 3
    assert set(found) == expected
    assert all(isinstance(item, models.Blueprint) for item in found.values())


# Runs scripts/develop's main() with stand-ins for mosquitto and Home Assistant
# (each a `sleep` in its own session, as the real ones are started), so that a
# test can stop it with a signal at either point where a developer would.
DRIVER = textwrap.dedent(
    """
    import asyncio, subprocess, sys
    scripts, phase = sys.argv[1:]
    sys.argv[1:] = []  # main() reads its own arguments
    sys.path.insert(0, scripts)
    import develop

    def sleeper():
        return subprocess.Popen(
            ["sleep", "600"], start_new_session=True, stdout=subprocess.DEVNULL
        )

    children = []

    def start(process_list=children):
        process = sleeper()
        process_list.append(process)
        return process

    async def bring_up(ha):
        print("PIDS", *(p.pid for p in children), flush=True)
        if phase == "bringing-up":
            await asyncio.sleep(600)

    develop.start_mosquitto = start
    develop.start_home_assistant = start
    develop.prepare_config = lambda: None
    develop.bring_up = bring_up
    develop.main()
    print("EXITED", flush=True)
    """
)


@pytest.mark.parametrize("phase", ["bringing-up", "ready"])
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
@pytest.mark.parametrize("sigint", ["default", "ignored"])
def test_develop_stops_everything_on_each_signal(
    leftovers: list[int], phase: str, stop: signal.Signals, sigint: str
) -> None:
    """SIGINT (Ctrl-C), SIGTERM and SIGHUP (terminal closed) stop both children.

    Also when develop starts with SIGINT ignored, as a script's background
    job does: a deliberate `kill -INT` must still stop it.
    """
    driver = [sys.executable, "-c", DRIVER, str(SCRIPTS), phase]
    if sigint == "ignored":
        driver = ["bash", "-c", 'trap "" INT; exec "$@"', "bash", *driver]
    script = subprocess.Popen(driver, stdout=subprocess.PIPE, text=True)
    try:
        pids = read_pids(script, leftovers)
        assert len(pids) == 2
        if phase == "ready":
            assert script.stdout is not None
            line = ""
            while "is ready" not in line:
                line = script.stdout.readline()
                assert line, "develop ended before it was ready"
        script.send_signal(stop)
        rest = script.communicate(timeout=60)[0]
    finally:
        if script.poll() is None:
            script.kill()
    assert "EXITED" in rest
    assert script.returncode == 0
    assert not any(map(alive, pids))
