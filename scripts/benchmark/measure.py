"""How the benchmark sends events and times them: senders, subscriber, runs.

Arrival times come from a subscriber in a process of its own
(`subscriber.py`), as a consumer of the bridge's events is: in Home
Assistant's process its paho thread would share the interpreter lock with
Home Assistant's loop.
"""

import asyncio
from collections.abc import Awaitable, Callable
import cProfile
from dataclasses import dataclass, field, replace
import itertools
import json
from pathlib import Path
import select
import statistics
import subprocess
import sys
import threading
import time
from typing import IO

from homeassistant.util import dt as dt_util

from custom_components.mqtt_event_bridge.envelope import build_event

from .rows import Millis, Run

PREFIX = "bench"
WAIT = 60.0
# Pause after each sequential event: the bridge's acknowledgement arrives after
# its call returned, the action's inside it; each event starts on an idle loop.
SETTLE = 0.002
# Events this far apart find a quiet loop and a broker that has flushed.
SPARSE_SETTLE = 1.1
TEXT = "person at the front door"
TTL = 60
# Callers at once in a concurrent burst.
CALLERS = 80
SUBSCRIBER_START = 15
SUBSCRIBER = Path(__file__).with_name("subscriber.py")

# Sends event `seq` of `run`; the body is the envelope the bridge would build,
# for the baselines that publish by hand.
Sender = Callable[[str, int, str], Awaitable[None]]


