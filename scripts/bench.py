"""Benchmark the bridge against HA's own ways to publish, in one run.

Starts a mosquitto of its own (default settings) on a free port, a real HA core
(HA's test instance: the real core, in-memory storage) with the real MQTT
integration and the bridge, and an independent paho subscriber. Then it
measures, for the bridge and for two baselines publishing the same payload
(HA's `mqtt.publish` action, and raw `mqtt.async_publish`; on MQTT 5 also HA's
action given the bridge's expiry, in runs of its own): caller-side time,
end-to-end latency (call -> subscriber), sequential and burst throughput; then
memory, the outbox's memory with 10,000 events queued while the broker is down,
and the recovery time after a broker restart. Prints a table, writes JSON.

    scripts/bench [ha2026.10] [--n 1000] [--qos 0 1] [--json bench.json]
"""

import argparse
import asyncio
from collections.abc import Awaitable, Callable
import cProfile
from dataclasses import dataclass, field
import gc
import importlib
import itertools
import json
import os
from pathlib import Path
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from typing import IO, Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Imported after the repository is on the path, like HA imports it.
from bench_subscriber import HOST
from homeassistant import loader
from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant, callback
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_test_home_assistant,
)

from custom_components.mqtt_event_bridge.const import DISCOVERY_QOS, DOMAIN
from custom_components.mqtt_event_bridge.envelope import build_event
from custom_components.mqtt_event_bridge.models import BridgeConfigEntry
from custom_components.mqtt_event_bridge.mqtt_client import sets_broker_expiry
from tests.broker.brokers import Broker, async_wait_subscribed

PREFIX = "bench"
WAIT = 60.0
# Pause between sequential events, for every sender alike.
SETTLE = 0.002
# Pause between the forwarding comparison's sparse events: AI and camera events
# mostly come seconds apart, and then each meets an idle loop, cold caches and
# the entities' update timer at rest (their interval is one second). Events
# 2 ms apart hid a delay every such event had (0.35 ms, 1.41 x eventstream).
SPARSE_SETTLE = 1.1
TEXT = "person at the front door"
# Every event's time to live: the bridges' TTL, the envelopes built for the
# other senders, and the expiry HA's action is given in the pair.
TTL = 60
# The memory phase: events that fill the bridge's bounded records, then events
# over which its memory must stay flat.
MEMORY_WARMUP = 2_000
MEMORY_EVENTS = 5_000
MEMORY_BATCH = 200
# Callers at once in the concurrent burst, as many automations firing together.
CALLERS = 80
# HA's action given the bridge's broker-side expiry (MQTT 5, on a Home
# Assistant that takes one, such as 2026.10),
# and the bridge in the runs that take turns with it.
SAME_EXPIRY = "mqtt.publish action + expiry"
PAIR_BRIDGE = "bridge (expiry pair)"
# Concurrent bursts per sender, the senders taking turns in alternating order:
# one burst lasts under a second, so a single one is mostly noise.
CONCURRENT_ROUNDS = 10
QOS_CHOICES = (0, 1, 2)
# Forwarding of HA events, against HA's mqtt_eventstream on the same events.
FORWARD_TYPE = "bench_forward_q{}"
STREAM_TYPE = "bench_stream"
# State changes, the type users forward most: each bridge forwards its own
# entity's (through its entity filter), eventstream those of one more.
FORWARD_ENTITY = "sensor.bench_forward_q{}"
STREAM_ENTITY = "sensor.bench_stream"
STREAM_TOPIC = f"{PREFIX}/eventstream"
# eventstream's runs, against which each bridge's forwarding is compared.
STREAM_NAME = "mqtt_eventstream (qos 0)"
# Bursts per forwarder, taking turns.
FORWARD_ROUNDS = 4
# The bench fires far faster than the default limit of 100 a second per type,
# which would cut its bursts by design.
FORWARD_BENCH_RATE = 10_000
# Ctrl-C, a plain `kill` and the terminal closing. SIGINT too, although asyncio
# handles Ctrl-C itself: started in the background of a script, a process gets
# SIGINT ignored, and asyncio then leaves it so.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# Seconds the subscriber's process may take to start and subscribe.
SUBSCRIBER_START = 15


