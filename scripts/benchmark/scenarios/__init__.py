"""The benchmark's scenarios, in the order they run (`--only` picks some).

Each is a module with `ONCE` (run on the first broker setting only) and
`async def run(bench, results)`, which adds its rows to the results and
prints them as it goes. Forwarding comes last: mqtt_eventstream, its
baseline, cannot be unloaded once set up.
"""

from types import ModuleType

from . import ask, forwarding, memory, outbox, senders

SCENARIOS: dict[str, ModuleType] = {
    "senders": senders,
    "ask": ask,
    "memory": memory,
    "outbox": outbox,
    "forwarding": forwarding,
}
