"""The benchmark's figures as lines while it runs, ratios at the end, and tables.

The ratios compare senders measured in the same run; `table` turns the JSON
of one or more runs into the Markdown tables of docs/performance.md.
"""

from collections.abc import Callable
import statistics
from typing import Any

from .names import (
    ACTION,
    BEFORE,
    BRIDGE,
    PAIR_BRIDGE,
    RAW,
    RAW_CONCURRENT,
    SAME_EXPIRY,
    STREAM_NAME,
)
from .rows import Ask, BeforeRatios, ForwardRatios, Results, Run, SenderRatios, Versus

# The forwarding runs besides the sequential one: key, mode.
OTHER_FORWARDS = {
    "sparse": "forward sparse",
    "state": "forward state sequential",
    "state sparse": "forward state sparse",
}


def print_run(r: Run) -> None:
    """One line of the table."""
    c, e = r.caller_ms, r.e2e_ms
    # Bursts give a rate; sequential runs, the loop's CPU time per event.
    extra = f"{r.events_per_s:6.0f} ev/s | " if r.events_per_s else ""
    if r.loop_cpu_us is not None:
        extra = f"loop cpu {r.loop_cpu_us:4.0f} us/event | "
    mode = r.mode if r.round is None else f"{r.mode[:8]} {r.round}"
    print(
        f"{r.broker:<7} qos {r.qos} {mode:<10} {r.name:<31} "
        f"caller p50 {c.p50:6.3f} p99 {c.p99:6.3f} max {c.max:7.2f} | "
        f"e2e p50 {e.p50:7.3f} p95 {e.p95:7.3f} p99 {e.p99:7.3f} "
        f"max {e.max:7.2f} ms | {extra}lost {r.lost} dup {r.duplicates}",
        flush=True,
    )


def print_ask(r: Ask) -> None:
    """One line of the ask-and-wait figures."""
    b, h = r.bridge_ms, r.by_hand_ms
    print(
        f"{r.broker:<7} qos {r.qos} ask and wait, {r.n} questions: bridge"
        f" p50 {b.p50:.3f} p99 {b.p99:.3f} ms | by hand p50 {h.p50:.3f}"
        f" p99 {h.p99:.3f} ms | the bridge adds {r.added_p50_ms:.3f} ms at p50",
        flush=True,
    )


def _by_name(
    runs: list[Run], broker: str, mode: str, qos: int | None = None
) -> dict[str, Run]:
    """Index the single runs (not rounds) of one broker and mode by sender."""
    return {
        r.name: r
        for r in runs
        if (r.broker, r.mode) == (broker, mode)
        and r.round is None
        and qos in (None, r.qos)
    }


def _rounds(
    runs: list[Run], broker: str, mode: str, qos: int | None = None
) -> list[Run]:
    return [
        r
        for r in runs
        if (r.broker, r.mode) == (broker, mode)
        and r.round is not None
        and qos in (None, r.qos)
    ]


def _paired_rates(rounds: list[Run], sender: str, baseline: str) -> list[float]:
    """Each round's burst rate of `sender` against `baseline`'s, sorted."""
    rates = {(r.round, r.name): r.events_per_s or 0.0 for r in rounds}
    numbers = {r.round for r in rounds}
    return sorted(rates[(k, sender)] / rates[(k, baseline)] for k in numbers)


def _loop_cpu(run: Run) -> float:
    assert run.loop_cpu_us is not None
    return run.loop_cpu_us


def _rate(run: Run) -> float:
    assert run.events_per_s is not None
    return run.events_per_s


