"""scripts/develop: blueprints HA finds, and nothing left running after any stop."""

import importlib.util
import json
from pathlib import Path
import signal
import subprocess
import sys
import textwrap
from types import ModuleType

import aiohttp
from aiohttp import web
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


class FakeHomeAssistant:
    """HA's onboarding and login endpoints, as a hard stop can leave them."""

    def __init__(
        self, *, user_created: bool, refresh_ok: bool, password_ok: bool
    ) -> None:
        """Answer as HA would in the state given."""
        self.user_created = user_created
        self.refresh_ok = refresh_ok
        self.password_ok = password_ok
        self.app = web.Application()
        self.app.add_routes(
            [
                web.get("/api/onboarding", self.onboarding),
                web.post("/api/onboarding/users", self.create_user),
                web.post("/auth/token", self.token),
                web.post("/auth/login_flow", self.login_flow),
                web.post("/auth/login_flow/{flow_id}", self.login_step),
            ]
        )

    async def onboarding(self, _request: web.Request) -> web.Response:
        """List the onboarding steps: only the user's matters here."""
        return web.json_response([{"step": "user", "done": self.user_created}])

    async def create_user(self, _request: web.Request) -> web.Response:
        """Create the onboarding user; give its code."""
        self.user_created = True
        return web.json_response({"auth_code": "from-onboarding"})

    async def token(self, request: web.Request) -> web.Response:
        """Refuse a refresh token HA lost; give tokens otherwise."""
        form = await request.post()
        if form["grant_type"] == "refresh_token" and not self.refresh_ok:
            return web.json_response({"error": "invalid_grant"}, status=400)
        return web.json_response(
            {"access_token": f"access-{form['grant_type']!s}", "refresh_token": "new"}
        )

    async def login_flow(self, _request: web.Request) -> web.Response:
        """Start a login flow."""
        return web.json_response({"flow_id": "flow", "type": "form"})

    async def login_step(self, request: web.Request) -> web.Response:
        """Take the saved password, if HA still knows it."""
        body = await request.json()
        if self.password_ok and body["password"] == "saved-password":
            return web.json_response({"type": "create_entry", "result": "by-password"})
        return web.json_response({"type": "form", "errors": {"base": "invalid_auth"}})


async def _login(
    fake: FakeHomeAssistant,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    saved: bool,
) -> str:
    """Run scripts/develop's login against the fake; return the access token."""
    develop = _develop()
    credentials = tmp_path / ".develop-credentials.json"
    if saved:
        credentials.write_text(
            json.dumps(
                {
                    "username": "dev",
                    "password": "saved-password",
                    "refresh_token": "old",
                }
            )
        )
    monkeypatch.setattr(develop, "CREDENTIALS", credentials)
    runner = web.AppRunner(fake.app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    monkeypatch.setattr(develop, "HA_URL", f"http://127.0.0.1:{port}")
    try:
        async with aiohttp.ClientSession() as session:
            token: str = await develop.access_token(session)
            return token
    finally:
        await runner.cleanup()


@pytest.mark.usefixtures("socket_enabled")
async def test_login_recovers_when_ha_lost_the_refresh_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed before HA saved the token: the saved password logs in, saved anew."""
    fake = FakeHomeAssistant(user_created=True, refresh_ok=False, password_ok=True)
    token = await _login(fake, tmp_path, monkeypatch, saved=True)
    assert token == "access-authorization_code"
    saved = json.loads((tmp_path / ".develop-credentials.json").read_text())
    assert saved["refresh_token"] == "new"


@pytest.mark.usefixtures("socket_enabled")
async def test_login_creates_the_user_again_when_ha_lost_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed before HA saved the user: onboarding creates it again, saved anew."""
    fake = FakeHomeAssistant(user_created=False, refresh_ok=False, password_ok=False)
    token = await _login(fake, tmp_path, monkeypatch, saved=True)
    assert token == "access-authorization_code"
    assert fake.user_created
    saved = json.loads((tmp_path / ".develop-credentials.json").read_text())
    assert saved["password"] != "saved-password"


@pytest.mark.parametrize("saved", [True, False])
@pytest.mark.usefixtures("socket_enabled")
async def test_login_that_cannot_recover_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, saved: bool
) -> None:
    """No way in: one line naming what to remove, no traceback."""
    fake = FakeHomeAssistant(user_created=True, refresh_ok=False, password_ok=False)
    with pytest.raises(SystemExit) as stopped:
        await _login(fake, tmp_path, monkeypatch, saved=saved)
    message = str(stopped.value.code)
    assert "\n" not in message
    assert "remove config/.storage" in message
