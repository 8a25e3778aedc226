"""The benchmark's figures: one typed row per measurement, written as JSON."""

from dataclasses import asdict, dataclass, field, fields, is_dataclass
import json
import types
from typing import Any, Self, Union, get_args, get_origin, get_type_hints


def percentile(values: list[float], pct: float) -> float:
    """Return the pct-th percentile (nearest rank) of values."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered)) - 1))
    return ordered[rank]


@dataclass(frozen=True, slots=True)
class Millis:
    """Percentiles of a set of durations, in milliseconds."""

    p50: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, seconds: list[float]) -> Self:
        """Summarise durations given in seconds."""
        return cls(
            p50=percentile(seconds, 50) * 1000,
            p95=percentile(seconds, 95) * 1000,
            p99=percentile(seconds, 99) * 1000,
            max=max(seconds) * 1000,
        )


@dataclass(frozen=True, slots=True)
class Run:
    """One sender's events of one run: times, and what arrived."""

    name: str
    mode: str
    n: int
    caller_ms: Millis
    e2e_ms: Millis
    received: int
    duplicates: int
    qos: int = 0
    broker: str = ""
    # Sequential runs: the event loop's CPU time per event (its mean).
    loop_cpu_us: float | None = None
    # Bursts: the rate from the first send to the last arrival.
    events_per_s: float | None = None
    # Bursts repeated with the senders taking turns: which round.
    round: int | None = None

    @property
    def lost(self) -> int:
        """Events sent that never arrived."""
        return self.n - self.received


@dataclass(frozen=True, slots=True)
class Ask:
    """Ask and wait: the bridge's round trip against the same by hand."""

    broker: str
    qos: int
    n: int
    bridge_ms: Millis
    by_hand_ms: Millis

    @property
    def added_p50_ms(self) -> float:
        """What the bridge adds to the median round trip."""
        return self.bridge_ms.p50 - self.by_hand_ms.p50


@dataclass(frozen=True, slots=True)
class Memory:
    """What the process and the broker hold after the runs."""

    events: int
    # Growth of what the bridge's own files hold over `events` further events.
    bridge_growth_kib: float
    ha_rss_growth_mb: float
    mosquitto_rss_mb: float


@dataclass(frozen=True, slots=True)
class Outbox:
    """Events queued while the broker is down, and the flush once it is back."""

    broker: str
    qos: int
    events: int
    kib: float
    reconnect_s: float
    flushed_s: float
    acknowledged: int
    expected: int
    subscriber_received: int

    @property
    def bytes_per_event(self) -> float:
        """Memory of one queued event."""
        return self.kib * 1024 / self.events


@dataclass(frozen=True, slots=True)
class SenderRatios:
    """The bridge against HA's action and raw publish, one broker and QoS."""

    broker: str
    qos: int
    e2e_p50_vs_action: float
    e2e_p50_vs_raw: float
    e2e_p99_ms: float
    loop_cpu_more_than_action_us: float
    burst_vs_action: float
    concurrent_vs_action: float
    concurrent_vs_action_range: tuple[float, float]
    burst_vs_raw: float
    caller_p99_ms: float
    # MQTT 5: against the action given the same broker-side expiry.
    e2e_p50_vs_action_same_expiry: float | None = None
    concurrent_vs_action_same_expiry: float | None = None


@dataclass(frozen=True, slots=True)
class Versus:
    """One bridge's forwarding against mqtt_eventstream's, one kind of run."""

    e2e_p50_vs_eventstream: float
    e2e_p50_more_us: float
    fire_p50_us: float
    eventstream_fire_p50_us: float


@dataclass(frozen=True, slots=True)
class ForwardRatios:
    """One bridge forwarding an HA event type against mqtt_eventstream."""

    broker: str
    name: str
    e2e_p50_vs_eventstream: float
    e2e_p99_ms: float
    loop_cpu_more_us: float
    burst_vs_eventstream: float
    burst_vs_eventstream_range: tuple[float, float]
    fire_p50_us: float
    eventstream_fire_p50_us: float
    # "sparse", "state", "state sparse": the other kinds of run.
    others: dict[str, Versus] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BeforeRatios:
    """The code against an earlier revision's, taking turns event by event."""

    broker: str
    qos: int
    revision: str
    loop_cpu_us: float
    before_loop_cpu_us: float
    action_loop_cpu_us: float
    e2e_p50_ms: float
    before_e2e_p50_ms: float
    caller_p50_ms: float
    before_caller_p50_ms: float

    @property
    def loop_cpu_more_us(self) -> float:
        """The loop's CPU time per event this code costs more than the earlier."""
        return self.loop_cpu_us - self.before_loop_cpu_us

    @property
    def loop_cpu_more_share(self) -> float:
        """That, as a share of the earlier code's cost beyond HA's action."""
        return self.loop_cpu_more_us / (
            self.before_loop_cpu_us - self.action_loop_cpu_us
        )


@dataclass(slots=True)
class Results:
    """Everything one run of the benchmark measured."""

    date: str
    machine: str
    home_assistant: str
    n: int
    discovery: bool
    scenarios: list[str]
    runs: list[Run] = field(default_factory=list)
    ask: list[Ask] = field(default_factory=list)
    forward: list[Run] = field(default_factory=list)
    memory: Memory | None = None
    outbox: Outbox | None = None
    ratios: list[SenderRatios] = field(default_factory=list)
    forward_ratios: list[ForwardRatios] = field(default_factory=list)
    before: list[BeforeRatios] = field(default_factory=list)

    @property
    def lost(self) -> bool:
        """Whether any event was lost, or any queued one never acknowledged."""
        if any(run.lost for run in self.runs + self.forward):
            return True
        return self.outbox is not None and self.outbox.acknowledged < (
            self.outbox.expected
        )

    def to_json(self) -> str:
        """Write the figures as JSON."""
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Self:
        """Read figures written by to_json."""
        results: Self = _build(cls, json.loads(text))
        return results


def _build(kind: Any, value: Any) -> Any:  # noqa: PLR0911 (one return per kind)
    """Turn JSON back into the typed rows `kind` names."""
    origin, args = get_origin(kind), get_args(kind)
    if value is None or kind is Any:
        return value
    if origin in (Union, types.UnionType):
        return _build(next(a for a in args if a is not type(None)), value)
    if is_dataclass(kind) and isinstance(kind, type):
        hints = get_type_hints(kind)
        return kind(
            **{f.name: _build(hints[f.name], value[f.name]) for f in fields(kind)}
        )
    if origin is list:
        return [_build(args[0], item) for item in value]
    if origin is tuple:
        return tuple(_build(args[0], item) for item in value)
    if origin is dict:
        return {key: _build(args[1], item) for key, item in value.items()}
    return kind(value)