def start_child(port: int, *args: str | int) -> subprocess.Popen[str]:
    """Start `subscriber.py PORT ARGS...`; return once it is subscribed.

    Its clock must be this process's: the subscriber's arrival times are
    compared with this process's perf_counter.
    """
    process = subprocess.Popen(
        [sys.executable, str(SUBSCRIBER), str(port), *map(str, args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], SUBSCRIBER_START)
    line = process.stdout.readline() if ready else ""
    if not line.startswith('["ready"'):
        stop_child(process)
        msg = f"subscriber.py did not start: {line!r}"
        raise RuntimeError(msg)
    if not 0 <= time.perf_counter() - json.loads(line)[1] < SUBSCRIBER_START:
        stop_child(process)
        msg = "subscriber.py's clock is not this process's"
        raise RuntimeError(msg)
    return process


def stop_child(process: subprocess.Popen[str]) -> None:
    """Stop a child started with start_child: it ends when its standard input closes."""
    assert process.stdin is not None
    process.stdin.close()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Subscriber:
    """An independent subscriber recording when each sequence number arrives."""

    port: int
    loop: asyncio.AbstractEventLoop
    # The QoS it subscribes at; deliveries come at the lower of it and the sender's.
    qos: int = 2
    arrivals: dict[str, dict[int, float]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    _waiters: dict[tuple[str, int], asyncio.Event] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _process: subprocess.Popen[str] | None = None
    _reader: threading.Thread | None = None

    def start(self) -> None:
        """Start it and return once the broker acknowledged its subscription."""
        self._process = start_child(self.port, f"{PREFIX}/#", self.qos)
        assert self._process.stdout is not None
        self._reader = threading.Thread(
            target=self._read, args=(self._process.stdout,), daemon=True
        )
        self._reader.start()

    def stop(self) -> None:
        """Stop it: it ends when its standard input closes."""
        if (process := self._process) is None:
            return
        self._process = None
        stop_child(process)
        if self._reader is not None:
            self._reader.join(timeout=10)

    def _read(self, arrivals: IO[str]) -> None:
        for line in arrivals:
            run, seq, now = json.loads(line)
            with self._lock:
                self.counts[run] = self.counts.get(run, 0) + 1
                self.arrivals.setdefault(run, {}).setdefault(seq, now)
                waiter = self._waiters.get((run, seq))
            if waiter is not None:
                self.loop.call_soon_threadsafe(waiter.set)

    def waiter(self, run: str, seq: int) -> asyncio.Event:
        """Return an event that is set when (run, seq) arrives."""
        event = asyncio.Event()
        with self._lock:
            self._waiters[(run, seq)] = event
            if seq in self.arrivals.get(run, {}):
                event.set()
        return event

    async def wait_count(self, run: str, count: int) -> None:
        """Wait until `count` distinct messages of a run arrived."""
        async with asyncio.timeout(WAIT):
            while len(self.arrivals.get(run, {})) < count:
                await asyncio.sleep(0.005)

    def received(self, run: str) -> tuple[int, int]:
        """Distinct messages of a run that arrived, and duplicates."""
        distinct = len(self.arrivals.get(run, {}))
        return distinct, self.counts.get(run, 0) - distinct


class Responder:
    """An independent responder answering each question as soon as it arrives.

    `subscriber.py` with an answer topic, as an automation elsewhere that
    reports back is.
    """

    def __init__(self, port: int, prefix: str, qos: int) -> None:
        """Answer events on `<prefix>/events/ask` on `<prefix>/responses/...`."""
        self._args = (port, f"{prefix}/events/ask", qos)
        self._answers = f"{prefix}/responses/bench/responder"
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        """Start it; return once the broker acknowledged its subscription."""
        self._process = start_child(*self._args, self._answers)

    def stop(self) -> None:
        """Stop it."""
        if (process := self._process) is not None:
            self._process = None
            stop_child(process)


def payloads(run: str, n: int) -> list[str]:
    """Build the envelope the bridge would, with run and sequence, per event."""
    now = dt_util.utcnow()
    return [
        build_event(
            topic="x",
            event_type="bench",
            data={"run": run, "seq": seq, "text": TEXT},
            qos=0,
            ttl=TTL,
            now=now,
        ).payload.decode()
        for seq in range(n)
    ]


def _row(
    name: str,
    mode: str,
    run: str,
    sub: Subscriber,
    calls: list[float],
    latencies: list[float],
    *,
    qos: int = 0,
    loop_cpu_us: float | None = None,
    events_per_s: float | None = None,
) -> Run:
    received, duplicates = sub.received(run)
    return Run(
        name=name,
        mode=mode,
        n=len(calls),
        caller_ms=Millis.of(calls),
        e2e_ms=Millis.of(latencies),
        received=received,
        duplicates=duplicates,
        qos=qos,
        loop_cpu_us=loop_cpu_us,
        events_per_s=events_per_s,
    )


async def measure(
    name: str, run: str, n: int, send: Sender, sub: Subscriber, *, burst: bool
) -> Run:
    """Send n events of one sender; caller time, latency, throughput, losses."""
    calls: list[float] = []
    sent: dict[int, float] = {}
    bodies = payloads(run, n)
    started = time.perf_counter()
    for seq in range(n):
        waiter = None if burst else sub.waiter(run, seq)
        before = time.perf_counter()
        sent[seq] = before
        await send(run, seq, bodies[seq])
        calls.append(time.perf_counter() - before)
        if waiter is not None:
            async with asyncio.timeout(WAIT):
                await waiter.wait()
            await asyncio.sleep(SETTLE)
    await sub.wait_count(run, n)
    arrivals = sub.arrivals[run]
    return _row(
        name,
        "burst" if burst else "sequential",
        run,
        sub,
        calls,
        [arrivals[seq] - sent[seq] for seq in range(n)],
        # Sequential runs pause between events: only a burst measures throughput.
        events_per_s=n / (max(arrivals.values()) - started) if burst else None,
    )


async def measure_concurrent(
    name: str, run: str, n: int, send: Sender, sub: Subscriber
) -> Run:
    """Many callers at once: groups of CALLERS calls gathered, until all arrive."""
    calls: list[float] = []
    sent: dict[int, float] = {}
    bodies = payloads(run, n)

    async def one(seq: int) -> None:
        before = time.perf_counter()
        sent[seq] = before
        await send(run, seq, bodies[seq])
        calls.append(time.perf_counter() - before)

    started = time.perf_counter()
    for first in range(0, n, CALLERS):
        await asyncio.gather(
            *(one(seq) for seq in range(first, min(n, first + CALLERS)))
        )
    await sub.wait_count(run, n)
    arrivals = sub.arrivals[run]
    return _row(
        name,
        "concurrent",
        run,
        sub,
        calls,
        [arrivals[seq] - sent[seq] for seq in range(n)],
        events_per_s=n / (max(arrivals.values()) - started),
    )


async def measure_concurrent_rounds(
    senders: list[tuple[str, Sender]],
    qos: int,
    n: int,
    sub: Subscriber,
    rounds: int,
    profile: Path | None = None,
) -> list[Run]:
    """Concurrent bursts, the senders taking turns, in turn first and second.

    Each round is one burst per sender; the order flips every round, so that
    neither always runs on the loop the other has just warmed (or left busy).
    """
    results = []
    for round_no in range(rounds):
        order = senders if round_no % 2 == 0 else senders[::-1]
        for name, send in order:
            run = f"{name}-{qos}-concurrent-{round_no}"
            profiler = cProfile.Profile() if profile is not None else None
            if profiler is not None:
                profiler.enable()
            result = await measure_concurrent(name, run, n, send, sub)
            if profiler is not None:
                profiler.disable()
                sender = name.split()[0].replace(".", "_")
                profiler.dump_stats(f"{profile}.qos{qos}.concurrent.{sender}")
            results.append(replace(result, qos=qos, round=round_no))
    return results


async def measure_interleaved(
    senders: list[tuple[str, Sender]],
    qos: int,
    n: int,
    sub: Subscriber,
    *,
    settle: float = SETTLE,
    mode: str = "sequential",
) -> list[Run]:
    """Sequential latency, the senders taking turns event by event.

    Taking turns spreads the machine's drift (other load, CPU clock) evenly over
    the senders; each event starts on an idle loop. The order of each round
    runs through every permutation of the senders, so that each follows each
    other one equally often: a sender is faster right after one that ran the
    same code (two identical bridges in a fixed order measured 5 % apart).

    Also the event loop's CPU time per event (`loop_cpu_us`, its mean): from
    the send to the end of the pause after it, so it holds the sender's work
    after the event arrived (acknowledgements, counters) and its share of work
    done once a second. It holds the benchmark's own work per event too, the
    same for every sender: the difference between two senders is what one
    costs Home Assistant more than the other, however busy the machine.
    """
    calls: dict[str, list[float]] = {name: [] for name, _ in senders}
    cpu: dict[str, list[float]] = {name: [] for name, _ in senders}
    latencies: dict[str, list[float]] = {name: [] for name, _ in senders}
    runs = {name: f"{name}-{qos}-{mode}" for name, _ in senders}
    bodies = {name: payloads(runs[name], n) for name, _ in senders}
    orders = list(itertools.permutations(senders))
    for seq in range(n):
        for name, send in orders[seq % len(orders)]:
            run = runs[name]
            waiter = sub.waiter(run, seq)
            cpu_before = time.thread_time()
            before = time.perf_counter()
            await send(run, seq, bodies[name][seq])
            calls[name].append(time.perf_counter() - before)
            async with asyncio.timeout(WAIT):
                await waiter.wait()
            latencies[name].append(sub.arrivals[run][seq] - before)
            await asyncio.sleep(settle)
            cpu[name].append(time.thread_time() - cpu_before)
    return [
        _row(
            name,
            mode,
            runs[name],
            sub,
            calls[name],
            latencies[name],
            qos=qos,
            loop_cpu_us=statistics.mean(cpu[name]) * 1e6,
        )
        for name, _ in senders
    ]