def percentile(values: list[float], pct: float) -> float:
    """Return the pct-th percentile (nearest rank) of values."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered)) - 1))
    return ordered[rank]


def summary(values: list[float]) -> dict[str, float]:
    """p50/p95/p99/max in milliseconds."""
    return {
        "p50": percentile(values, 50) * 1000,
        "p95": percentile(values, 95) * 1000,
        "p99": percentile(values, 99) * 1000,
        "max": max(values) * 1000,
    }


def broker_rss_mb(broker: Broker) -> float:
    """Resident memory of the broker process."""
    assert broker.process is not None
    return float(psutil.Process(broker.process.pid).memory_info().rss / 2**20)


def start_child(port: int, *args: str | int) -> subprocess.Popen[str]:
    """Start `bench_subscriber.py PORT ARGS...`; return once it is subscribed.

    Its clock must be this process's: the subscriber's arrival times are
    compared with this process's perf_counter.
    """
    process = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("bench_subscriber.py")),
            str(port),
            *map(str, args),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], SUBSCRIBER_START)
    line = process.stdout.readline() if ready else ""
    if not line.startswith('["ready"'):
        stop_child(process)
        msg = f"bench_subscriber.py did not start: {line!r}"
        raise RuntimeError(msg)
    if not 0 <= time.perf_counter() - json.loads(line)[1] < SUBSCRIBER_START:
        stop_child(process)
        msg = "bench_subscriber.py's clock is not this process's"
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
    """An independent subscriber recording when each sequence number arrives.

    A paho client in a process of its own (`bench_subscriber.py`), as a
    consumer of the bridge's events is: its arrival times are taken there.
    """

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


Sender = Callable[[str, int, str], Awaitable[None]]


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


async def measure(
    name: str, run: str, n: int, send: Sender, sub: Subscriber, *, burst: bool
) -> dict[str, Any]:
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
            # Let each sender finish its work for this event (the bridge's
            # acknowledgement arrives after its call returned; the action's
            # inside its call), so the next event starts on an idle loop.
            await asyncio.sleep(SETTLE)
    await sub.wait_count(run, n)
    finished = max(sub.arrivals[run].values())
    latencies = [sub.arrivals[run][seq] - sent[seq] for seq in range(n)]
    return {
        "name": name,
        "mode": "burst" if burst else "sequential",
        "n": n,
        "caller_ms": summary(calls),
        "e2e_ms": summary(latencies),
        # Sequential runs pause between events: only a burst measures throughput.
        "events_per_s": n / (finished - started) if burst else None,
        "received": len(sub.arrivals[run]),
        "duplicates": sub.counts[run] - len(sub.arrivals[run]),
    }


async def measure_concurrent(
    name: str, run: str, n: int, send: Sender, sub: Subscriber, callers: int
) -> dict[str, Any]:
    """Many callers at once: groups of `callers` calls gathered, until all arrive."""
    calls: list[float] = []
    sent: dict[int, float] = {}
    bodies = payloads(run, n)

    async def one(seq: int) -> None:
        before = time.perf_counter()
        sent[seq] = before
        await send(run, seq, bodies[seq])
        calls.append(time.perf_counter() - before)

    started = time.perf_counter()
    for first in range(0, n, callers):
        await asyncio.gather(
            *(one(seq) for seq in range(first, min(n, first + callers)))
        )
    await sub.wait_count(run, n)
    finished = max(sub.arrivals[run].values())
    return {
        "name": name,
        "mode": "concurrent",
        "n": n,
        "caller_ms": summary(calls),
        "e2e_ms": summary([sub.arrivals[run][seq] - sent[seq] for seq in range(n)]),
        "events_per_s": n / (finished - started),
        "received": len(sub.arrivals[run]),
        "duplicates": sub.counts[run] - len(sub.arrivals[run]),
    }


async def measure_concurrent_rounds(
    senders: list[tuple[str, Sender]],
    qos: int,
    n: int,
    sub: Subscriber,
    rounds: int,
    profile: Path | None = None,
) -> list[dict[str, Any]]:
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
            result = await measure_concurrent(name, run, n, send, sub, CALLERS)
            if profiler is not None and profile is not None:
                profiler.disable()
                sender = name.split()[0].replace(".", "_")
                profiler.dump_stats(f"{profile}.qos{qos}.concurrent.{sender}")
            result |= {"qos": qos, "round": round_no}
            results.append(result)
    return results


async def measure_interleaved(
    senders: list[tuple[str, Sender]],
    qos: int,
    n: int,
    sub: Subscriber,
    *,
    settle: float = SETTLE,
    mode: str = "sequential",
) -> list[dict[str, Any]]:
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
        {
            "name": name,
            "mode": mode,
            "qos": qos,
            "n": n,
            "caller_ms": summary(calls[name]),
            "e2e_ms": summary(latencies[name]),
            "loop_cpu_us": statistics.mean(cpu[name]) * 1e6,
            "events_per_s": None,
            "received": len(sub.arrivals[runs[name]]),
            "duplicates": sub.counts[runs[name]] - len(sub.arrivals[runs[name]]),
        }
        for name, _ in senders
    ]


class Responder:
    """An independent responder answering each question as soon as it arrives.

    A paho client in a process of its own (`bench_subscriber.py` with an
    answer topic), as an automation elsewhere that reports back is: in this
    process its thread would share the interpreter lock with Home Assistant's
    loop.
    """

    def __init__(self, port: int, prefix: str, qos: int) -> None:
        """Answer events on `<prefix>/events/ask` on `<prefix>/responses/...`."""
        self._port = port
        self._questions = f"{prefix}/events/ask"
        self._answers = f"{prefix}/responses/bench/responder"
        self._qos = qos
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        """Start it; return once the broker acknowledged its subscription."""
        self._process = start_child(
            self._port, self._questions, self._qos, self._answers
        )

    def stop(self) -> None:
        """Stop it."""
        if (process := self._process) is not None:
            self._process = None
            stop_child(process)


async def measure_ask(
    hass: HomeAssistant, entry_id: str, prefix: str, qos: int, n: int, port: int
) -> dict[str, Any]:
    """Ask and wait: the bridge's response_timeout against the round trip by hand.

    By hand is HA's own MQTT tools doing what the bridge does for the caller:
    publish the event, listen on the response topics, match the event id. The
    two take turns, each question starting on an idle loop.
    """
    loop = asyncio.get_running_loop()
    pending: dict[str, asyncio.Future[None]] = {}

    @callback
    def on_response(msg: mqtt.ReceiveMessage) -> None:
        event_id = json.loads(msg.payload).get("event_id")
        if (answered := pending.pop(event_id, None)) is not None:
            answered.set_result(None)

    run = f"ask-{qos}"

    async def bridge(seq: int) -> None:
        result = await hass.services.async_call(
            DOMAIN,
            "publish_event",
            {
                "event_type": "ask",
                "data": {"run": run, "seq": seq},
                "qos": qos,
                "response_timeout": WAIT,
                "config_entry_id": entry_id,
            },
            blocking=True,
            return_response=True,
        )
        assert result is not None
        assert result["outcome"] == "answered", result

    async def by_hand(seq: int) -> None:
        event = build_event(
            topic=f"{prefix}/events/ask",
            event_type="ask",
            data={"run": f"{run}-hand", "seq": seq},
            qos=qos,
            ttl=TTL,
            now=dt_util.utcnow(),
        )
        answered = pending[event.event_id] = loop.create_future()
        await mqtt.async_publish(hass, event.topic, event.payload, qos, retain=False)
        async with asyncio.timeout(WAIT):
            await answered

    times: dict[str, list[float]] = {"bridge": [], "by hand": []}
    responder = Responder(port, prefix, qos)
    responses = f"{prefix}/responses/#"
    stop: Callable[[], None] | None = None
    # All in the try: a stop signal cancels the run wherever it waits, and
    # the responder's process must end with it.
    try:
        responder.start()
        stop = await mqtt.async_subscribe(hass, responses, on_response, qos)
        await async_wait_subscribed(hass, responses, qos)
        # Warm-up: the new type's discovery, first subscriptions, caches.
        for seq in range(10):
            await bridge(-1 - seq)
            await by_hand(-1 - seq)
        for seq in range(n):
            order = [("bridge", bridge), ("by hand", by_hand)]
            for name, ask in order if seq % 2 == 0 else order[::-1]:
                before = time.perf_counter()
                await ask(seq)
                times[name].append(time.perf_counter() - before)
                await asyncio.sleep(SETTLE)
    finally:
        if stop is not None:
            stop()
        responder.stop()
    bridge_ms, hand_ms = summary(times["bridge"]), summary(times["by hand"])
    return {
        "qos": qos,
        "n": n,
        "bridge_ms": bridge_ms,
        "by_hand_ms": hand_ms,
        "added_p50_ms": bridge_ms["p50"] - hand_ms["p50"],
    }


async def _run_until_stopped(args: argparse.Namespace) -> dict[str, Any]:
    """Run the benchmark until it ends or SIGINT, SIGTERM or SIGHUP comes.

    A signal cancels the run, so that what it started (mosquitto, Home
    Assistant) stops on the way out; a second signal waits for that instead of
    leaving a broker behind.
    """
    loop = asyncio.get_running_loop()
    run = asyncio.current_task()
    assert run is not None

    def stop() -> None:
        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, lambda: None)
        run.cancel()

    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop)
    return await run_bench(args)


async def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    """Do every measurement, for each broker setting asked for; return the figures."""
    process = psutil.Process(os.getpid())
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{os.cpu_count()} cores, Python {sys.version.split()[0]}",
        "n": args.n,
        "discovery": args.discovery == "on",
        "runs": [],
        "ask": [],
        "forward": [],
    }
    settings = ["default", "nodelay"] if args.broker == "both" else [args.broker]
    for index, setting in enumerate(settings):
        with tempfile.TemporaryDirectory() as workdir:
            # MQTT reads the (empty) YAML configuration when it sets up.
            (Path(workdir) / "configuration.yaml").write_text("")
            broker = Broker(Path(workdir), nodelay=setting == "nodelay")
            broker.start()
            try:
                async with async_test_home_assistant(config_dir=workdir) as hass:
                    # HA's test instance hides custom integrations unless asked.
                    hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)
                    found = await _bench_in_hass(
                        hass, broker, args, process, setting, extras=index == 0
                    )
                    results["runs"] += found.pop("runs")
                    results["ask"] += found.pop("ask")
                    results["forward"] += found.pop("forward")
                    results |= found
                    await hass.async_stop(force=True)
            finally:
                broker.stop()
    return results


def _senders(
    hass: HomeAssistant, entry_id: str, qos: int, topic: str
) -> tuple[
    list[tuple[str, Sender]], Sender, set[asyncio.Task[None]], list[tuple[str, Sender]]
]:
    """Make the senders taking turns, a burst's floor and its tasks in flight.

    And, where the bridge gives the broker an expiry, the bridge and HA's
    action given the same expiry: a pair taking turns in runs of their own.
    """

    async def bridge(run: str, seq: int, _body: str) -> None:
        await hass.services.async_call(
            DOMAIN,
            "publish_event",
            {
                "event_type": "bench",
                "data": {
                    "run": run,
                    "seq": seq,
                    "text": TEXT,
                },
                "qos": qos,
                "ttl": TTL,
                "config_entry_id": entry_id,
            },
            blocking=True,
            return_response=True,
        )

    async def action(_run: str, _seq: int, body: str) -> None:
        await hass.services.async_call(
            "mqtt",
            "publish",
            {"topic": topic, "payload": body, "qos": qos},
            blocking=True,
        )

    async def raw(_run: str, _seq: int, body: str) -> None:
        await mqtt.async_publish(hass, topic, body, qos, retain=False)

    pending: set[asyncio.Task[None]] = set()

    async def raw_concurrent(_run: str, _seq: int, body: str) -> None:
        # The floor of a burst: every publish in flight at once.
        task = hass.async_create_task(
            mqtt.async_publish(hass, topic, body, qos, retain=False)
        )
        pending.add(task)
        task.add_done_callback(pending.discard)

    async def action_expiring(_run: str, _seq: int, body: str) -> None:
        await hass.services.async_call(
            "mqtt",
            "publish",
            {
                "topic": topic,
                "payload": body,
                "qos": qos,
                "message_expiry_interval": {"seconds": TTL},
            },
            blocking=True,
        )

    senders: list[tuple[str, Sender]] = [
        ("bridge", bridge),
        ("mqtt.publish action", action),
        ("raw async_publish", raw),
    ]
    # Not the targets' baseline (the action as users call it), but the same
    # work. Apart from the senders above: a sender is faster right after one
    # that ran the same code, and the action with an expiry and without one
    # share theirs, which would flatter the action in the targets' runs.
    pair: list[tuple[str, Sender]] = (
        [(PAIR_BRIDGE, bridge), (SAME_EXPIRY, action_expiring)]
        if _sets_expiry(hass)
        else []
    )
    return senders, raw_concurrent, pending, pair


async def _bench_in_hass(
    hass: HomeAssistant,
    broker: Broker,
    args: argparse.Namespace,
    process: Any,
    setting: str,
    *,
    extras: bool,
) -> dict[str, Any]:
    mqtt_entry = MockConfigEntry(
        domain="mqtt",
        data={"broker": HOST, "port": broker.port},
        # No birth message: it would arrive mid-measurement.
        options={"birth_message": {}},
        version=1,
        minor_version=2,
    )
    mqtt_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mqtt_entry.entry_id)
    async with asyncio.timeout(WAIT):
        while not mqtt.is_connected(hass):
            await asyncio.sleep(0.05)

    sub = Subscriber(broker.port, asyncio.get_running_loop())
    sub.start()
    out: dict[str, Any] = {"runs": [], "ask": []}
    rss_start = process.memory_info().rss
    try:
        for qos in args.qos:
            entry = MockConfigEntry(
                domain=DOMAIN,
                title=f"{PREFIX}{qos}",
                unique_id=f"{PREFIX}/q{qos}",
                data={"topic_prefix": f"{PREFIX}/q{qos}", "qos": qos, "ttl": TTL},
                # As users run it: discovery on (unless asked otherwise), the
                # type offered from the start. The outbox holds the whole
                # outbox measurement.
                options={
                    "discovery": args.discovery == "on",
                    "event_types": ["bench"],
                    "outbox_size": args.outbox,
                },
            )
            entry.add_to_hass(hass)
            assert await hass.config_entries.async_setup(entry.entry_id)
            topic = f"{PREFIX}/q{qos}/events/bench"
            if args.discovery == "on":
                # HA's discovered event entity listens to the bench's events:
                # the echo every user with discovery on gets.
                await async_wait_subscribed(hass, topic, DISCOVERY_QOS)

            senders, raw_concurrent, pending, pair = _senders(
                hass, entry.entry_id, qos, topic
            )
            # Warm-up: imports, caches, the first subscriptions.
            for name, send in senders + pair[1:]:
                run = f"warm-{name}-{qos}"
                await measure(name, run, 20, send, sub, burst=False)
            # The pair right after the others, on the same quiet loop: after the
            # bursts, Home Assistant still works off their echoes for a while.
            for result in [
                *await measure_interleaved(senders, qos, args.n, sub),
                *await measure_interleaved(pair, qos, args.n, sub),
            ]:
                result["broker"] = setting
                out["runs"].append(result)
                print_row(result)
            bursts: list[tuple[str, Sender]] = [
                *senders[:2],
                ("raw async_publish (concurrent)", raw_concurrent),
            ]
            for name, send in bursts:
                run = f"{name}-{qos}-burst"
                profiler = None
                if args.profile and name == "bridge":
                    profiler = cProfile.Profile()
                    profiler.enable()
                result = await measure(name, run, args.n, send, sub, burst=True)
                if profiler is not None:
                    profiler.disable()
                    profiler.dump_stats(f"{args.profile}.qos{qos}")
                result["qos"] = qos
                result["broker"] = setting
                out["runs"].append(result)
                print_row(result)
            for result in [
                *await measure_concurrent_rounds(
                    senders[:2], qos, args.n, sub, args.rounds, args.profile
                ),
                *await measure_concurrent_rounds(pair, qos, args.n, sub, args.rounds),
            ]:
                result["broker"] = setting
                out["runs"].append(result)
                print_row(result)
            await asyncio.gather(*pending)
            ask = await measure_ask(
                hass, entry.entry_id, f"{PREFIX}/q{qos}", qos, args.n // 5, broker.port
            )
            ask["broker"] = setting
            out["ask"].append(ask)
            print_ask(ask)
            await hass.async_block_till_done()
        if extras:
            gc.collect()
            out["ha_rss_growth_mb"] = (process.memory_info().rss - rss_start) / 2**20
            out["mosquitto_rss_mb"] = broker_rss_mb(broker)
            out |= await _memory_after_warmup(hass, args)
            out |= await _outbox_and_recovery(hass, broker, sub, args)
        # Last: mqtt_eventstream cannot be unloaded once set up. A new
        # subscriber, at QoS 0: here senders of QoS 0 and 1 take turns, and on
        # a broker with Nagle on, a subscriber that acknowledges QoS 1
        # deliveries gets each message that follows a QoS 0 one about 40 ms
        # late (its ACK for the QoS 0 one is delayed, and the broker's next
        # small packet waits for it). That measured the senders' order.
        sub.stop()
        forward_sub = Subscriber(broker.port, asyncio.get_running_loop(), qos=0)
        forward_sub.start()
        sub = forward_sub
        out["forward"] = await _forwarding_vs_eventstream(hass, sub, args, setting)
    finally:
        sub.stop()
        # The bridges first: they say offline through MQTT.
        for loaded in reversed(hass.config_entries.async_entries()):
            await hass.config_entries.async_unload(loaded.entry_id)
    return out


def _sets_expiry(hass: HomeAssistant) -> bool:
    """Whether the bridge gives each event a broker-side expiry, and HA's action can."""
    return sets_broker_expiry(hass) and (
        "message_expiry_interval" in _publish_action_schema().schema
    )


