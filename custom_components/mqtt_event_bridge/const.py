"""Constants shared by every module of MQTT Event Bridge."""

from typing import Final

DOMAIN: Final = "mqtt_event_bridge"

CONF_TOPIC_PREFIX: Final = "topic_prefix"
CONF_QOS: Final = "qos"
CONF_TTL: Final = "ttl"
CONF_CONFIG_ENTRY_ID: Final = "config_entry_id"
CONF_OUTBOX_SIZE: Final = "outbox_size"
CONF_DISCOVERY: Final = "discovery"
CONF_EVENT_TYPES: Final = "event_types"
CONF_BASE_URL: Final = "base_url"
CONF_THUMBNAIL_LIFETIME: Final = "thumbnail_lifetime"
CONF_FORWARD_EVENT_TYPES: Final = "forward_event_types"
CONF_FORWARD_ENTITIES: Final = "forward_entities"
CONF_FORWARD_RATE: Final = "forward_rate"
CONF_FORWARD_DISCOVERY: Final = "forward_discovery"
CONF_TCP_NODELAY: Final = "tcp_nodelay"

DEFAULT_TOPIC_PREFIX: Final = "ha-ai"
DEFAULT_QOS: Final = 1
DEFAULT_TTL: Final = 30
DEFAULT_OUTBOX_SIZE: Final = 1_000
DEFAULT_DISCOVERY: Final = True
# Nagle's algorithm off on HA's MQTT socket (see mqtt_client.py).
DEFAULT_TCP_NODELAY: Final = True
# Long enough to open a notification a while after it arrived.
DEFAULT_THUMBNAIL_LIFETIME: Final = 3_600
# Offered in the automation editor from the start, before their first publish.
DEFAULT_EVENT_TYPES: Final = ("suggestion/generated", "status/analysis_complete")

# Forwarding of Home Assistant's own events: none until the user picks some.
DEFAULT_FORWARD_RATE: Final = 100
DEFAULT_FORWARD_DISCOVERY: Final = False

QOS_LEVELS: Final = (0, 1, 2)
MIN_TTL: Final = 1
MAX_TTL: Final = 86_400
MIN_OUTBOX_SIZE: Final = 1
MAX_OUTBOX_SIZE: Final = 100_000
# Payload bytes the outbox holds at most, whatever its size in events: the
# oldest waiting event gives way when either bound is reached. It also bounds
# the saved outbox (payloads are saved as JSON text).
MAX_OUTBOX_BYTES: Final = 8 * 1024 * 1024
# Events of one forwarded type per second, in the long run and in a burst.
MIN_FORWARD_RATE: Final = 1
MAX_FORWARD_RATE: Final = 10_000
MIN_THUMBNAIL_LIFETIME: Final = 60
MAX_THUMBNAIL_LIFETIME: Final = 7 * 86_400

# Long enough for any sensible prefix, short enough that every topic we build
# stays readable and far below MQTT's 65,535-byte topic limit.
MAX_PREFIX_LENGTH: Final = 100
# Each event type or status name is appended to the prefix as topic levels.
MAX_NAME_LENGTH: Final = 200
# Encoded JSON payload of one event. Brokers accept far more, but an event is
# a notification, not a file transfer; a bounded size keeps the outbox bounded.
MAX_PAYLOAD_BYTES: Final = 65_536

SERVICE_PUBLISH_EVENT: Final = "publish_event"
SERVICE_PUBLISH_STATUS: Final = "publish_status"
SERVICE_PUBLISH_CAMERA_EVENT: Final = "publish_camera_event"

ATTR_EVENT_TYPE: Final = "event_type"
ATTR_NAME: Final = "name"
ATTR_DATA: Final = "data"
ATTR_QOS: Final = "qos"
ATTR_TTL: Final = "ttl"
ATTR_EVENT_ID: Final = "event_id"
ATTR_TOPIC: Final = "topic"
ATTR_CAMERA_ID: Final = "camera_id"
ATTR_CAMERA_NAME: Final = "camera_name"
ATTR_THUMBNAIL_URL: Final = "thumbnail_url"
ATTR_RESPONSE_TIMEOUT: Final = "response_timeout"
ATTR_RESPONSE: Final = "response"
ATTR_OUTCOME: Final = "outcome"
# Seconds a call may wait for the response to its event, counted from its publish.
MIN_RESPONSE_TIMEOUT: Final = 1
MAX_RESPONSE_TIMEOUT: Final = 300
# Calls of one bridge waiting for responses at once; a call beyond is refused
# before anything is published. Each wait holds two futures and, once
# answered, the response (at most MAX_RESPONSE_BYTES).
MAX_OPEN_WAITS: Final = 1_000

# What HA's JSON encoder (orjson) can write: 64-bit integers, signed or not.
JSON_INT_MIN: Final = -(2**63)
JSON_INT_MAX: Final = 2**64 - 1

