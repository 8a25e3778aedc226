"""Ask and wait: the bridge's response_timeout against the round trip by hand.

By hand is HA's own MQTT tools doing what the bridge does for the caller:
publish the event, listen on the response topics, match the event id. The
two take turns, each question starting on an idle loop; the responder answers
from a process of its own.
"""

import asyncio
import json
import time
from typing import TYPE_CHECKING

from homeassistant.components import mqtt
from homeassistant.core import callback
from homeassistant.util import dt as dt_util

from custom_components.mqtt_event_bridge.const import DOMAIN
from custom_components.mqtt_event_bridge.envelope import build_event
from tests.broker.brokers import async_wait_subscribed

from ..harness import Bench
from ..measure import PREFIX, SETTLE, TTL, WAIT, Responder
from ..report import print_ask
from ..rows import Ask, Millis, Results

if TYPE_CHECKING:
    from collections.abc import Callable

ONCE = False
# Questions per QoS, as a share of --n.
SHARE = 5
WARM_UP = 10


async def run(bench: Bench, results: Results) -> None:
    """Ask at every QoS."""
    for qos in bench.args.qos:
        row = await _ask(bench, qos, bench.args.n // SHARE)
        results.ask.append(row)
        print_ask(row)


async def _ask(bench: Bench, qos: int, n: int) -> Ask:
    hass, prefix = bench.hass, f"{PREFIX}/q{qos}"
    entry_id = bench.bridges[qos].entry_id
    loop = asyncio.get_running_loop()
    pending: dict[str, asyncio.Future[None]] = {}

    @callback
    def on_response(msg: mqtt.ReceiveMessage) -> None:
        event_id = json.loads(msg.payload).get("event_id")
        if (answered := pending.pop(event_id, None)) is not None:
            answered.set_result(None)

    run_name = f"ask-{qos}"

    async def bridge(seq: int) -> None:
        result = await hass.services.async_call(
            DOMAIN,
            "publish_event",
            {
                "event_type": "ask",
                "data": {"run": run_name, "seq": seq},
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
            data={"run": f"{run_name}-hand", "seq": seq},
            qos=qos,
            ttl=TTL,
            now=dt_util.utcnow(),
        )
        answered = pending[event.event_id] = loop.create_future()
        await mqtt.async_publish(hass, event.topic, event.payload, qos, retain=False)
        async with asyncio.timeout(WAIT):
            await answered

    times: dict[str, list[float]] = {"bridge": [], "by hand": []}
    responder = Responder(bench.broker.port, prefix, qos)
    responses = f"{prefix}/responses/#"
    stop: Callable[[], None] | None = None
    # All in the try: a stop signal cancels the run wherever it waits, and
    # the responder's process must end with it.
    try:
        responder.start()
        stop = await mqtt.async_subscribe(hass, responses, on_response, qos)
        await async_wait_subscribed(hass, responses, qos)
        # Warm-up: the new type's discovery, first subscriptions, caches.
        for seq in range(WARM_UP):
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
    return Ask(
        broker=bench.setting,
        qos=qos,
        n=n,
        bridge_ms=Millis.of(times["bridge"]),
        by_hand_ms=Millis.of(times["by hand"]),
    )
