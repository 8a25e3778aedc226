"""Walk the pages a new user meets, check what they show, retake the screenshots.

    scripts/develop &       # and wait until it says it is ready
    scripts/demo            # so that entities have values and triggers exist
    scripts/screenshots     # this walk

Drives Debian's headless Chromium (apt-get install chromium) with Playwright's
Python package, which scripts/screenshots installs into the leg's venv; no
browser is downloaded. It logs in with the refresh token scripts/develop saved
(as HA's frontend keeps it, in local storage). Each step opens a page and
clicks through it as a user would, checks what the user must see there (the
names and texts the README promises, no "Translation error"), and saves a
small PNG to docs/ (or the folder --out names). A failed check is reported
and the walk goes on; the exit status is 1 when any failed. SIGINT, SIGTERM
and SIGHUP close the browser. It knows the frontends of both ends of the
test legs (2025.4 and 2026.10), whose trigger dialogs differ.
"""

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from io import BytesIO
import json
from pathlib import Path
import re
import shutil
import signal
import sys

import aiohttp
from PIL import Image
from playwright.async_api import (
    BrowserContext,
    Page,
    TimeoutError as PlaywrightTimeoutError,
    async_playwright,
)

# The login, the address and the checkout: those of scripts/develop, beside this.
from develop import HA_URL, ROOT, saved_tokens

DOCS = ROOT / "docs"
WIDTH, HEIGHT = 1280, 860
# What scripts/develop sets up and scripts/demo publishes.
PREFIX = "ha-ai"
BRIDGE_DEVICE = f"MQTT Event Bridge {PREFIX}"
EVENTS_DEVICE = f"MQTT Event Bridge {PREFIX} events"
EVENTS_PUBLISHED = "sensor.mqtt_event_bridge_ha_ai_events_published"
SUGGESTION_EVENT = "event.mqtt_event_bridge_ha_ai_events_suggestion_generated"
SUGGESTION_TRIGGER = '"suggestion/generated" event'
# As root, Chromium runs without its sandbox; the rest keeps it off the network.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The first page loads the whole frontend; later ones are quicker.
LOAD_TIMEOUT_MS = 90_000
CHECK_TIMEOUT_MS = 15_000
# Dialogs and menus animate in before they settle.
SETTLE_MS = 1_000


@dataclass
class Walk:
    """One browser context, the problems found so far, and the pages' names."""

    context: BrowserContext
    device_ids: dict[str, str]
    out: Path
    problems: list[str] = field(default_factory=list)
    shots: list[str] = field(default_factory=list)

    async def open(self, path: str, ready: str) -> Page:
        """Open a page in a new tab, once the text `ready` is shown."""
        page = await self.context.new_page()
        await page.goto(f"{HA_URL}{path}")
        await page.get_by_text(ready, exact=True).first.wait_for(
            timeout=LOAD_TIMEOUT_MS
        )
        await page.wait_for_timeout(SETTLE_MS)
        return page

    async def expect(
        self, page: Page, step: str, *texts: str | re.Pattern[str], exact: bool = True
    ) -> None:
        """Note each text not shown, and any translation the frontend failed.

        Not `exact`: the text may be part of a longer one (a field's help). A
        pattern matches as written (anchor it to match a whole text).
        """
        for text in texts:
            try:
                await page.get_by_text(text, exact=exact).first.wait_for(
                    timeout=CHECK_TIMEOUT_MS
                )
            except PlaywrightTimeoutError:
                self.problems.append(f"{step}: {text!r} is not shown")
        # The frontend shows this instead of a string it cannot format.
        if await page.get_by_text("Translation error").count():
            self.problems.append(f"{step}: a 'Translation error' is shown")

    async def shoot(self, page: Page, name: str) -> None:
        """Save the page as a small palette PNG in docs/."""
        await page.wait_for_timeout(SETTLE_MS)
        image = Image.open(BytesIO(await page.screenshot()))
        small = image.convert("RGB").quantize(
            colors=128, method=Image.Quantize.MEDIANCUT
        )
        path = self.out / f"{name}.png"
        small.save(path, optimize=True)
        self.shots.append(f"{path}: {path.stat().st_size // 1024} KiB")