def sender_ratios(results: Results) -> list[SenderRatios]:
    """Compare the bridge with the baselines, per broker setting and QoS."""
    rows = []
    for broker, qos in sorted({(r.broker, r.qos) for r in results.runs}):
        seq = _by_name(results.runs, broker, "sequential", qos)
        burst = _by_name(results.runs, broker, "burst", qos)
        rounds = _rounds(results.runs, broker, "concurrent", qos)
        action = _paired_rates(rounds, BRIDGE, ACTION)
        same_expiry: dict[str, float | None] = {}
        if SAME_EXPIRY in seq:
            same_expiry = {
                "e2e_p50_vs_action_same_expiry": seq[PAIR_BRIDGE].e2e_ms.p50
                / seq[SAME_EXPIRY].e2e_ms.p50,
                "concurrent_vs_action_same_expiry": statistics.median(
                    _paired_rates(rounds, PAIR_BRIDGE, SAME_EXPIRY)
                ),
            }
        rows.append(
            SenderRatios(
                broker=broker,
                qos=qos,
                e2e_p50_vs_action=seq[BRIDGE].e2e_ms.p50 / seq[ACTION].e2e_ms.p50,
                e2e_p50_vs_raw=seq[BRIDGE].e2e_ms.p50 / seq[RAW].e2e_ms.p50,
                e2e_p99_ms=seq[BRIDGE].e2e_ms.p99,
                loop_cpu_more_than_action_us=_loop_cpu(seq[BRIDGE])
                - _loop_cpu(seq[ACTION]),
                burst_vs_action=_rate(burst[BRIDGE]) / _rate(burst[ACTION]),
                concurrent_vs_action=statistics.median(action),
                concurrent_vs_action_range=(action[0], action[-1]),
                burst_vs_raw=_rate(burst[BRIDGE]) / _rate(burst[RAW_CONCURRENT]),
                caller_p99_ms=max(
                    seq[BRIDGE].caller_ms.p99, burst[BRIDGE].caller_ms.p99
                ),
                **same_expiry,
            )
        )
    return rows


def before_ratios(results: Results, revision: str) -> list[BeforeRatios]:
    """Compare the code with the earlier revision's, where both took turns."""
    rows = []
    for broker, qos in sorted({(r.broker, r.qos) for r in results.runs}):
        seq = _by_name(results.runs, broker, "sequential", qos)
        if BEFORE not in seq:
            continue
        rows.append(
            BeforeRatios(
                broker=broker,
                qos=qos,
                revision=revision,
                loop_cpu_us=_loop_cpu(seq[BRIDGE]),
                before_loop_cpu_us=_loop_cpu(seq[BEFORE]),
                action_loop_cpu_us=_loop_cpu(seq[ACTION]),
                e2e_p50_ms=seq[BRIDGE].e2e_ms.p50,
                before_e2e_p50_ms=seq[BEFORE].e2e_ms.p50,
                caller_p50_ms=seq[BRIDGE].caller_ms.p50,
                before_caller_p50_ms=seq[BEFORE].caller_ms.p50,
            )
        )
    return rows


def _versus(bridge: Run, stream: Run) -> Versus:
    return Versus(
        e2e_p50_vs_eventstream=bridge.e2e_ms.p50 / stream.e2e_ms.p50,
        e2e_p50_more_us=(bridge.e2e_ms.p50 - stream.e2e_ms.p50) * 1000,
        fire_p50_us=bridge.caller_ms.p50 * 1000,
        eventstream_fire_p50_us=stream.caller_ms.p50 * 1000,
    )


def forward_ratios(results: Results) -> list[ForwardRatios]:
    """Each bridge's forwarding against mqtt_eventstream, per broker setting."""
    rows = []
    for broker in sorted({r.broker for r in results.forward}):
        seq = _by_name(results.forward, broker, "forward sequential")
        others = {
            key: _by_name(results.forward, broker, mode)
            for key, mode in OTHER_FORWARDS.items()
        }
        rounds = _rounds(results.forward, broker, "forward burst")
        for name in sorted(n for n in seq if n != STREAM_NAME):
            paired = _paired_rates(rounds, name, STREAM_NAME)
            fire = [r.caller_ms.p50 for r in rounds if r.name == name]
            fire_stream = [r.caller_ms.p50 for r in rounds if r.name == STREAM_NAME]
            rows.append(
                ForwardRatios(
                    broker=broker,
                    name=name,
                    e2e_p50_vs_eventstream=seq[name].e2e_ms.p50
                    / seq[STREAM_NAME].e2e_ms.p50,
                    e2e_p99_ms=seq[name].e2e_ms.p99,
                    loop_cpu_more_us=_loop_cpu(seq[name]) - _loop_cpu(seq[STREAM_NAME]),
                    burst_vs_eventstream=statistics.median(paired),
                    burst_vs_eventstream_range=(paired[0], paired[-1]),
                    fire_p50_us=statistics.median(fire) * 1000,
                    eventstream_fire_p50_us=statistics.median(fire_stream) * 1000,
                    others={
                        key: _versus(runs[name], runs[STREAM_NAME])
                        for key, runs in others.items()
                        if name in runs
                    },
                )
            )
    return rows