def _publish_action_schema() -> Any:
    """HA's schema of its mqtt.publish action (in mqtt.services from 2026.11)."""
    if (schema := getattr(mqtt, "MQTT_PUBLISH_SCHEMA", None)) is not None:
        return schema
    services = importlib.import_module("homeassistant.components.mqtt.services")
    return services.MQTT_PUBLISH_SCHEMA


def _bench_entry(hass: HomeAssistant, args: argparse.Namespace) -> BridgeConfigEntry:
    """Pick the QoS 1 bridge if there is one, else the first."""
    entries: list[BridgeConfigEntry] = hass.config_entries.async_entries(DOMAIN)
    if 1 in args.qos:
        return next(e for e in entries if e.data["qos"] == 1)
    return entries[0]


async def _memory_after_warmup(
    hass: HomeAssistant, args: argparse.Namespace
) -> dict[str, Any]:
    """Measure what the bridge keeps of a steady stream, once its records are full.

    tracemalloc attributes each live block to the file that allocated it: the
    bridge's own files must not grow while events keep flowing. (RSS, measured
    above, also holds the benchmark's records of every event.)
    """
    entry = _bench_entry(hass, args)
    publisher = entry.runtime_data.publisher

    async def stream(count: int, first: int) -> None:
        for start in range(first, first + count, MEMORY_BATCH):
            before = publisher.counters.published
            for seq in range(start, start + MEMORY_BATCH):
                await hass.services.async_call(
                    DOMAIN,
                    "publish_event",
                    {
                        "event_type": "bench",
                        "data": {"run": "memory", "seq": seq, "text": TEXT},
                        "config_entry_id": entry.entry_id,
                    },
                    blocking=True,
                    return_response=True,
                )
            async with asyncio.timeout(WAIT):
                while publisher.counters.published - before < MEMORY_BATCH:
                    await asyncio.sleep(0.005)

    # Traced from the start (tracemalloc sees only what it saw allocated); the
    # warm-up fills the bounded record of recent events (for round trips).
    tracemalloc.start()
    await stream(MEMORY_WARMUP, 0)
    await hass.async_block_till_done()
    gc.collect()
    before = tracemalloc.take_snapshot()
    await stream(MEMORY_EVENTS, MEMORY_WARMUP)
    await hass.async_block_till_done()
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    ours = [
        stat
        for stat in after.compare_to(before, "filename")
        if f"custom_components{os.sep}{DOMAIN}" in stat.traceback[0].filename
    ]
    growth = sum(stat.size_diff for stat in ours)
    print(
        f"memory after warm-up: the bridge's own files hold {growth / 1024:+.1f} KiB"
        f" more after {MEMORY_EVENTS} further events"
    )
    return {"memory_events": MEMORY_EVENTS, "bridge_growth_kib": growth / 1024}


