"""scripts/bench: a stop signal leaves no broker, subscriber or responder behind."""

import contextlib
import os
from pathlib import Path
import signal
import subprocess
import sys
import time

import psutil
import pytest

from tests.conftest import alive

ROOT = Path(__file__).parent.parent
BENCH = [sys.executable, "-m", "benchmark"]
# What scripts/bench puts on the path: the package, the integration, the harness.
ENV = os.environ | {"PYTHONPATH": f"{ROOT / 'scripts'}{os.pathsep}{ROOT}"}


@pytest.mark.parametrize(
    ("stop", "sigint"),
    [
        (signal.SIGTERM, "default"),
        (signal.SIGHUP, "default"),
        # A script's background job starts with SIGINT ignored; asyncio then
        # leaves it so, and a deliberate `kill -INT` must still stop the run.
        (signal.SIGINT, "ignored"),
    ],
)
def test_bench_stops_its_broker_on_each_signal(
    leftovers: list[int], stop: signal.Signals, sigint: str
) -> None:
    """Stopped midway, the benchmark stops mosquitto and its subscriber; exits 130.

    Before, SIGTERM and SIGHUP ended the process at once, and its mosquitto
    kept listening.
    """
    command = [*BENCH, "--n", "20", "--broker", "default"]
    if sigint == "ignored":
        command = ["bash", "-c", 'trap "" INT; exec "$@"', "bash", *command]
    script = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV
    )
    try:
        assert script.stdout is not None
        # The first figures: mosquitto and Home Assistant are up.
        line = script.stdout.readline()
        while not line.startswith("default "):
            assert line, "the benchmark ended before its first figures"
            line = script.stdout.readline()
        children = psutil.Process(script.pid).children()
        brokers = [child.pid for child in children if child.name() == "mosquitto"]
        # The subscriber runs in a process of its own, like a real consumer.
        subscribers = [
            child.pid
            for child in children
            if any(part.endswith("benchmark/subscriber.py") for part in child.cmdline())
        ]
        leftovers.extend(brokers + subscribers)
        assert len(brokers) == 1
        assert len(subscribers) == 1
        script.send_signal(stop)
        _out, err = script.communicate(timeout=60)
    finally:
        if script.poll() is None:
            script.kill()
    assert script.returncode == 130, err
    assert "stopped before the end" in err
    assert not alive(brokers[0])
    assert not alive(subscribers[0])


def test_bench_stops_its_responder_midway(leftovers: list[int]) -> None:
    """Stopped while it asks and waits, the benchmark stops its responder too.

    The responder answers the questions from a process of its own, started
    for the ask-and-wait phase only.
    """
    command = [*BENCH, "--n", "20", "--broker", "default", "--qos", "0"]
    command += ["--only", "ask"]
    script = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV
    )
    try:
        responder = None
        deadline = time.monotonic() + 120
        while responder is None:
            assert script.poll() is None, "the benchmark ended before it asked"
            assert time.monotonic() < deadline, "no responder within 120 s"
            for child in psutil.Process(script.pid).children():
                with contextlib.suppress(psutil.NoSuchProcess):
                    # subscriber.py PORT TOPIC QOS ANSWERS: the responder.
                    if child.cmdline()[-1].endswith("/responses/bench/responder"):
                        responder = child.pid
            time.sleep(0.05)
        leftovers.append(responder)
        script.send_signal(signal.SIGTERM)
        _out, err = script.communicate(timeout=60)
    finally:
        if script.poll() is None:
            script.kill()
    assert script.returncode == 130, err
    assert not alive(responder)
