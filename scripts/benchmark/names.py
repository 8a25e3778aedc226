"""The senders' names: the scenarios label their rows, the report finds them."""

BRIDGE = "bridge"
# The earlier revision's bridge (--before), taking turns with BRIDGE.
BEFORE = "bridge before"
ACTION = "mqtt.publish action"
RAW = "raw async_publish"
RAW_CONCURRENT = "raw async_publish (concurrent)"
# MQTT 5: HA's action given the bridge's expiry, and the bridge beside it.
SAME_EXPIRY = "mqtt.publish action + expiry"
PAIR_BRIDGE = "bridge (expiry pair)"
STREAM_NAME = "mqtt_eventstream (qos 0)"
