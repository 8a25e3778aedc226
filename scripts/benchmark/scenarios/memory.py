"""Memory: what Home Assistant and mosquitto hold, and whether the bridge grows.

tracemalloc attributes each live block to the file that allocated it: the
bridge's own files must not grow while events keep flowing, once its bounded
records (recent events, for round trips) are full. Resident memory also holds
the benchmark's records of every event.
"""

import asyncio
import gc
import os
import tracemalloc

from homeassistant.core import HomeAssistant
import psutil

from custom_components.mqtt_event_bridge.const import DOMAIN
from custom_components.mqtt_event_bridge.models import BridgeConfigEntry

from ..harness import Bench
from ..measure import TEXT, WAIT
from ..rows import Memory, Results

ONCE = True
WARM_UP = 2_000
EVENTS = 5_000
BATCH = 200


async def run(bench: Bench, results: Results) -> None:
    """Stream events past the warm-up; compare what the bridge's files hold."""
    gc.collect()
    ha_growth = (psutil.Process().memory_info().rss - bench.rss_start) / 2**20
    assert bench.broker.process is not None
    broker_rss = psutil.Process(bench.broker.process.pid).memory_info().rss / 2**20
    hass, entry = bench.hass, bench.main_bridge()
    # Traced from the start (tracemalloc sees only what it saw allocated).
    tracemalloc.start()
    # A batch never overflows the outbox (a full one drops its oldest event).
    batch = min(BATCH, bench.args.outbox)
    await _stream(hass, entry, range(WARM_UP), batch)
    gc.collect()
    before = tracemalloc.take_snapshot()
    await _stream(hass, entry, range(WARM_UP, WARM_UP + EVENTS), batch)
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    ours = [
        stat
        for stat in after.compare_to(before, "filename")
        if f"custom_components{os.sep}{DOMAIN}{os.sep}" in stat.traceback[0].filename
    ]
    results.memory = Memory(
        events=EVENTS,
        bridge_growth_kib=sum(stat.size_diff for stat in ours) / 1024,
        ha_rss_growth_mb=ha_growth,
        mosquitto_rss_mb=broker_rss,
    )
    print(
        f"memory: HA RSS grew {ha_growth:.1f} MB over the runs before; mosquitto"
        f" RSS {broker_rss:.1f} MB; after warm-up, the bridge's own files hold"
        f" {results.memory.bridge_growth_kib:+.1f} KiB more after {EVENTS} events",
        flush=True,
    )


async def _stream(
    hass: HomeAssistant, entry: BridgeConfigEntry, events: range, batch: int
) -> None:
    """Publish the events in batches, each acknowledged before the next."""
    counters = entry.runtime_data.publisher.counters
    for start in range(events.start, events.stop, batch):
        published = counters.published
        chunk = range(start, min(start + batch, events.stop))
        for seq in chunk:
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
            while counters.published - published < len(chunk):
                await asyncio.sleep(0.005)
    await hass.async_block_till_done()
