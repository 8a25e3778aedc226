"""Show the bridge working: publish sample events through HA, watch the broker.

Run by scripts/demo while scripts/develop is running. It calls the bridge's
actions through Home Assistant's REST API (as an automation would), sends two
responses the way an automation's feedback would arrive, and prints what an
independent MQTT client received on the broker and which of the bridge's
entities changed in Home Assistant. The thumbnail link of the camera event is
fetched without a token, as a phone would.
"""

import asyncio
from datetime import UTC, datetime
import json
import sys
import time
from typing import Any

import aiohttp
from paho.mqtt.client import Client, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion

# The login, the address and the checkout: those of scripts/develop, beside this.
from develop import HA_URL, saved_tokens

PREFIX = "ha-ai"


def _short(payload: bytes, limit: int = 110) -> str:
    text = payload.decode(errors="replace")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def watch_broker(received: list[MQTTMessage]) -> Client:
    """Subscribe a client of our own to everything under the prefix."""
    client = Client(CallbackAPIVersion.VERSION2, client_id="mqtt-event-bridge-demo")
    client.on_message = lambda _c, _u, message: received.append(message)
    client.connect("127.0.0.1", 1883)
    client.subscribe(f"{PREFIX}/#", qos=1)
    client.loop_start()
    return client


async def _states(session: aiohttp.ClientSession, url: str) -> dict[str, str]:
    async with session.get(f"{url}/api/states") as answer:
        answer.raise_for_status()
        return {
            state["entity_id"]: state["state"]
            for state in await answer.json()
            if "mqtt_event_bridge" in state["entity_id"]
        }


async def _action(
    session: aiohttp.ClientSession, url: str, action: str, data: dict[str, Any]
) -> dict[str, Any]:
    domain, service = action.split(".")
    query = "?return_response" if domain == "mqtt_event_bridge" else ""
    async with session.post(
        f"{url}/api/services/{domain}/{service}{query}", json=data
    ) as answer:
        if answer.status >= 400:  # noqa: PLR2004
            sys.exit(f"{action} failed: {answer.status} {await answer.text()}")
        result: dict[str, Any] = await answer.json()
    response = result.get("service_response", {}) if query else {}
    print(f"  {action:<40} -> {response.get('topic', data.get('topic', ''))}")
    return response


async def demo() -> None:
    """Publish, respond, and report."""
    url = HA_URL
    async with aiohttp.ClientSession() as session:
        token = (await saved_tokens(session))["access_token"]
        session.headers["Authorization"] = f"Bearer {token}"

        received: list[MQTTMessage] = []
        client = watch_broker(received)
        await asyncio.sleep(0.5)
        before = await _states(session, url)

        print("Calling the bridge's actions through Home Assistant:")
        first = await _action(
            session,
            url,
            "mqtt_event_bridge.publish_event",
            {
                "event_type": "suggestion/generated",
                "data": {"suggestion": "Turn off the hallway light at 23:00"},
            },
        )
        await _action(
            session,
            url,
            "mqtt_event_bridge.publish_event",
            {"event_type": "pattern/alert", "data": {"pattern": "door left open"}},
        )
        await _action(
            session,
            url,
            "mqtt_event_bridge.publish_status",
            {"name": "analysis_complete", "data": {"analysed_entities": 42}},
        )
        await _action(
            session,
            url,
            "mqtt_event_bridge.publish_camera_event",
            {
                "entity_id": "camera.front_door",
                "description": "Person approaching the front door with a package",
                "objects_detected": ["person", "package"],
                "confidence": 91,
                "source_type": "ai_analysis",
            },
        )
        print("Sending two responses, as automations report back:")
        for status, automation in (("success", "hallway_light"), ("error", "porch")):
            await _action(
                session,
                url,
                "mqtt.publish",
                {
                    "topic": f"{PREFIX}/responses/automation/{automation}",
                    "payload": json.dumps(
                        {
                            "automation_id": automation,
                            "status": status,
                            "event_id": first["event_id"],
                            "timestamp": datetime.now(UTC).isoformat(),
                            "message": "bulb gone" if status == "error" else "done",
                        }
                    ),
                },
            )
        # Entities follow the publisher at most once a second; the snapshot
        # of the camera event takes a moment too.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(  # noqa: ASYNC110 - paho's thread fills the list
            "/camera/" in m.topic for m in received
        ):
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.5)
        after = await _states(session, url)
        client.loop_stop()
        client.disconnect()

        print(f"\nArrived at an independent MQTT client ({len(received)} messages):")
        thumbnail = None
        for message in received:
            flag = " (retained)" if message.retain else ""
            print(f"  {message.topic}{flag}: {_short(message.payload)}")
            if "/camera/" in message.topic:
                thumbnail = json.loads(message.payload).get("thumbnail_url")
        if thumbnail:
            # No token, as a phone opening the link.
            async with (
                aiohttp.ClientSession() as anonymous,
                anonymous.get(thumbnail) as answer,
            ):
                body = await answer.read()
                print(
                    "\nThe camera event's thumbnail link, opened without a token: "
                    f"HTTP {answer.status}, {answer.content_type}, {len(body)} bytes"
                )
        print("\nWhat changed in Home Assistant:")
        for entity_id, state in sorted(after.items()):
            if before.get(entity_id) != state:
                print(f"  {entity_id}: {before.get(entity_id)} -> {state}")


if __name__ == "__main__":
    asyncio.run(demo())