async def config_flow(walk: Walk) -> None:
    """Adding a second bridge: a free prefix offered, a plain range error."""
    page = await walk.open(
        "/config/integrations/dashboard/add?domain=mqtt_event_bridge",
        "Do you want to set up MQTT Event Bridge?",
    )
    await page.get_by_role("button", name="OK").click()
    await walk.expect(page, "config flow", "Set up MQTT Event Bridge")
    prefix = await page.get_by_role("textbox", name="Topic prefix").input_value()
    if prefix == PREFIX:
        walk.problems.append(f"config flow: offers the taken prefix {PREFIX!r}")
    await walk.shoot(page, "config-flow")
    await page.get_by_role("spinbutton", name="Time to live").fill("0")
    await page.get_by_role("button", name="Submit").click()
    await walk.expect(
        page,
        "config flow, time to live 0",
        "Enter the time to live as a whole number of seconds from 1 to 86400.",
    )
    await page.close()


async def options(walk: Walk) -> None:
    """Open the options: the dialog names the bridge it belongs to."""
    page = await walk.open("/config/integrations/integration/mqtt_event_bridge", PREFIX)
    await page.get_by_role("button", name="Configure").first.click()
    await walk.expect(
        page, "options", f"Settings of the bridge {PREFIX}", "MQTT discovery"
    )
    await walk.shoot(page, "options")
    # Further down: which of HA's own events the bridge forwards.
    await page.get_by_text(
        "Home Assistant events to forward"
    ).first.scroll_into_view_if_needed()
    await walk.expect(
        page,
        "options: forwarding",
        "Home Assistant events to forward",
        "Events the bridge itself causes are never forwarded.",
        "Add Entity, domain or pattern",
        "Forwarding limit per event type",
        "Offer forwarded events in the automation editor",
        exact=False,
    )
    await walk.shoot(page, "options-forwarding")
    await page.close()


async def actions(walk: Walk) -> None:
    """Pick an action: all three show their descriptions, and so does a form."""
    page = await walk.open("/developer-tools/action", "Actions")
    await page.locator("ha-service-picker").first.click()
    # Typed before the search field has the focus, "e" opens HA's quick bar.
    await page.wait_for_timeout(SETTLE_MS)
    # In 2025.4's frontend the field itself takes the text, and holds an action.
    await page.keyboard.press("Control+A")
    await page.keyboard.type("mqtt_event_bridge")
    names = [
        _action_name(name)
        for name in ("Publish event", "Publish status", "Publish camera event")
    ]
    await walk.expect(page, "action picker", *names)
    await walk.shoot(page, "actions")
    await page.get_by_text(names[2]).first.click()
    await walk.expect(
        page,
        "publish_camera_event form",
        "Camera",
        "Camera ID",
        "Wait for the response",
    )
    await page.close()


def _action_name(name: str) -> re.Pattern[str]:
    """Match an action's name as the picker shows it, whole.

    2025.4's frontend puts the integration's name first: "MQTT Event Bridge:
    Publish event".
    """
    return re.compile(rf"^(MQTT Event Bridge: )?{re.escape(name)}$")


