"""The bridges forwarding an HA event type and state changes, and mqtt_eventstream.

Each bridge forwards a type of its own at its QoS (eventstream always
publishes at QoS 0), and with --before so does the earlier revision's.
Eventstream forwards every event but those it is told to ignore, so it
ignores the bridges' types and the benchmark's other traffic. Caller time
here is the bus's time to fire the event, listeners included.
"""

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from homeassistant.setup import async_setup_component

from ..harness import Bench
from ..measure import (
    PREFIX,
    SPARSE_SETTLE,
    TEXT,
    Sender,
    Subscriber,
    measure,
    measure_interleaved,
)
from ..names import STREAM_NAME
from ..report import print_run
from ..rows import Results

ONCE = False
FORWARD_TYPE = "bench_forward_{}"
FORWARD_ENTITY = "sensor.bench_forward_{}"
STREAM_TYPE = "bench_stream"
STREAM_ENTITY = "sensor.bench_stream"
STREAM_TOPIC = f"{PREFIX}/eventstream"
# Bursts per sender, taking turns (the median ratio counts).
ROUNDS = 4
# The bridges' forwarding limit: high enough that a burst is never limited.
RATE = 10_000
# What eventstream must not forward besides the bridges' types.
IGNORED = [
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


async def run(bench: Bench, results: Results) -> None:
    """Forward with every bridge and with eventstream, taking turns."""
    hass, args = bench.hass, bench.args
    forwarders = {key: bench.bridges[qos] for key, qos in _forwarders(bench).items()}
    forwarders |= {
        key: hass.config_entries.async_get_known_entry(bench.before[qos])
        for key, qos in _forwarders(bench, before=True).items()
    }
    for key, entry in forwarders.items():
        hass.config_entries.async_update_entry(
            entry,
            options={
                **entry.options,
                "forward_event_types": [FORWARD_TYPE.format(key), "state_changed"],
                "forward_entities": [FORWARD_ENTITY.format(key)],
                "forward_rate": RATE,
            },
        )
    await hass.async_block_till_done()
    ignored = [FORWARD_TYPE.format(key) for key in forwarders] + IGNORED
    assert await async_setup_component(
        hass,
        "mqtt_eventstream",
        {"mqtt_eventstream": {"publish_topic": STREAM_TOPIC, "ignore_event": ignored}},
    )
    # A new subscriber, at QoS 0: here senders of QoS 0 and 1 take turns, and on
    # a broker with Nagle on, a subscriber that acknowledges QoS 1 deliveries
    # gets each message that follows a QoS 0 one about 40 ms late (its ACK for
    # the QoS 0 one is delayed, and the broker's next small packet waits for
    # it). That would measure the senders' order.
    bench.sub.stop()
    bench.sub = Subscriber(bench.broker.port, asyncio.get_running_loop(), qos=0)
    bench.sub.start()
    sub = bench.sub
    senders, changes = _senders(bench)
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
    for round_no in range(ROUNDS):
        order = senders if round_no % 2 == 0 else senders[::-1]
        for name, send in order:
            run_name = f"{name}-forward-burst-{round_no}"
            row = await measure(name, run_name, args.n, send, sub, burst=True)
            rows.append(replace(row, round=round_no))
    for row in rows:
        results.forward.append(
            replace(row, broker=bench.setting, mode=f"forward {row.mode}")
        )
        print_run(results.forward[-1])


def _senders(
    bench: Bench,
) -> tuple[list[tuple[str, Sender]], list[tuple[str, Sender]]]:
    """Fire each forwarder's event type; change each forwarder's entity."""
    hass = bench.hass
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

    names = {
        key: f"bridge forwarding (qos {qos})" for key, qos in _forwarders(bench).items()
    }
    names |= {
        key: f"bridge before forwarding (qos {qos})"
        for key, qos in _forwarders(bench, before=True).items()
    }
    senders = [(STREAM_NAME, firing(STREAM_TYPE))]
    senders += [(names[key], firing(FORWARD_TYPE.format(key))) for key in names]
    changes = [(STREAM_NAME, changing(STREAM_ENTITY))]
    changes += [(names[key], changing(FORWARD_ENTITY.format(key))) for key in names]
    return senders, changes


def _forwarders(bench: Bench, *, before: bool = False) -> dict[str, int]:
    """Name each bridge's forwarded type and entity (`q1`, `b_q1`): its QoS."""
    if before:
        return {f"b_q{qos}": qos for qos in bench.before}
    return {f"q{qos}": qos for qos in bench.bridges}