def print_ratios(results: Results) -> None:
    """Print the ratios as sentences."""
    for r in results.ratios:
        print(
            f"  {r.broker} broker, qos {r.qos}: e2e p50 x{r.e2e_p50_vs_action:.2f}"
            f" of the action, x{r.e2e_p50_vs_raw:.2f} of raw, e2e p99"
            f" {r.e2e_p99_ms:.2f} ms; burst x{r.burst_vs_action:.2f} of the action"
            f" (one loop), x{r.concurrent_vs_action:.2f} (many callers at once,"
            f" median, {r.concurrent_vs_action_range[0]:.2f}"
            f"-{r.concurrent_vs_action_range[1]:.2f}), x{r.burst_vs_raw:.2f} of raw"
            f" concurrent; caller p99 {r.caller_p99_ms:.3f} ms; loop cpu per event"
            f" {r.loop_cpu_more_than_action_us:+.0f} us"
        )
        if r.e2e_p50_vs_action_same_expiry is not None:
            print(
                "    against the action given the same broker-side expiry (MQTT 5):"
                f" e2e p50 x{r.e2e_p50_vs_action_same_expiry:.2f}, many callers"
                f" x{r.concurrent_vs_action_same_expiry:.2f} (median)"
            )
    for b in results.before:
        print(
            f"  {b.broker} broker, qos {b.qos}, against {b.revision} taking turns:"
            f" loop cpu per event {b.loop_cpu_us:.0f} us against"
            f" {b.before_loop_cpu_us:.0f} us ({b.loop_cpu_more_us:+.0f} us,"
            f" {b.loop_cpu_more_share:+.0%} of the earlier cost beyond the action's"
            f" {b.action_loop_cpu_us:.0f} us); e2e p50 {b.e2e_p50_ms:.3f} against"
            f" {b.before_e2e_p50_ms:.3f} ms"
        )
    for f in results.forward_ratios:
        print(
            f"  {f.broker} broker, {f.name} against mqtt_eventstream: e2e p50"
            f" x{f.e2e_p50_vs_eventstream:.2f}, e2e p99 {f.e2e_p99_ms:.2f} ms; burst"
            f" x{f.burst_vs_eventstream:.2f} (median,"
            f" {f.burst_vs_eventstream_range[0]:.2f}"
            f"-{f.burst_vs_eventstream_range[1]:.2f}); fire p50 {f.fire_p50_us:.0f} us"
            f" against {f.eventstream_fire_p50_us:.0f} us; loop cpu per event"
            f" {f.loop_cpu_more_us:+.0f} us"
        )
        for key, v in f.others.items():
            print(
                f"    {key}: e2e p50 x{v.e2e_p50_vs_eventstream:.2f}"
                f" ({v.e2e_p50_more_us:+.0f} us); fire p50 {v.fire_p50_us:.0f} us"
                f" against {v.eventstream_fire_p50_us:.0f} us"
            )


def _spread(values: list[float], form: str) -> str:
    """One figure per run: the median, and the range when there are several."""
    middle = format(statistics.median(values), form)
    if min(values) == max(values):
        return middle
    return f"{middle} ({format(min(values), form)} to {format(max(values), form)})"


# A column of a table: its heading, the figure of one row of a run, its format.
Column = tuple[str, Callable[[Any], float], str]