async def _outbox_and_recovery(
    hass: HomeAssistant, broker: Broker, sub: Subscriber, args: argparse.Namespace
) -> dict[str, Any]:
    """Queue events with the broker down: their memory, then the flush after it."""
    entry = _bench_entry(hass, args)
    publisher = entry.runtime_data.publisher
    qos = entry.data["qos"]
    broker.stop()
    async with asyncio.timeout(WAIT):
        while mqtt.is_connected(hass):
            await asyncio.sleep(0.05)
    queued = args.outbox
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for seq in range(queued):
        await hass.services.async_call(
            DOMAIN,
            "publish_event",
            {
                "event_type": "bench",
                "data": {"run": "outbox", "seq": seq},
                "ttl": 600,
                "config_entry_id": entry.entry_id,
            },
            blocking=True,
            return_response=True,
        )
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    outbox_bytes = sum(s.size_diff for s in after.compare_to(before, "filename"))
    expected = publisher.outbox_size
    assert expected == min(queued, entry.runtime_data.settings.outbox_size)
    published_before = publisher.counters.published
    started = time.perf_counter()
    broker.start()
    async with asyncio.timeout(WAIT):
        while not mqtt.is_connected(hass):
            await asyncio.sleep(0.05)
    connected = time.perf_counter() - started
    # Flushed: the broker has acknowledged every queued event (QoS 1). A single
    # subscriber may get fewer: mosquitto queues at most 1000 QoS 1/2 messages
    # per client by default (max_queued_messages) and drops the rest.
    async with asyncio.timeout(WAIT):
        while publisher.counters.published - published_before < expected:
            await asyncio.sleep(0.01)
    flushed = time.perf_counter() - started
    await asyncio.sleep(1)
    row = {
        "outbox_events": queued,
        "outbox_kib": outbox_bytes / 1024,
        "outbox_bytes_per_event": outbox_bytes / queued,
        "recovery_reconnect_s": connected,
        "recovery_flushed_s": flushed,
        "recovery_qos": qos,
        "recovery_acknowledged": publisher.counters.published - published_before,
        "recovery_expected": expected,
        "recovery_subscriber_received": len(sub.arrivals.get("outbox", {})),
    }
    print(
        f"\noutbox: {queued} events queued while down use {row['outbox_kib']:.0f} KiB"
        f" ({row['outbox_bytes_per_event']:.0f} B each)\n"
        f"recovery: HA reconnected {connected:.1f} s after the broker came back"
        f" (its retry interval is 10 s); all {expected} acknowledged by the broker"
        f" after {flushed:.1f} s; the subscriber got"
        f" {row['recovery_subscriber_received']} (mosquitto's per-client queue limit)"
    )
    return row


