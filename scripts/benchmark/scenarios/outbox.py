"""The outbox: events queued while the broker is down, then the flush after it.

Memory per queued event (tracemalloc), Home Assistant's reconnect after the
broker returns (its retry interval is 10 s), and the time until the broker has
acknowledged every queued event.
"""

import asyncio
import gc
import time
import tracemalloc

from homeassistant.components import mqtt

from custom_components.mqtt_event_bridge.const import DOMAIN

from ..harness import Bench
from ..measure import WAIT
from ..rows import Outbox, Results

ONCE = True
# Longer than the whole outage: no queued event expires.
QUEUED_TTL = 600


async def run(bench: Bench, results: Results) -> None:
    """Stop the broker, queue --outbox events, start it, wait for the flush."""
    hass, broker, entry = bench.hass, bench.broker, bench.main_bridge()
    publisher = entry.runtime_data.publisher
    broker.stop()
    async with asyncio.timeout(WAIT):
        while mqtt.is_connected(hass):
            await asyncio.sleep(0.05)
    queued = bench.args.outbox
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
                "ttl": QUEUED_TTL,
                "config_entry_id": entry.entry_id,
            },
            blocking=True,
            return_response=True,
        )
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    held = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    expected = publisher.outbox_size
    assert expected == min(queued, entry.runtime_data.settings.outbox_size)
    published = publisher.counters.published
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
        while publisher.counters.published - published < expected:
            await asyncio.sleep(0.01)
    flushed = time.perf_counter() - started
    await asyncio.sleep(1)
    row = results.outbox = Outbox(
        broker=bench.setting,
        qos=entry.data["qos"],
        events=queued,
        kib=held / 1024,
        reconnect_s=connected,
        flushed_s=flushed,
        acknowledged=publisher.counters.published - published,
        expected=expected,
        subscriber_received=len(bench.sub.arrivals.get("outbox", {})),
    )
    print(
        f"outbox: {queued} events queued while down use {row.kib:.0f} KiB"
        f" ({row.bytes_per_event:.0f} B each)\n"
        f"recovery: HA reconnected {connected:.1f} s after the broker came back"
        f" (its retry interval is 10 s); all {expected} acknowledged by the broker"
        f" after {flushed:.1f} s; the subscriber got {row.subscriber_received}"
        " (mosquitto's per-client queue limit)",
        flush=True,
    )