def _by_broker_and_qos(items: list[Any], columns: list[Column]) -> list[str]:
    """Give a table with a line per broker setting and QoS, each cell across runs."""
    if not items:
        return []
    lines = [
        "",
        "| Broker | QoS | " + " | ".join(heading for heading, _, _ in columns) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for broker, qos in sorted({(item.broker, item.qos) for item in items}):
        group = [item for item in items if (item.broker, item.qos) == (broker, qos)]
        cells = " | ".join(
            _spread([figure(item) for item in group], form)
            for _, figure, form in columns
        )
        lines.append(f"| {broker} | {qos} | {cells} |")
    return lines


def table(runs: list[Results]) -> str:
    """Markdown tables of one or more runs: the median, and the range across runs."""
    versions = ", ".join(sorted({results.home_assistant for results in runs}))
    sizes = ", ".join(str(n) for n in sorted({results.n for results in runs}))
    lines = [
        f"Home Assistant {versions}; {len(runs)} run(s) of N = {sizes} events per"
        " sender; each cell the median across runs, with the range when they differ.",
    ]
    lines += _by_broker_and_qos(
        [r for results in runs for r in results.ratios],
        [
            ("e2e p50 / action", lambda r: r.e2e_p50_vs_action, ".2f"),
            (
                "loop CPU beyond action (µs)",
                lambda r: r.loop_cpu_more_than_action_us,
                "+.0f",
            ),
            ("e2e p99 (ms)", lambda r: r.e2e_p99_ms, ".2f"),
            ("caller p99 (ms)", lambda r: r.caller_p99_ms, ".3f"),
            ("many callers / action", lambda r: r.concurrent_vs_action, ".2f"),
        ],
    )
    lines += _by_broker_and_qos(
        [b for results in runs for b in results.before],
        [
            ("Loop CPU per event, this code (µs)", lambda b: b.loop_cpu_us, ".0f"),
            ("the earlier code (µs)", lambda b: b.before_loop_cpu_us, ".0f"),
            ("difference (µs)", lambda b: b.loop_cpu_more_us, "+.0f"),
            ("e2e p50, this code (ms)", lambda b: b.e2e_p50_ms, ".3f"),
            ("the earlier code (ms)", lambda b: b.before_e2e_p50_ms, ".3f"),
        ],
    )
    lines += _by_broker_and_qos(
        [a for results in runs for a in results.ask],
        [
            ("ask and wait p50, bridge (ms)", lambda a: a.bridge_ms.p50, ".2f"),
            ("by hand (ms)", lambda a: a.by_hand_ms.p50, ".2f"),
            ("the bridge adds (ms)", lambda a: a.added_p50_ms, "+.2f"),
        ],
    )
    memory = [results.memory for results in runs if results.memory is not None]
    outbox = [results.outbox for results in runs if results.outbox is not None]
    if memory and outbox:
        growth = _spread([m.bridge_growth_kib for m in memory], "+.1f")
        lines += [
            "",
            "| Figure | Value |",
            "|---|---|",
            f"| The bridge's own memory after {memory[0].events} more events (KiB)"
            f" | {growth} |",
            f"| Memory per event in the outbox, broker down (bytes)"
            f" | {_spread([o.bytes_per_event for o in outbox], '.0f')} |",
            f"| Broker back to every queued event acknowledged (s)"
            f" | {_spread([o.flushed_s for o in outbox], '.1f')} |",
        ]
    forwards = [f for results in runs for f in results.forward_ratios]
    if forwards:
        lines += ["", *_forward_table(runs, forwards)]
    return "\n".join(lines) + "\n"


BLOCK_START = "<!-- bench-table: {} -->\n"
BLOCK_END = "<!-- end bench-table -->"


def block(markdown: str, name: str) -> str:
    """Give the generated tables between a page's markers for block `name`."""
    start = BLOCK_START.format(name)
    return markdown.split(start, 1)[1].split(BLOCK_END, 1)[0]


def fill(markdown: str, name: str, tables: str) -> str:
    """Give the page with block `name` replaced by `tables`."""
    start = BLOCK_START.format(name)
    head, rest = markdown.split(start, 1)
    return head + start + tables + BLOCK_END + rest.split(BLOCK_END, 1)[1]


def _forward_table(runs: list[Results], forwards: list[ForwardRatios]) -> list[str]:
    """Give each forwarder against mqtt_eventstream, and every forwarder's tail."""
    lines = [
        "| Broker | Forwarder | e2e p50 / mqtt_eventstream"
        " | state changes: e2e p50 / mqtt_eventstream"
        " | state changes: e2e p95 (ms) | burst / mqtt_eventstream |",
        "|---|---|---|---|---|---|",
    ]
    # The tail of state changes, for eventstream too: where it lies is the
    # broker's doing, whichever forwarder meets it.
    tails: dict[tuple[str, str], list[float]] = {}
    for results in runs:
        for run in results.forward:
            if run.mode == OTHER_FORWARDS["state"]:
                tails.setdefault((run.broker, run.name), []).append(run.e2e_ms.p95)
    for broker, name in sorted(tails):
        ratios = ("1", "1", "1")
        if rows := [f for f in forwards if (f.broker, f.name) == (broker, name)]:
            state = [f.others["state"].e2e_p50_vs_eventstream for f in rows]
            ratios = (
                _spread([f.e2e_p50_vs_eventstream for f in rows], ".2f"),
                _spread(state, ".2f"),
                _spread([f.burst_vs_eventstream for f in rows], ".2f"),
            )
        lines.append(
            f"| {broker} | {name} | {ratios[0]} | {ratios[1]}"
            f" | {_spread(tails[(broker, name)], '.2f')} | {ratios[2]} |"
        )
    return lines
