"""scripts/legs.sh: what scripts/test runs in a group of its own stops with it."""

from pathlib import Path
import signal
import subprocess
import sys
import time
import uuid

import pytest

from tests.conftest import alive, read_pids

ROOT = Path(__file__).parent.parent
# Sources the helper and runs a command in its own group, as scripts/test does.
RUN = 'set -euo pipefail; source scripts/legs.sh; in_own_group bash -c "$1"'
# SIGINT as a terminal's Ctrl-C finds it; pytest's workers may run with it
# ignored, which a bash started from them could not undo.
WITH_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL);"
    " os.execvp(sys.argv[1], sys.argv[1:])"
)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_ends_the_whole_group(
    leftovers: list[int], stop: signal.Signals
) -> None:
    """The command and what it started (here a sleep, there a broker) end too."""
    command = 'sleep 600 & echo "PIDS $$ $!"; wait'
    script = subprocess.Popen(
        [sys.executable, "-c", WITH_SIGINT, "bash", "-c", RUN, "bash", command],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        pids = read_pids(script, leftovers)
        script.send_signal(stop)
        script.communicate(timeout=30)
    finally:
        if script.poll() is None:
            script.kill()
    assert script.returncode != 0
    assert not any(map(alive, pids))


def running_as(name: str) -> list[int]:
    """The pids of the processes whose command line names `name`."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if (
                entry.name.isdigit()
                and name.encode() in entry.joinpath("cmdline").read_bytes()
            ):
                pids.append(int(entry.name))
        except OSError:  # It ended while we looked.
            continue
    return pids


def test_a_stop_signal_while_it_starts_leaves_nothing(leftovers: list[int]) -> None:
    """A signal in the first milliseconds, before or after the group exists.

    A signal that came after the command started but before the helper's trap
    was set used to end the helper alone and leave the group running.
    """
    for step in range(40):
        name = f"in-own-group-{uuid.uuid4().hex}"
        script = subprocess.Popen(
            ["bash", "-c", RUN, "bash", f"exec -a {name} sleep 600"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        try:
            time.sleep(step * 0.00025)
            script.send_signal(signal.SIGTERM)
            script.wait(timeout=30)
        finally:
            if script.poll() is None:
                script.kill()
            left = running_as(name)
            leftovers.extend(left)
        assert script.returncode != 0
        assert not left, f"left running after a signal {step * 0.25} ms in"


def test_the_commands_status_is_given() -> None:
    """Without a signal, the helper waits for the command and gives its status."""
    done = subprocess.run(
        ["bash", "-c", RUN, "bash", "sleep 0.2; exit 3"], cwd=ROOT, check=False
    )
    assert done.returncode == 3
