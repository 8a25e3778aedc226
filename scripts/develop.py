"""Run a local Home Assistant with the bridge, connected to a local mosquitto.

Started by scripts/develop with a test leg's Python. It starts mosquitto on
127.0.0.1:1883 unless something already listens there, then Home Assistant
with config/ (the repository on PYTHONPATH, so the bridge is loaded from the
checkout). On the first run it finishes onboarding through HA's own API,
creating the user `dev` with a random password that only lands in
config/.develop-credentials.json (not tracked), and sets up the MQTT
integration and the bridge through their config flows. Ctrl-C, SIGTERM and
SIGHUP (the terminal closing) stop both; nothing is left running.
"""

import argparse
import asyncio
from collections.abc import Iterator
from contextlib import contextmanager, suppress
import json
import os
from pathlib import Path
import secrets
import signal
import socket
import subprocess
import sys
import time
from types import FrameType
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config"
CREDENTIALS = CONFIG / ".develop-credentials.json"
HA_URL = "http://127.0.0.1:8123"
CLIENT_ID = f"{HA_URL}/"
BROKER_PORT = 1883
USERNAME = "dev"


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def start_mosquitto() -> subprocess.Popen[bytes] | None:
    """Start a broker on 127.0.0.1:1883, unless one is there already."""
    if _listening(BROKER_PORT):
        print(f"Using the MQTT broker already listening on 127.0.0.1:{BROKER_PORT}")
        return None
    conf = CONFIG / ".mosquitto.conf"
    conf.write_text(
        f"listener {BROKER_PORT} 127.0.0.1\nallow_anonymous true\n"
        "log_type error\nlog_type warning\n"
    )
    broker = subprocess.Popen(["mosquitto", "-c", str(conf)], start_new_session=True)
    deadline = time.monotonic() + 10
    while not _listening(BROKER_PORT):
        if broker.poll() is not None or time.monotonic() > deadline:
            sys.exit("mosquitto did not start")
        time.sleep(0.1)
    print(f"Started mosquitto on 127.0.0.1:{BROKER_PORT}")
    return broker


def link_blueprints(config: Path) -> None:
    """Link each of the repository's blueprints into config/, file by file.

    HA finds blueprints with `glob("**/*.yaml")`, which since Python 3.13 does
    not descend into a linked directory: a real directory of linked files is
    found on every Python, and edits in the checkout still show at once.
    """
    source = ROOT / "blueprints" / "automation" / "mqtt_event_bridge"
    target = config / "blueprints" / "automation" / "mqtt_event_bridge"
    if target.is_symlink():  # the directory link of earlier versions
        target.unlink()
    target.mkdir(parents=True, exist_ok=True)
    for linked in target.glob("*.yaml"):
        if linked.is_symlink() and not linked.exists():  # renamed or removed
            linked.unlink()
    for blueprint in sorted(source.glob("*.yaml")):
        link = target / blueprint.name
        if not link.exists():
            link.symlink_to(blueprint)


def prepare_config(config: Path = CONFIG) -> None:
    """Mark the onboarding steps a developer does not need as done; link blueprints."""
    storage = config / ".storage"
    storage.mkdir(parents=True, exist_ok=True)
    onboarding = storage / "onboarding"
    if not onboarding.exists():
        # Left: the user step, done through the API below.
        onboarding.write_text(
            json.dumps(
                {
                    "version": 4,
                    "minor_version": 1,
                    "key": "onboarding",
                    "data": {"done": ["core_config", "analytics", "integration"]},
                }
            )
        )
    automations = config / "automations.yaml"
    if not automations.exists():
        automations.write_text("[]\n")  # the automation editor writes here
    link_blueprints(config)


