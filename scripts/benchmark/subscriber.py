"""The benchmark's subscriber and responder, each in a process of its own.

The benchmark starts the subscriber as `subscriber.py PORT TOPIC
QOS`. Once the broker has acknowledged its subscription it prints `["ready",
CLOCK]`, then one JSON line `[RUN, SEQ, ARRIVAL]` per message that carries a
run and a sequence number. CLOCK and ARRIVAL are `time.perf_counter()`, which
on Linux reads the same clock in every process (CLOCK_MONOTONIC); the
benchmark checks CLOCK against its own. ARRIVAL is read as paho hands the
message over, before anything else is done with it.

With a fourth argument, `subscriber.py PORT TOPIC QOS ANSWERS`, it is
the responder of the ask-and-wait measurement instead: it answers each event
on TOPIC at once, with a response for its event id on the topic ANSWERS, at
QOS, like an automation elsewhere that reports back. It prints only the ready
line.

In Home Assistant's process, the subscriber's paho thread shared the
interpreter lock with Home Assistant's event loop: work that loop did after a
send could hold up the arrival's timestamp, which no consumer elsewhere sees.

It stops when its standard input closes (the benchmark ended, or died) or on
SIGTERM. It ignores SIGINT and SIGHUP, which a terminal sends to the whole
process group: the benchmark then stops it itself, after its figures.
"""

from collections.abc import Callable
import json
import signal
import sys
import threading
import time
from typing import Any

from paho.mqtt.client import Client, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion

HOST = "127.0.0.1"


def start_subscribed(
    client: Client,
    port: int,
    topic: str,
    qos: int,
    on_message: Callable[[Client, object, MQTTMessage], None],
) -> None:
    """Connect a paho client, subscribe it; return once the broker acknowledged."""
    ready = threading.Event()
    client.on_message = on_message
    client.on_subscribe = lambda *_: ready.set()
    client.on_connect = lambda c, *_: c.subscribe(topic, qos)
    client.connect(HOST, port)
    client.loop_start()
    if not ready.wait(10):
        msg = f"no subscription to {topic} within 10 s"
        raise RuntimeError(msg)


def stop_client(client: Client) -> None:
    """Disconnect a client started with start_subscribed."""
    client.disconnect()
    client.loop_stop()


def run_and_seq(payload: bytes) -> tuple[str, int] | None:
    """Find the run and sequence number in a message, wherever its sender put it.

    At the top (published events), under `data` (forwarded HA events) or under
    `event_data` (mqtt_eventstream); for a state change, in the new state's
    attributes.
    """
    message: Any = json.loads(payload)
    if not isinstance(message, dict):
        return None
    data = message.get("data") or message.get("event_data")
    state = data.get("new_state") if isinstance(data, dict) else None
    attributes = state.get("attributes") if isinstance(state, dict) else None
    for part in (message, data, attributes):
        if isinstance(part, dict) and "run" in part:
            return str(part["run"]), int(part["seq"])
    return None


def _say(line: list[Any]) -> None:
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def answer(question: bytes) -> str:
    """Answer an asked event: success, for its event id.

    It carries the question's run (marked as an answer) and sequence number,
    so that the benchmark's subscriber, which sees it too, keeps it apart.
    """
    event = json.loads(question)
    return json.dumps(
        {
            "automation_id": "responder",
            "status": "success",
            "event_id": event["event_id"],
            "run": f"answers-{event['run']}",
            "seq": event["seq"],
        }
    )


def _answering(answers: str, qos: int) -> Callable[[Client, object, MQTTMessage], None]:
    def on_question(client: Client, _userdata: object, msg: MQTTMessage) -> None:
        try:
            response = answer(msg.payload)
        except (ValueError, KeyError, TypeError) as err:
            # Said, not raised: an exception would end paho's thread.
            print(f"unreadable question on {msg.topic}: {err!r}", file=sys.stderr)
            return
        client.publish(answers, response, qos=qos)

    return on_question


def _on_message(_client: Client, _userdata: object, msg: MQTTMessage) -> None:
    now = time.perf_counter()
    if msg.topic.endswith("/availability"):
        return
    try:
        found = run_and_seq(msg.payload)
    except (ValueError, KeyError, TypeError) as err:
        # Said, not raised: an exception would end paho's thread.
        print(f"unreadable message on {msg.topic}: {err!r}", file=sys.stderr)
        return
    if found is not None:
        _say([*found, now])


def main() -> None:
    """Subscribe; report arrivals, or answer, until standard input closes."""
    port, topic, qos = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    answers = next(iter(sys.argv[4:]), None)
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    role = "sub" if answers is None else "ask"
    client = Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{role}-q{qos}")
    client.reconnect_delay_set(1, 1)
    on_message = _on_message if answers is None else _answering(answers, qos)
    start_subscribed(client, port, topic, qos, on_message)
    _say(["ready", time.perf_counter()])
    sys.stdin.read()
    stop_client(client)


if __name__ == "__main__":
    main()