# Responses arrive from anyone on the broker: a bounded size (topic and
# payload together) keeps a flood of large messages from costing memory, and
# keeps event attributes small.
MAX_RESPONSE_BYTES: Final = 8_192
# Objects and lists nested deeper than this are refused: attributes stay
# readable, and far below what HA's JSON encoder can write (254 levels).
MAX_RESPONSE_DEPTH: Final = 16
# The response event entity fires for bursts of up to this many responses,
# and for this many per second in the long run; responses beyond that are
# still received and counted, but fire no state change (recorder rows are
# not for an anonymous publisher to fill).
RESPONSE_EVENT_BURST: Final = 20
RESPONSE_EVENT_RATE: Final = 1.0
# Statuses that count as success; any other status is a failed response.
SUCCESS_STATUSES: Final = frozenset({"success", "succeeded", "ok", "completed", "done"})
# How many accepted responses the diagnostics download shows.
RECENT_RESPONSES: Final = 10
# Events whose round trip can still be measured, newest kept.
MAX_TRACKED_EVENTS: Final = 1_000
# At most one log line per this many seconds about the same kind of problem
# (rejected responses, failed snapshots, refused event types, ...).
LOG_INTERVAL: Final = 60.0

# Events handed to HA's MQTT client and not yet acknowledged, at most. More in
# flight gains nothing (paho itself sends 20 at a time); fewer would stall on
# each acknowledgement. Events beyond it wait in the outbox, where their TTL
# still applies and the bound still holds.
MAX_IN_FLIGHT: Final = 64
# Seconds an unload waits for the events in flight to end; HA's MQTT client
# gives up on an acknowledgement after 10 s.
DRAIN_TIMEOUT: Final = 11.0
# Entities follow the publisher and the response listener, and the saved outbox
# follows the publisher, at most this often.
PUBLISHER_UPDATE_INTERVAL: Final = 1.0
# How often events waiting for the broker are checked for expiry.
EXPIRY_CHECK_INTERVAL: Final = 1.0
OUTBOX_STORAGE_VERSION: Final = 1

# Event types beginning with this are status notices (`<prefix>/status/<name>`).
STATUS_TYPE_PREFIX: Final = "status/"
# Forwarded HA events: envelope type `ha/<event type>`, topic
# `<prefix>/events/ha/<event type>`. Callers may not publish types under it.
FORWARD_TYPE_PREFIX: Final = "ha/"
# Forwarded event data is cut at this depth (deeper objects and lists become
# null), far below what HA's JSON encoder can write (254 levels).
MAX_FORWARD_DEPTH: Final = 32
# Contexts of the bridge entities' recent state changes, newest kept: what
# they cause (an automation they trigger, its service calls) is not forwarded.
MAX_CAUSED_CONTEXTS: Final = 10_000
# Objects the JSON encoder does not know are forwarded as their text, cut here.
MAX_FORWARD_TEXT: Final = 1_024
# The envelope's event_type of camera events.
CAMERA_EVENT_TYPE: Final = "camera/detection"
# Event types remembered for discovery; beyond this, new ones are not added.
MAX_EVENT_TYPES: Final = 200
# HA's birth message makes the bridge publish its discovery configs again.
# Anyone can publish it: repeats within this many seconds make one more
# publish at the end of it, not one each.
DISCOVERY_REPUBLISH_COOLDOWN: Final = 10.0
# The QoS at which discovered event entities and triggers subscribe. They
# listen to what this HA itself publishes, so HA gets each event back (the
# echo). At QoS 1, HA acknowledges each echo at once (its socket has Nagle
# off, see mqtt_client.py), and that carries the TCP ACK for the echo. At QoS 0,
# a broker with Nagle on (mosquitto's default) sent the PUBACK for HA's own
# QoS 1 publishes about 40 ms late (measured: every QoS 1 event of the
# bridge, and HA's own mqtt.publish to these topics); most likely because
# HA does not answer a QoS 0 echo, so its ACK comes late and the PUBACK
# waits for it.
DISCOVERY_QOS: Final = 1
# Events of a type offered for the first time wait until HA's new event
# entity has subscribed to their topic, at most this long (seconds); where HA
# cannot tell when a subscription is done, they wait the fixed time. Never
# more than half the first event's TTL.
FIRST_EVENT_WAIT: Final = 5.0
FIRST_EVENT_FIXED_WAIT: Final = 1.5
DISCOVERY_STORAGE_VERSION: Final = 1

# Camera snapshots kept for their thumbnail links, per bridge: the oldest goes
# first when either bound is reached. A snapshot larger than the byte bound is
# not kept at all (its event carries no link).
MAX_THUMBNAILS: Final = 100
MAX_THUMBNAIL_BYTES: Final = 20 * 1024 * 1024
# The longest a camera event waits for its snapshot before it is published
# without one; never longer than the event's own time to live.
SNAPSHOT_TIMEOUT: Final = 5.0
# Snapshot content types served behind thumbnail links; anything else (HTML,
# SVG with its scripts, ...) is never served on HA's origin.
IMAGE_CONTENT_TYPES: Final = frozenset(
    {"image/jpeg", "image/png", "image/gif", "image/webp", "image/avif"}
)
# Names cameras use for those types, served under the standard name. HA's own
# demo camera reports image/jpg; image/pjpeg and image/x-png are older aliases.
IMAGE_CONTENT_TYPE_ALIASES: Final = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-png": "image/png",
}
