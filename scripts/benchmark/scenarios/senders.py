"""The bridge's publish_event against HA's mqtt.publish action and raw publish.

Per QoS: sequential events, the senders taking turns event by event (with
--before, the earlier revision's bridge takes its turn too); bursts from one
loop; then concurrent bursts of many callers, taking turns round by round.
Where the bridge gives the broker an expiry (MQTT 5), the bridge and HA's
action given the same expiry, in runs of their own.
"""

import asyncio
import cProfile
from dataclasses import replace

from homeassistant.components import mqtt

from ..harness import Bench
from ..measure import (
    PREFIX,
    TTL,
    Sender,
    measure,
    measure_concurrent_rounds,
    measure_interleaved,
)
from ..names import (
    ACTION,
    BEFORE,
    BRIDGE,
    PAIR_BRIDGE,
    RAW,
    RAW_CONCURRENT,
    SAME_EXPIRY,
)
from ..report import print_run
from ..rows import Results, Run

ONCE = False


async def run(bench: Bench, results: Results) -> None:
    """Measure every sender at every QoS."""
    for qos in bench.args.qos:
        await _run_qos(bench, results, qos)


def _baselines(
    bench: Bench, qos: int
) -> tuple[Sender, Sender, Sender, Sender, set[asyncio.Task[None]]]:
    """HA's action, with the bridge's expiry too, raw publish, and a burst's floor."""
    hass = bench.hass
    topic = f"{PREFIX}/q{qos}/events/bench"

    async def action(_run: str, _seq: int, body: str) -> None:
        data = {"topic": topic, "payload": body, "qos": qos}
        await hass.services.async_call("mqtt", "publish", data, blocking=True)

    async def action_expiring(_run: str, _seq: int, body: str) -> None:
        data = {"topic": topic, "payload": body, "qos": qos}
        data["message_expiry_interval"] = {"seconds": TTL}
        await hass.services.async_call("mqtt", "publish", data, blocking=True)

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

    return action, action_expiring, raw, raw_concurrent, pending


async def _run_qos(bench: Bench, results: Results, qos: int) -> None:
    args, sub = bench.args, bench.sub
    action, action_expiring, raw, raw_concurrent, pending = _baselines(bench, qos)
    bridge = bench.bridge_sender(qos)
    senders: list[tuple[str, Sender]] = [(BRIDGE, bridge), (ACTION, action), (RAW, raw)]
    if qos in bench.before:
        senders.append((BEFORE, bench.bridge_sender(qos, domain=args.before_domain)))
    # Not the targets' baseline (the action as users call it), but the same
    # work. Apart from the senders above: a sender is faster right after one
    # that ran the same code, and the action with an expiry and without one
    # share theirs, which would flatter the action in the targets' runs.
    pair: list[tuple[str, Sender]] = (
        [(PAIR_BRIDGE, bridge), (SAME_EXPIRY, action_expiring)]
        if bench.sets_expiry()
        else []
    )
    # Warm-up: imports, caches, the first subscriptions.
    for name, send in senders + pair[1:]:
        await measure(name, f"warm-{name}-{qos}", 20, send, sub, burst=False)
    # The pair right after the others, on the same quiet loop: after the
    # bursts, Home Assistant still works off their echoes for a while.
    keep(bench, results, await measure_interleaved(senders, qos, args.n, sub))
    keep(bench, results, await measure_interleaved(pair, qos, args.n, sub))
    bursts = [(BRIDGE, bridge), (ACTION, action), (RAW_CONCURRENT, raw_concurrent)]
    for name, send in bursts:
        profiler = None
        if args.profile and name == BRIDGE:
            profiler = cProfile.Profile()
            profiler.enable()
        row = await measure(name, f"{name}-{qos}-burst", args.n, send, sub, burst=True)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(f"{args.profile}.qos{qos}")
        keep(bench, results, [replace(row, qos=qos)])
    rounds = await measure_concurrent_rounds(
        senders[:2], qos, args.n, sub, args.rounds, args.profile
    )
    keep(bench, results, rounds)
    rounds = await measure_concurrent_rounds(pair, qos, args.n, sub, args.rounds)
    keep(bench, results, rounds)
    await asyncio.gather(*pending)


def keep(bench: Bench, results: Results, rows: list[Run]) -> None:
    """Add rows of this broker setting to the results, and print them."""
    for row in rows:
        results.runs.append(replace(row, broker=bench.setting))
        print_run(results.runs[-1])