async def _forwarding_vs_eventstream(
    hass: HomeAssistant, sub: Subscriber, args: argparse.Namespace, setting: str
) -> list[dict[str, Any]]:
    """Measure the bridges forwarding an HA event type, and mqtt_eventstream.

    Each bridge forwards a type of its own at its QoS (eventstream always
    publishes at QoS 0); eventstream forwards every event but those it is told
    to ignore, so it ignores the bridges' types and the bench's other traffic.
    Caller time here is the bus's time to fire the event, listeners included.
    """
    entries: list[BridgeConfigEntry] = hass.config_entries.async_entries(DOMAIN)
    for entry in entries:
        hass.config_entries.async_update_entry(
            entry,
            options={
                **entry.options,
                "forward_event_types": [
                    FORWARD_TYPE.format(entry.data["qos"]),
                    "state_changed",
                ],
                "forward_entities": [FORWARD_ENTITY.format(entry.data["qos"])],
                "forward_rate": FORWARD_BENCH_RATE,
            },
        )
    await hass.async_block_till_done()
    ignored = [FORWARD_TYPE.format(qos) for qos in QOS_CHOICES] + [
        "call_service",
        "entity_registry_updated",
        "device_registry_updated",
        "service_registered",
        "component_loaded",
        # HA's stop at the end, when MQTT is going away.
        "homeassistant_stop",
        "homeassistant_final_write",
        "homeassistant_close",
    ]
    assert await async_setup_component(
        hass,
        "mqtt_eventstream",
        {"mqtt_eventstream": {"publish_topic": STREAM_TOPIC, "ignore_event": ignored}},
    )

    # eventstream listens to every event, the bridges' too (it drops them after
    # a look): it is on the bus only while its own event is fired, so that each
    # forwarder is measured alone, and it forwards no other state change (the
    # bridges' entities, the bench's stop). Where HA keeps these listeners
    # elsewhere, eventstream stays on and the bridges carry its look at their
    # events.
    everything: list[Any] | None = getattr(hass.bus, "_match_all_listeners", None)
    stream_listeners = list(everything or [])

    def alone(fire: Callable[[str, int], None], *, stream: bool) -> Sender:
        async def send(run: str, seq: int, _body: str) -> None:
            if everything is not None:
                everything[:] = stream_listeners if stream else []
            fire(run, seq)
            if everything is not None:
                everything[:] = []

        return send

    def firing(event_type: str) -> Sender:
        return alone(
            lambda run, seq: hass.bus.async_fire(
                event_type, {"run": run, "seq": seq, "text": TEXT}
            ),
            stream=event_type == STREAM_TYPE,
        )

    def changing(entity_id: str) -> Sender:
        return alone(
            lambda run, seq: hass.states.async_set(
                entity_id, str(seq), {"run": run, "seq": seq, "text": TEXT}
            ),
            stream=entity_id == STREAM_ENTITY,
        )

    bridges = [
        (f"bridge forwarding (qos {qos})", qos)
        for qos in (entry.data["qos"] for entry in entries)
    ]
    senders: list[tuple[str, Sender]] = [
        (STREAM_NAME, firing(STREAM_TYPE)),
        *((name, firing(FORWARD_TYPE.format(qos))) for name, qos in bridges),
    ]
    changes: list[tuple[str, Sender]] = [
        (STREAM_NAME, changing(STREAM_ENTITY)),
        *((name, changing(FORWARD_ENTITY.format(qos))) for name, qos in bridges),
    ]
    for name, send in senders:
        await measure(name, f"warm-forward-{name}", 20, send, sub, burst=False)
    for name, send in changes:
        await measure(name, f"warm-state-{name}", 20, send, sub, burst=False)
    rows = await measure_interleaved(senders, 0, args.n, sub)
    rows += await measure_interleaved(changes, 0, args.n, sub, mode="state sequential")
    if args.sparse:
        rows += await measure_interleaved(
            senders, 0, args.sparse, sub, settle=SPARSE_SETTLE, mode="sparse"
        )
        rows += await measure_interleaved(
            changes, 0, args.sparse, sub, settle=SPARSE_SETTLE, mode="state sparse"
        )
    for round_no in range(FORWARD_ROUNDS):
        order = senders if round_no % 2 == 0 else senders[::-1]
        for name, send in order:
            run = f"{name}-forward-burst-{round_no}"
            result = await measure(name, run, args.n, send, sub, burst=True)
            rows.append(result | {"qos": 0, "round": round_no})
    for row in rows:
        row["broker"] = setting
        row["mode"] = f"forward {row['mode']}"
        print_row(row)
    return rows