def start_home_assistant() -> subprocess.Popen[bytes]:
    """Home Assistant with config/, loading the bridge from the checkout.

    `custom_components` is a namespace package: the checkout's (on PYTHONPATH)
    and config/'s (the working directory, first on sys.path) are both part of
    it, each once.
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "homeassistant", "--config", str(CONFIG)],
        cwd=CONFIG,
        env=env,
        start_new_session=True,
    )


async def _wait_for_http(
    session: aiohttp.ClientSession, ha: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if ha.poll() is not None:
            sys.exit("Home Assistant stopped; see config/home-assistant.log")
        with suppress(aiohttp.ClientError):
            async with session.get(f"{HA_URL}/api/onboarding") as answer:
                if answer.status < 500:  # noqa: PLR2004
                    return
        await asyncio.sleep(1)
    sys.exit("Home Assistant did not answer within 10 minutes")


class LoginRefusedError(Exception):
    """Home Assistant refused a saved login."""


async def _token(
    session: aiohttp.ClientSession, form: dict[str, str]
) -> dict[str, Any]:
    async with session.post(
        f"{HA_URL}/auth/token", data={**form, "client_id": CLIENT_ID}
    ) as answer:
        if answer.status == 400:  # noqa: PLR2004 - an unknown or revoked token
            raise LoginRefusedError
        answer.raise_for_status()
        tokens: dict[str, Any] = await answer.json()
        return tokens


async def saved_tokens(session: aiohttp.ClientSession) -> dict[str, Any]:
    """Log in with the saved login (also for demo): refresh token, then password.

    The password serves when Home Assistant was stopped hard before it saved
    the refresh token; the new token is saved for next time.
    """
    if not CREDENTIALS.exists():
        sys.exit("Start scripts/develop first: it creates the login.")
    saved = json.loads(CREDENTIALS.read_text())
    with suppress(LoginRefusedError):
        return await _token(
            session,
            {"grant_type": "refresh_token", "refresh_token": saved["refresh_token"]},
        )
    code = await _password_login(session, saved["username"], saved["password"])
    if code is None:
        sys.exit(
            f"Home Assistant does not know the login in config/{CREDENTIALS.name}"
            " (it was stopped hard during its first start): remove config/.storage"
            " and that file, then start scripts/develop again."
        )
    tokens = await _token(session, {"grant_type": "authorization_code", "code": code})
    _save_login(saved["password"], tokens["refresh_token"])
    return tokens


async def _password_login(
    session: aiohttp.ClientSession, username: str, password: str
) -> str | None:
    """Log in by name and password through HA's login flow; its code, or None."""
    async with session.post(
        f"{HA_URL}/auth/login_flow",
        json={
            "client_id": CLIENT_ID,
            "handler": ["homeassistant", None],
            "redirect_uri": CLIENT_ID,
        },
    ) as answer:
        flow = await answer.json()
    async with session.post(
        f"{HA_URL}/auth/login_flow/{flow['flow_id']}",
        json={"client_id": CLIENT_ID, "username": username, "password": password},
    ) as answer:
        result = await answer.json()
    return str(result["result"]) if result.get("type") == "create_entry" else None


async def _user_created(session: aiohttp.ClientSession) -> bool:
    """Tell whether onboarding has created its user already."""
    async with session.get(f"{HA_URL}/api/onboarding") as answer:
        steps = await answer.json()
    return any(step["step"] == "user" and step["done"] for step in steps)


def _save_login(password: str, refresh_token: str) -> None:
    CREDENTIALS.write_text(
        json.dumps(
            {
                "url": HA_URL,
                "username": USERNAME,
                "password": password,
                "refresh_token": refresh_token,
            },
            indent=2,
        )
    )
    CREDENTIALS.chmod(0o600)


async def access_token(session: aiohttp.ClientSession) -> str:
    """Get an access token: by the saved login, or by creating the user.

    A hard stop of Home Assistant in its first minute can leave either side
    without the other: a saved login HA does not know (see saved_tokens), or
    no user yet beside a saved login (HA lost it: it is created again), or a
    user but no saved login (then one line says what to do).
    """
    if await _user_created(session):
        if not CREDENTIALS.exists():
            sys.exit(
                "Home Assistant has a user but config/.develop-credentials.json is"
                " missing: remove config/.storage, then start scripts/develop again."
            )
        return str((await saved_tokens(session))["access_token"])
    password = secrets.token_urlsafe(12)
    async with session.post(
        f"{HA_URL}/api/onboarding/users",
        json={
            "client_id": CLIENT_ID,
            "name": "Developer",
            "username": USERNAME,
            "password": password,
            "language": "en",
        },
    ) as answer:
        answer.raise_for_status()
        code = (await answer.json())["auth_code"]
    tokens = await _token(session, {"grant_type": "authorization_code", "code": code})
    _save_login(password, tokens["refresh_token"])
    return str(tokens["access_token"])


