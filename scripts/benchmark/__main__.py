"""Run the benchmark: `python -m benchmark` (scripts/bench sets up the path)."""

import argparse
import asyncio
import contextlib
import os
from pathlib import Path
import signal
import sys
import time

from homeassistant import const

import benchmark

from .before import BEFORE_DOMAIN, earlier_revision
from .harness import async_bench
from .report import (
    before_ratios,
    fill,
    forward_ratios,
    print_ratios,
    sender_ratios,
    table,
)
from .rows import Results
from .scenarios import SCENARIOS

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _arguments() -> argparse.Namespace:
    assert benchmark.__doc__ is not None
    parser = argparse.ArgumentParser(
        prog="scripts/bench",
        description=benchmark.__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--n", type=int, default=1000, help="events per run")
    parser.add_argument("--qos", type=int, nargs="+", default=[0, 1], choices=(0, 1, 2))
    parser.add_argument(
        "--only",
        nargs="+",
        choices=list(SCENARIOS),
        default=list(SCENARIOS),
        metavar="SCENARIO",
        help=f"run these scenarios only ({', '.join(SCENARIOS)})",
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
        help="forwarded events per sender 1.1 s apart, taking turns with"
        " mqtt_eventstream (0: none)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=10,
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
        "--before",
        metavar="REVISION",
        help="also load this git revision's bridge; it takes turns with this"
        " code's in the sequential runs",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="PATH",
        help="cProfile the bridge's one-loop bursts into PATH.qos0, ...; the last"
        " concurrent round of each sender into PATH.qos0.concurrent.bridge, ...",
    )
    parser.add_argument(
        "--table",
        type=Path,
        nargs="+",
        metavar="JSON",
        help="print the Markdown tables of runs written with --json, and stop",
    )
    parser.add_argument(
        "--into",
        nargs=2,
        metavar=("PAGE", "BLOCK"),
        help="with --table: write the tables between the page's markers"
        " <!-- bench-table: BLOCK --> and <!-- end bench-table -->",
    )
    args = parser.parse_args()
    if args.outbox < args.n:
        # The bench's bridges get an outbox of --outbox events; a burst from one
        # loop fills it faster than it drains, and a full outbox drops its
        # oldest event by design: the run would wait for events that never come.
        parser.error("--outbox must be at least --n (the bursts would overflow it)")
    args.before_domain = BEFORE_DOMAIN
    return args


async def _run_until_stopped(args: argparse.Namespace, results: Results) -> None:
    """Run the scenarios until they end or SIGINT, SIGTERM or SIGHUP comes.

    A signal cancels the run, so that what it started (mosquitto, Home
    Assistant, the subscriber) stops on the way out; a second signal waits
    for that instead of leaving a broker behind.
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
    settings = ["default", "nodelay"] if args.broker == "both" else [args.broker]
    for index, setting in enumerate(settings):
        async with async_bench(args, setting, first=index == 0) as bench:
            for name in SCENARIOS:
                scenario = SCENARIOS[name]
                if name in args.only and (bench.first or not scenario.ONCE):
                    await scenario.run(bench, results)


def main() -> int:
    """Run, print, write JSON; exit 1 if any event was lost."""
    args = _arguments()
    if args.table:
        tables = table([Results.from_json(path.read_text()) for path in args.table])
        if args.into:
            page = Path(args.into[0])
            page.write_text(fill(page.read_text(), args.into[1], tables))
        else:
            print(tables, end="")
        return 0
    results = Results(
        date=time.strftime("%Y-%m-%d"),
        machine=f"{os.cpu_count()} cores, Python {sys.version.split()[0]}",
        home_assistant=const.__version__,
        n=args.n,
        discovery=args.discovery == "on",
        scenarios=[name for name in SCENARIOS if name in args.only],
    )
    revision = None
    with contextlib.ExitStack() as stack:
        if args.before:
            revision = stack.enter_context(earlier_revision(args.before))
        try:
            asyncio.run(_run_until_stopped(args, results))
        except (asyncio.CancelledError, KeyboardInterrupt):
            print("stopped before the end: no figures", file=sys.stderr)
            return 130
    if "senders" in args.only:
        results.ratios = sender_ratios(results)
        if revision is not None:
            results.before = before_ratios(results, revision)
    results.forward_ratios = forward_ratios(results)
    print(f"\nratios, discovery {args.discovery}, N = {args.n}:")
    print_ratios(results)
    if args.json:
        args.json.write_text(results.to_json())
    if results.lost:
        print("LOST EVENTS", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
