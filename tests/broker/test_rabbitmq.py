"""A subset of the real-broker tests against RabbitMQ's MQTT plugin.

RabbitMQ is the broker people cluster when they outgrow one box. It speaks
MQTT 3.1.1 only, delivers QoS 2 as QoS 1, and maps "." in topics to "/" (a
prefix with a dot is refused for that). Marked `rabbitmq`: scripts/test runs
them on the primary leg (HA 2025.4, MQTT 3.1.1), where the node, about 20 s to
start, is worth it.
"""

import asyncio
from collections.abc import Generator
from pathlib import Path

from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from tests.broker.brokers import WAIT, RabbitMQ, free_port
from tests.broker.conftest import async_wait_subscribed
from tests.broker.test_discovery import (  # noqa: F401 - collected here as well
    test_discovered_entities_triggers_and_cleanup,
)
from tests.broker.test_publish import (  # noqa: F401 - collected here as well
    test_status_and_order_on_the_wire,
)
from tests.broker.test_responses import (  # noqa: F401 - collected here as well
    test_responses_from_the_broker,
)
from tests.broker.test_waits import (  # noqa: F401 - collected here as well
    responder,
    test_each_question_gets_its_answer,
)

pytestmark = pytest.mark.rabbitmq


@pytest.fixture
def mosquitto(socket_enabled: None, tmp_path: Path) -> Generator[RabbitMQ]:
    """Here the tests' broker is a RabbitMQ node of their own."""
    broker = RabbitMQ(free_port(), tmp_path)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


# Where HA's MQTT discovery listens for the bridge's device-based configs.
DEVICE_CONFIGS = "homeassistant/device/+/config"


@pytest.fixture
async def mqtt_entry(
    hass: HomeAssistant, mqtt_entry: MockConfigEntry
) -> MockConfigEntry:
    """HA's MQTT integration on RabbitMQ, once its discovery listens.

    RabbitMQ does not replay retained messages to a wildcard subscription: a
    config published before HA listens reaches HA only when the bridge
    publishes it again on HA's birth message (on as HA ships it; off in these
    tests, where it would come mid-test). So the bridge starts once HA's
    subscription is there and acknowledged.
    """
    client = hass.data[mqtt.DATA_MQTT].client
    async with asyncio.timeout(WAIT):
        while not any(
            sub.topic == DEVICE_CONFIGS for sub in client._wildcard_subscriptions
        ):
            await asyncio.sleep(0.05)
    await async_wait_subscribed(hass, DEVICE_CONFIGS, 0)
    return mqtt_entry