def _versus(runs: dict[str, dict[str, Any]], name: str, key: str) -> dict[str, Any]:
    """One bridge's run against eventstream's of the same mode, `key` naming it."""
    bridge, stream = runs[name], runs[STREAM_NAME]
    return {
        f"{key}e2e_p50_vs_eventstream": bridge["e2e_ms"]["p50"]
        / stream["e2e_ms"]["p50"],
        f"{key}e2e_p50_more_us": (bridge["e2e_ms"]["p50"] - stream["e2e_ms"]["p50"])
        * 1000,
        f"{key}fire_p50_us": bridge["caller_ms"]["p50"] * 1000,
        f"{key}eventstream_fire_p50_us": stream["caller_ms"]["p50"] * 1000,
    }


def forward_ratios(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each bridge's forwarding against mqtt_eventstream, per broker setting.

    Keys starting `sparse_` are for events 1.1 s apart, `state_` for state
    changes (2 ms apart), `state_sparse_` for both.
    """
    rows = []
    for broker in sorted({r["broker"] for r in results["forward"]}):
        runs = [r for r in results["forward"] if r["broker"] == broker]
        sequential = {r["name"]: r for r in runs if r["mode"] == "forward sequential"}
        others = {
            key: {r["name"]: r for r in runs if r["mode"] == f"forward {mode}"}
            for key, mode in (
                ("sparse_", "sparse"),
                ("state_", "state sequential"),
                ("state_sparse_", "state sparse"),
            )
        }
        bursts: dict[tuple[int, str], dict[str, Any]] = {
            (r["round"], r["name"]): r for r in runs if "round" in r
        }
        for name in sorted(n for n in sequential if n != STREAM_NAME):
            paired = sorted(
                bursts[(round_no, name)]["events_per_s"]
                / bursts[(round_no, STREAM_NAME)]["events_per_s"]
                for round_no in range(FORWARD_ROUNDS)
            )
            fire = [
                bursts[(k, name)]["caller_ms"]["p50"] for k in range(FORWARD_ROUNDS)
            ]
            fire_stream = [
                bursts[(k, STREAM_NAME)]["caller_ms"]["p50"]
                for k in range(FORWARD_ROUNDS)
            ]
            rows.append(
                {
                    "broker": broker,
                    "name": name,
                    "e2e_p50_vs_eventstream": sequential[name]["e2e_ms"]["p50"]
                    / sequential[STREAM_NAME]["e2e_ms"]["p50"],
                    "e2e_p99_ms": sequential[name]["e2e_ms"]["p99"],
                    "loop_cpu_more_us": sequential[name]["loop_cpu_us"]
                    - sequential[STREAM_NAME]["loop_cpu_us"],
                    "burst_vs_eventstream": statistics.median(paired),
                    "burst_vs_eventstream_range": [paired[0], paired[-1]],
                    "fire_p50_us": statistics.median(fire) * 1000,
                    "eventstream_fire_p50_us": statistics.median(fire_stream) * 1000,
                }
            )
            for key, by_name in others.items():
                if by_name:
                    rows[-1] |= _versus(by_name, name, key)
    return rows


def print_row(r: dict[str, Any]) -> None:
    """One line of the table."""
    c, e = r["caller_ms"], r["e2e_ms"]
    # Bursts give a rate; sequential runs, the loop's CPU time per event.
    extra = f"{r['events_per_s']:6.0f} ev/s | " if r["events_per_s"] else ""
    if "loop_cpu_us" in r:
        extra = f"loop cpu {r['loop_cpu_us']:4.0f} us/event | "
    mode = r["mode"] if "round" not in r else f"{r['mode'][:8]} {r['round']}"
    print(
        f"{r['broker']:<7} qos {r['qos']} {mode:<10} {r['name']:<31} "
        f"caller p50 {c['p50']:6.3f} p99 {c['p99']:6.3f} max {c['max']:7.2f} | "
        f"e2e p50 {e['p50']:7.3f} p95 {e['p95']:7.3f} p99 {e['p99']:7.3f} "
        f"max {e['max']:7.2f} ms | {extra}"
        f"lost {r['n'] - r['received']} dup {r['duplicates']}",
        flush=True,
    )


def print_ask(r: dict[str, Any]) -> None:
    """One line of the ask-and-wait figures."""
    b, h = r["bridge_ms"], r["by_hand_ms"]
    print(
        f"{r['broker']:<7} qos {r['qos']} ask and wait, {r['n']} questions: bridge"
        f" p50 {b['p50']:.3f} p99 {b['p99']:.3f} ms | by hand p50 {h['p50']:.3f}"
        f" p99 {h['p99']:.3f} ms | the bridge adds {r['added_p50_ms']:.3f} ms at p50",
        flush=True,
    )


def ratios(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Bridge against the baselines, per broker setting and QoS."""
    rows = []
    by_key = {
        (r["broker"], r["qos"], r["mode"], r["name"]): r
        for r in results["runs"]
        if r["mode"] != "concurrent"
    }
    for broker, qos in sorted({(r["broker"], r["qos"]) for r in results["runs"]}):

        def run(mode: str, name: str, broker: str = broker, qos: int = qos) -> Any:
            return by_key[(broker, qos, mode, name)]

        seq_b = run("sequential", "bridge")
        seq_a = run("sequential", "mqtt.publish action")
        seq_r = run("sequential", "raw async_publish")
        # Each round's bridge burst against the action's burst of that round.
        rates = {
            (r["round"], r["name"]): r["events_per_s"]
            for r in results["runs"]
            if (r["broker"], r["qos"], r["mode"]) == (broker, qos, "concurrent")
        }

        def paired(
            bridge: str, baseline: str, rates: dict[tuple[int, str], float] = rates
        ) -> list[float]:
            return sorted(
                rates[(round_no, bridge)] / rates[(round_no, baseline)]
                for round_no in {round_no for round_no, _ in rates}
            )

        against_action = paired("bridge", "mqtt.publish action")
        same_work: dict[str, Any] = {}
        if (broker, qos, "sequential", SAME_EXPIRY) in by_key:
            pair_b, pair_a = (
                run("sequential", name)["e2e_ms"] for name in (PAIR_BRIDGE, SAME_EXPIRY)
            )
            same_work = {
                "e2e_p50_vs_action_same_expiry": pair_b["p50"] / pair_a["p50"],
                "concurrent_vs_action_same_expiry": statistics.median(
                    paired(PAIR_BRIDGE, SAME_EXPIRY)
                ),
            }
        rows.append(
            {
                "broker": broker,
                "qos": qos,
                "e2e_p50_vs_action": seq_b["e2e_ms"]["p50"] / seq_a["e2e_ms"]["p50"],
                "e2e_p50_vs_raw": seq_b["e2e_ms"]["p50"] / seq_r["e2e_ms"]["p50"],
                "e2e_p99_ms": seq_b["e2e_ms"]["p99"],
                "loop_cpu_more_than_action_us": seq_b["loop_cpu_us"]
                - seq_a["loop_cpu_us"],
                "burst_vs_action": run("burst", "bridge")["events_per_s"]
                / run("burst", "mqtt.publish action")["events_per_s"],
                "concurrent_vs_action": statistics.median(against_action),
                "concurrent_vs_action_range": [against_action[0], against_action[-1]],
                "burst_vs_raw": run("burst", "bridge")["events_per_s"]
                / run("burst", "raw async_publish (concurrent)")["events_per_s"],
                "caller_p99_ms": max(
                    r["caller_ms"]["p99"] for r in (seq_b, run("burst", "bridge"))
                ),
            }
            | same_work
        )
    return rows


def main() -> int:
    """Run, print, write JSON; exit 1 if any event was lost."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="events per run")
    parser.add_argument(
        "--qos", type=int, nargs="+", default=[0, 1], choices=QOS_CHOICES
    )
    parser.add_argument(
        "--outbox", type=int, default=10_000, help="events queued while down"
    )
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument(
        "--sparse",
        type=int,
        default=30,
        metavar="N",
        help=f"forwarded events per sender {SPARSE_SETTLE} s apart, taking turns with"
        " mqtt_eventstream (0: none)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=CONCURRENT_ROUNDS,
        help="concurrent bursts per sender, taking turns (the median ratio counts)",
    )
    parser.add_argument(
        "--discovery",
        choices=["on", "off"],
        default="on",
        help="MQTT discovery of the bench's bridges (on: what users get)",
    )
    parser.add_argument(
        "--broker",
        choices=["default", "nodelay", "both"],
        default="both",
        help="mosquitto's defaults, set_tcp_nodelay true, or one run of each",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="PATH",
        help="cProfile the bridge's one-loop bursts into PATH.qos0, ...; the last"
        " concurrent round of each sender into PATH.qos0.concurrent.bridge, ...",
    )
    args = parser.parse_args()
    if args.outbox < args.n:
        # The bench's bridges get an outbox of --outbox events; a burst from one
        # loop fills it faster than it drains, and a full outbox drops its
        # oldest event by design: the run would wait for events that never come.
        parser.error("--outbox must be at least --n (the bursts would overflow it)")
    try:
        results = asyncio.run(_run_until_stopped(args))
    except (asyncio.CancelledError, KeyboardInterrupt):
        print("stopped before the end: no figures", file=sys.stderr)
        return 130
    results["ratios"] = ratios(results)
    discovery = "on" if results["discovery"] else "off"
    print(f"\nratios (bridge / baseline), discovery {discovery}, N = {args.n}:")
    for r in results["ratios"]:
        print(
            f"  {r['broker']} broker, qos {r['qos']}: e2e p50"
            f" x{r['e2e_p50_vs_action']:.2f} of the action,"
            f" x{r['e2e_p50_vs_raw']:.2f} of raw, e2e p99 {r['e2e_p99_ms']:.2f} ms;"
            f" burst x{r['burst_vs_action']:.2f} of the action (one loop),"
            f" x{r['concurrent_vs_action']:.2f} ({CALLERS} callers at once, median"
            f" of {args.rounds} rounds, {r['concurrent_vs_action_range'][0]:.2f}"
            f"-{r['concurrent_vs_action_range'][1]:.2f}),"
            f" x{r['burst_vs_raw']:.2f} of raw concurrent;"
            f" caller p99 {r['caller_p99_ms']:.3f} ms;"
            f" loop cpu per event {r['loop_cpu_more_than_action_us']:+.0f} us"
        )
        if "e2e_p50_vs_action_same_expiry" in r:
            print(
                "    the bridge against the action given the same broker-side expiry"
                " (MQTT 5), in runs of their own:"
                f" e2e p50 x{r['e2e_p50_vs_action_same_expiry']:.2f},"
                f" {CALLERS} callers x{r['concurrent_vs_action_same_expiry']:.2f}"
                " (median)"
            )
    results["forward_ratios"] = forward_ratios(results)
    print(
        "\nforwarding an HA event type (bridge / mqtt_eventstream), bridges with"
        f" discovery {discovery}, forwarded types not offered, forwarding limit"
        f" {FORWARD_BENCH_RATE}/s:"
    )
    for r in results["forward_ratios"]:
        print(
            f"  {r['broker']} broker, {r['name']}: e2e p50"
            f" x{r['e2e_p50_vs_eventstream']:.2f}, e2e p99 {r['e2e_p99_ms']:.2f} ms;"
            f" burst x{r['burst_vs_eventstream']:.2f} (median of {FORWARD_ROUNDS},"
            f" {r['burst_vs_eventstream_range'][0]:.2f}"
            f"-{r['burst_vs_eventstream_range'][1]:.2f}); fire p50"
            f" {r['fire_p50_us']:.0f} us against {r['eventstream_fire_p50_us']:.0f} us;"
            f" loop cpu per event {r['loop_cpu_more_us']:+.0f} us"
        )
        for key, what in (
            ("sparse_", f"events {SPARSE_SETTLE} s apart ({args.sparse} per sender)"),
            ("state_", f"state changes {SETTLE * 1000:.0f} ms apart"),
            (
                "state_sparse_",
                f"state changes {SPARSE_SETTLE} s apart ({args.sparse} per sender)",
            ),
        ):
            if f"{key}e2e_p50_vs_eventstream" in r:
                print(
                    f"    {what}: e2e p50 x{r[f'{key}e2e_p50_vs_eventstream']:.2f}"
                    f" ({r[f'{key}e2e_p50_more_us']:+.0f} us); fire p50"
                    f" {r[f'{key}fire_p50_us']:.0f} us against"
                    f" {r[f'{key}eventstream_fire_p50_us']:.0f} us"
                )
    print(
        f"memory: HA RSS grew {results['ha_rss_growth_mb']:.1f} MB over the runs;"
        f" mosquitto RSS {results['mosquitto_rss_mb']:.1f} MB"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    lost = [r for r in results["runs"] + results["forward"] if r["received"] != r["n"]]
    if lost or results["recovery_acknowledged"] < results["recovery_expected"]:
        print("LOST EVENTS", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