async def automation_editor(walk: Walk) -> None:
    """Follow the README's steps to the events device's trigger list.

    From 2026.4 the dialog opens on By target: By type, Device, the Device
    trigger, then a device picker. Before, it lists Device first, and the
    trigger shows a Device field to pick from.
    """
    page = await walk.open("/config/automation/edit/new", "Add trigger")
    await page.get_by_text("Add trigger", exact=True).click()
    by_type = page.get_by_text("By type", exact=True)
    await page.wait_for_timeout(SETTLE_MS)
    if await by_type.count():
        await by_type.click()
        # "Device" under Generic, then the Device trigger it offers.
        await page.get_by_text("Device", exact=True).first.click()
        await page.get_by_text("Triggers when something happens to a device.").click()
        await page.get_by_text("Select a device", exact=True).click()
    else:
        await page.get_by_text("Device", exact=True).first.click()
        await page.locator("ha-device-picker").first.click()
    await walk.expect(page, "device picker", BRIDGE_DEVICE, EVENTS_DEVICE)
    await walk.shoot(page, "device-picker")
    await page.get_by_text(EVENTS_DEVICE, exact=True).first.click()
    await page.locator("ha-device-trigger-picker").first.click()
    await walk.expect(page, "trigger list", SUGGESTION_TRIGGER)
    await walk.shoot(page, "trigger-list")
    await page.close()


async def devices(walk: Walk) -> None:
    """Open the bridge's own device and the device of its event types."""
    for name, shot in ((BRIDGE_DEVICE, "device"), (EVENTS_DEVICE, "events-device")):
        page = await walk.open(f"/config/devices/device/{walk.device_ids[name]}", name)
        await walk.expect(page, f"device page {name}", name)
        await walk.shoot(page, shot)
        await page.close()


STEPS: list[Callable[[Walk], Awaitable[None]]] = [
    config_flow,
    options,
    actions,
    automation_editor,
    devices,
]


async def _device_ids(session: aiohttp.ClientSession, token: str) -> dict[str, str]:
    ids = {}
    for name, entity_id in (
        (BRIDGE_DEVICE, EVENTS_PUBLISHED),
        (EVENTS_DEVICE, SUGGESTION_EVENT),
    ):
        async with session.post(
            f"{HA_URL}/api/template",
            headers={"Authorization": f"Bearer {token}"},
            json={"template": f"{{{{ device_id('{entity_id}') }}}}"},
        ) as answer:
            answer.raise_for_status()
            ids[name] = await answer.text()
    return ids


async def walk_pages(out: Path) -> list[str]:
    """Log in, walk every step, save the pictures in `out`, return what failed."""
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("Install Debian's chromium first: apt-get install chromium")
    async with aiohttp.ClientSession() as session:
        tokens = await saved_tokens(session)
        device_ids = await _device_ids(session, tokens["access_token"])
    # The frontend's own way to remember a login.
    stored = {
        **tokens,
        "hassUrl": HA_URL,
        "clientId": f"{HA_URL}/",
        "expires": 4_102_444_800_000,
    }
    out.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium, args=CHROMIUM_FLAGS
        )
        try:
            context = await browser.new_context(
                viewport={"width": WIDTH, "height": HEIGHT}
            )
            await context.add_init_script(
                f"localStorage.setItem('hassTokens', {json.dumps(json.dumps(stored))});"
            )
            walk = Walk(context, device_ids, out)
            for step in STEPS:
                try:
                    await step(walk)
                except PlaywrightTimeoutError as err:
                    first_line = str(err).splitlines()[0]
                    walk.problems.append(f"{step.__name__}: {first_line}")
                print(f"{step.__name__}: done", flush=True)
        finally:
            await browser.close()
    print(*walk.shots, sep="\n")
    return walk.problems


async def main() -> int:
    """Walk the pages; a signal ends the walk and closes the browser."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--out",
        type=Path,
        default=DOCS,
        help="where the pictures go (default: docs/, the README's, taken on"
        " ha2026.10; give another folder for other legs)",
    )
    args = parser.parse_args()
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(walk_pages(args.out))
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, task.cancel)
    try:
        problems = await task
    except asyncio.CancelledError:
        print("Stopped; the browser is closed.", file=sys.stderr)
        return 130
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            with suppress(ValueError):
                loop.remove_signal_handler(signum)
    for problem in problems:
        print(f"PROBLEM {problem}", file=sys.stderr)
    print("All checks passed." if not problems else f"{len(problems)} checks failed.")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
