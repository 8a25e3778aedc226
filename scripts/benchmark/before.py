"""An earlier revision of the bridge, loaded beside this one (--before REV).

Its integration is taken from git into a temporary folder under another
domain (`mqtt_event_bridge_before`), so that both run in one Home Assistant
and take turns event by event: a paired measurement, which no drift of the
machine between two runs can tilt.
"""

from collections.abc import Iterator
import contextlib
from pathlib import Path
import subprocess
import sys
import tempfile

ROOT = Path(__file__).resolve().parents[2]
INTEGRATION = "custom_components/mqtt_event_bridge"
BEFORE_DOMAIN = "mqtt_event_bridge_before"
# The files that name the domain.
NAMING = ("const.py", "manifest.json", "services.yaml")


@contextlib.contextmanager
def earlier_revision(revision: str) -> Iterator[str]:
    """Make `revision`'s bridge importable as BEFORE_DOMAIN; give its commit."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", f"{revision}^{{commit}}"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    with tempfile.TemporaryDirectory() as folder:
        archive = subprocess.run(
            ["git", "archive", commit, INTEGRATION],
            cwd=ROOT,
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
        code = Path(folder) / "custom_components"
        (code / "mqtt_event_bridge").rename(code / BEFORE_DOMAIN)
        for name in NAMING:
            path = code / BEFORE_DOMAIN / name
            text = path.read_text().replace('"mqtt_event_bridge"', f'"{BEFORE_DOMAIN}"')
            path.write_text(
                text.replace(
                    "integration: mqtt_event_bridge\n",
                    f"integration: {BEFORE_DOMAIN}\n",
                )
            )
        # custom_components is a namespace package: a second folder joins it.
        sys.path.append(folder)
        try:
            yield commit
        finally:
            sys.path.remove(folder)
