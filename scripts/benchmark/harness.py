"""What every scenario runs in: mosquitto, a real Home Assistant, the bridges.

Home Assistant is HA's test instance (the real core, in-memory storage) with
the real MQTT integration connected to a mosquitto of the benchmark's own on a
free port. Each QoS asked for gets a bridge of its own, set up as users run it:
discovery on (unless asked otherwise), the benchmark's type offered from the
start.
"""

import argparse
import asyncio
from collections.abc import AsyncIterator
import contextlib
from dataclasses import dataclass, field
import importlib
from pathlib import Path
import tempfile
from typing import Any

from homeassistant import loader
from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant
from homeassistant.helpers import frame
import psutil
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_test_home_assistant,
)

from custom_components.mqtt_event_bridge.const import DISCOVERY_QOS, DOMAIN
from custom_components.mqtt_event_bridge.models import BridgeConfigEntry
from custom_components.mqtt_event_bridge.mqtt_client import sets_broker_expiry
from tests.broker.brokers import HOST, Broker, async_wait_subscribed

from .measure import PREFIX, TEXT, TTL, WAIT, Sender, Subscriber


@dataclass
class Bench:
    """One broker setting's Home Assistant, broker, subscriber and bridges."""

    hass: HomeAssistant
    broker: Broker
    args: argparse.Namespace
    # "default": mosquitto's defaults; "nodelay": set_tcp_nodelay true.
    setting: str
    # The first broker setting also runs the scenarios done once.
    first: bool
    sub: Subscriber
    # The benchmark's bridge per QoS, and an earlier revision's (--before).
    bridges: dict[int, BridgeConfigEntry] = field(default_factory=dict)
    before: dict[int, str] = field(default_factory=dict)
    # Home Assistant's resident memory once everything was set up.
    rss_start: int = 0

    def bridge_sender(self, qos: int, *, domain: str = DOMAIN) -> Sender:
        """Send with the bridge's publish_event action, as an automation does."""
        entry_id = self.before[qos] if domain != DOMAIN else self.bridges[qos].entry_id

        async def bridge(run: str, seq: int, _body: str) -> None:
            await self.hass.services.async_call(
                domain,
                "publish_event",
                {
                    "event_type": "bench",
                    "data": {"run": run, "seq": seq, "text": TEXT},
                    "qos": qos,
                    "ttl": TTL,
                    "config_entry_id": entry_id,
                },
                blocking=True,
                return_response=True,
            )

        return bridge

    def sets_expiry(self) -> bool:
        """Tell whether the bridge sets a broker-side expiry, and HA's action can."""
        return sets_broker_expiry(self.hass) and (
            "message_expiry_interval" in publish_action_schema().schema
        )

    def main_bridge(self) -> BridgeConfigEntry:
        """Pick the QoS 1 bridge if there is one, else the first."""
        return self.bridges.get(1) or next(iter(self.bridges.values()))


def publish_action_schema() -> Any:
    """HA's schema of its mqtt.publish action (in mqtt.services from 2026.11)."""
    if (schema := getattr(mqtt, "MQTT_PUBLISH_SCHEMA", None)) is not None:
        return schema
    services = importlib.import_module("homeassistant.components.mqtt.services")
    return services.MQTT_PUBLISH_SCHEMA


@contextlib.asynccontextmanager
async def async_bench(
    args: argparse.Namespace, setting: str, *, first: bool
) -> AsyncIterator[Bench]:
    """Start mosquitto, Home Assistant, MQTT and the bridges; stop them after."""
    with tempfile.TemporaryDirectory() as workdir:
        # MQTT reads the (empty) YAML configuration when it sets up.
        (Path(workdir) / "configuration.yaml").write_text("")
        broker = Broker(Path(workdir), nodelay=setting == "nodelay")
        broker.start()
        try:
            async with async_test_home_assistant(config_dir=workdir) as hass:
                # HA's test instance hides custom integrations unless asked.
                hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)
                # As HA's start does: from 2026.11 on, HA reports through it
                # that a custom integration's setup returns a boolean.
                frame.async_setup(hass)
                await _async_connect(hass, broker)
                bench = Bench(
                    hass=hass,
                    broker=broker,
                    args=args,
                    setting=setting,
                    first=first,
                    sub=Subscriber(broker.port, asyncio.get_running_loop()),
                )
                bench.sub.start()
                try:
                    await _async_add_bridges(bench)
                    bench.rss_start = psutil.Process().memory_info().rss
                    yield bench
                finally:
                    bench.sub.stop()
                    # The bridges first: they say offline through MQTT.
                    for loaded in reversed(hass.config_entries.async_entries()):
                        await hass.config_entries.async_unload(loaded.entry_id)
                    await hass.async_stop(force=True)
        finally:
            broker.stop()


async def _async_connect(hass: HomeAssistant, broker: Broker) -> None:
    entry = MockConfigEntry(
        domain="mqtt",
        data={"broker": HOST, "port": broker.port},
        # No birth message: it would arrive mid-measurement.
        options={"birth_message": {}},
        version=1,
        minor_version=2,
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    async with asyncio.timeout(WAIT):
        while not mqtt.is_connected(hass):
            await asyncio.sleep(0.05)


async def _async_add_bridges(bench: Bench) -> None:
    """Add a bridge per QoS; with --before, the earlier revision's beside each."""
    args = bench.args
    domains = [DOMAIN] + ([args.before_domain] if args.before else [])
    for qos in args.qos:
        for domain in domains:
            prefix = f"{PREFIX}/q{qos}" if domain == DOMAIN else f"{PREFIX}/b/q{qos}"
            entry = MockConfigEntry(
                domain=domain,
                title=prefix,
                unique_id=prefix,
                data={"topic_prefix": prefix, "qos": qos, "ttl": TTL},
                # The outbox holds the whole outbox measurement.
                options={
                    "discovery": args.discovery == "on",
                    "event_types": ["bench"],
                    "outbox_size": args.outbox,
                },
            )
            entry.add_to_hass(bench.hass)
            assert await bench.hass.config_entries.async_setup(entry.entry_id)
            if args.discovery == "on":
                # HA's discovered event entity listens to the bench's events:
                # the echo every user with discovery on gets.
                topic = f"{prefix}/events/bench"
                await async_wait_subscribed(bench.hass, topic, DISCOVERY_QOS)
            if domain == DOMAIN:
                bench.bridges[qos] = entry
            else:
                bench.before[qos] = entry.entry_id
