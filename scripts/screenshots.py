"""Take the README's screenshots from the Home Assistant of scripts/develop.

    scripts/develop &            # and wait until it says it is ready
    scripts/demo                 # so that the entities have values
    .venv-ha2026.10/bin/python scripts/screenshots.py

Drives Debian's headless Chromium (apt-get install chromium) over the DevTools
protocol with aiohttp, so nothing else needs installing. It logs in with the
refresh token scripts/develop saved (as HA's frontend keeps it, in local
storage) and writes small PNGs to docs/.
"""

import asyncio
import base64
from io import BytesIO
import itertools
import json
import shutil
import subprocess
import tempfile
from typing import Any

import aiohttp
from PIL import Image

# The login, the address and the checkout: those of scripts/develop, beside this.
from develop import HA_URL, ROOT, saved_tokens

DOCS = ROOT / "docs"
DEBUG_PORT = 9333
EVENTS_PUBLISHED = "sensor.mqtt_event_bridge_ha_ai_events_published"
WIDTH, HEIGHT = 1280, 860


# The frontend lives in shadow DOM: search every shadow root for the button.
CLICK = """
(() => {
  const find = (root) => {
    for (const el of root.querySelectorAll("*")) {
      if (el.shadowRoot) { const hit = find(el.shadowRoot); if (hit) return hit; }
      if (/BUTTON/.test(el.tagName) && el.textContent.trim() === LABEL) return el;
    }
    return null;
  };
  const button = find(document);
  if (button) button.click();
  return Boolean(button);
})()
"""


class Browser:
    """One page of a headless Chromium, driven over the DevTools protocol."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        """Talk to the page through its DevTools socket."""
        self._socket = socket
        self._ids = itertools.count(1)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one command and return its result, skipping events."""
        call_id = next(self._ids)
        await self._socket.send_json(
            {"id": call_id, "method": method, "params": params}
        )
        while True:
            message = await self._socket.receive_json()
            if message.get("id") == call_id:
                if "error" in message:
                    msg = f"{method}: {message['error']}"
                    raise RuntimeError(msg)
                result: dict[str, Any] = message.get("result", {})
                return result

    async def shoot(
        self, url: str, name: str, *, click: str | None = None, settle: float = 6.0
    ) -> None:
        """Open a page, maybe press a button, let it render, save a palette PNG."""
        await self.call("Page.navigate", url=url)
        await asyncio.sleep(settle)
        if click is not None:
            found = await self.call(
                "Runtime.evaluate", expression=CLICK.replace("LABEL", json.dumps(click))
            )
            if not found["result"].get("value"):
                msg = f"no button {click!r} on {url}"
                raise RuntimeError(msg)
            await asyncio.sleep(settle / 2)
        shot = await self.call("Page.captureScreenshot", format="png")
        image = Image.open(BytesIO(base64.b64decode(shot["data"])))
        small = image.convert("RGB").quantize(
            colors=128, method=Image.Quantize.MEDIANCUT
        )
        path = DOCS / f"{name}.png"
        small.save(path, optimize=True)
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KiB")


async def _device_id(session: aiohttp.ClientSession, url: str, token: str) -> str:
    async with session.post(
        f"{url}/api/template",
        headers={"Authorization": f"Bearer {token}"},
        json={"template": f"{{{{ device_id('{EVENTS_PUBLISHED}') }}}}"},
    ) as answer:
        answer.raise_for_status()
        return await answer.text()


async def main() -> None:
    """Log in, open each page, save it."""
    url = HA_URL
    DOCS.mkdir(exist_ok=True)
    profile = tempfile.mkdtemp()
    chromium = subprocess.Popen(  # noqa: ASYNC220 - started once, before any I/O
        [
            shutil.which("chromium") or "/usr/bin/chromium",
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            f"--remote-debugging-port={DEBUG_PORT}",
            f"--user-data-dir={profile}",
            f"--window-size={WIDTH},{HEIGHT}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with aiohttp.ClientSession() as session:
            tokens = await saved_tokens(session)
            device_id = await _device_id(session, url, tokens["access_token"])
            for _ in range(50):
                try:
                    async with session.get(
                        f"http://127.0.0.1:{DEBUG_PORT}/json"
                    ) as answer:
                        pages = await answer.json()
                    break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.2)
            page = next(p for p in pages if p["type"] == "page")
            async with session.ws_connect(
                page["webSocketDebuggerUrl"], max_msg_size=0
            ) as socket:
                browser = Browser(socket)
                await browser.call("Page.enable")
                await browser.call(
                    "Emulation.setDeviceMetricsOverride",
                    width=WIDTH,
                    height=HEIGHT,
                    deviceScaleFactor=1,
                    mobile=False,
                )
                # The frontend's own way to remember a login.
                stored = {
                    **tokens,
                    "hassUrl": url,
                    "clientId": f"{url}/",
                    "expires": 4_102_444_800_000,
                }
                login = json.dumps(json.dumps(stored))
                await browser.call(
                    "Page.addScriptToEvaluateOnNewDocument",
                    source=f"localStorage.setItem('hassTokens', {login});",
                )
                await browser.shoot(
                    f"{url}/config/integrations/dashboard/add?domain=mqtt_event_bridge",
                    "config-flow",
                    click="OK",
                )
                await browser.shoot(
                    f"{url}/config/devices/device/{device_id}", "device"
                )
    finally:
        chromium.terminate()
        chromium.wait()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