async def _flow(
    session: aiohttp.ClientSession,
    handler: str,
    answer: dict[str, Any],
    sections: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Run a one-form config flow through the REST API.

    `sections` answers the form's collapsible sections, where this Home
    Assistant version's form has them.
    """
    async with session.post(
        f"{HA_URL}/api/config/config_entries/flow", json={"handler": handler}
    ) as response:
        result = await response.json()
    if result.get("type") == "form":
        present = {field["name"] for field in result["data_schema"]}
        answer |= {k: v for k, v in (sections or {}).items() if k in present}
        async with session.post(
            f"{HA_URL}/api/config/config_entries/flow/{result['flow_id']}",
            json=answer,
        ) as response:
            result = await response.json()
    if result.get("type") != "create_entry":
        sys.exit(f"Setting up {handler} failed: {result}")
    print(f"Set up {handler}: {result['title']}")


async def ensure_entries(session: aiohttp.ClientSession) -> None:
    """Set up the MQTT integration on the local broker, then a bridge on it."""
    async with session.get(f"{HA_URL}/api/config/config_entries/entry") as answer:
        domains = {entry["domain"] for entry in await answer.json()}
    if "mqtt" not in domains:
        await _flow(
            session,
            "mqtt",
            {"broker": "127.0.0.1", "port": BROKER_PORT},
            # Newer forms: no TLS, plain TCP.
            {
                "other_settings": {
                    "set_client_cert": False,
                    "set_ca_cert": "off",
                    "transport": "tcp",
                }
            },
        )
    if "mqtt_event_bridge" not in domains:
        await _flow(
            session,
            "mqtt_event_bridge",
            {"topic_prefix": "ha-ai", "qos": "1", "ttl": 30},
        )


async def bring_up(ha: subprocess.Popen[bytes]) -> None:
    """Wait for HA, log in, set up what is missing."""
    async with aiohttp.ClientSession() as session:
        await _wait_for_http(session, ha)
        token = await access_token(session)
        session.headers["Authorization"] = f"Bearer {token}"
        await ensure_entries(session)


class Stopped(Exception):  # noqa: N818
    """SIGINT, SIGTERM or SIGHUP arrived: stop the children."""


def _raise_stopped(signum: int, _frame: FrameType | None) -> None:
    raise Stopped(signal.Signals(signum).name)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# Longest delay before a stop signal is acted on, once Home Assistant is ready.
SIGNAL_CHECK_INTERVAL = 0.5


@contextmanager
def stopping_children() -> Iterator[list[tuple[str, subprocess.Popen[bytes]]]]:
    """Give a list to add children to; any way out stops them, newest first.

    The children run in their own sessions (a terminal's Ctrl-C must not reach
    them before this script stops them in order), so no signal reaches them by
    itself: SIGINT, SIGTERM and SIGHUP end the block here, and while the
    children stop, further signals are ignored so that nothing is left half
    stopped.
    """
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    # SIGINT too: started in the background of a script, it arrives ignored.
    for sig in STOP_SIGNALS:
        signal.signal(sig, _raise_stopped)
    try:
        yield children
    except (KeyboardInterrupt, Stopped):
        pass
    finally:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        for name, process in reversed(children):
            stop(process, name)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def stop(process: subprocess.Popen[bytes], name: str) -> None:
    """Ask a child to stop (SIGTERM), then insist."""
    if process.poll() is not None:
        return
    print(f"Stopping {name}")
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main() -> None:
    """Start, prepare, wait for Ctrl-C, SIGTERM or SIGHUP."""
    argparse.ArgumentParser(description=__doc__).parse_args()
    with stopping_children() as children:
        if (broker := start_mosquitto()) is not None:
            children.append(("mosquitto", broker))
        prepare_config()
        ha = start_home_assistant()
        children.append(("Home Assistant", ha))
        asyncio.run(bring_up(ha))
        print(
            f"\nHome Assistant is ready at {HA_URL}."
            f"\nLog in as '{USERNAME}'; the password is in"
            f" {CREDENTIALS.relative_to(ROOT)}.\nscripts/demo publishes sample events."
            " Ctrl-C (or closing the terminal) stops Home Assistant and the broker.\n"
        )
        # Short sleeps, not one ha.wait(): a signal that lands after Python's
        # last check for signals and before the wait blocks does not interrupt
        # that wait, and Home Assistant would run on. It is handled on the
        # next wake-up instead.
        while ha.poll() is None:
            time.sleep(SIGNAL_CHECK_INTERVAL)


if __name__ == "__main__":
    main()
