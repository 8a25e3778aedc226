"""Camera snapshots behind signed, expiring links.

A camera event names its snapshot by a link that anyone holding it can open,
without an HA token, until it expires. Each bridge signs its links itself
(HMAC-SHA256 over the path and the expiry, with a random key that lives as
long as the loaded bridge and its snapshots), so that the view can tell an
expired link from a forged one: an old link opened from a phone notification
is answered 410 Gone, anything else unsigned 404, and neither reaches HA's
failed-login accounting (a notification, and with IP banning on, a ban of the
user's own phone). A logged-in user needs no signature. The view serves only
the snapshots this bridge took, never a live camera.
"""

import base64
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
import hashlib
import hmac
import re
import secrets
import time

from aiohttp import hdrs, web
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.http import KEY_AUTHENTICATED, KEY_HASS, HomeAssistantView
from homeassistant.helpers.network import NoURLAvailableError, get_url
from homeassistant.util import dt as dt_util

from .const import DOMAIN

THUMBNAIL_PATH = f"/api/{DOMAIN}/thumbnail"
EXPIRES_PARAM = "expires"
SIGNATURE_PARAM = "sig"
# A Unix time as sign() writes it. Anything longer is refused before int()
# reads it: past 4,300 digits int() raises, which would answer 500.
_EXPIRES = re.compile(r"[0-9]{1,20}")


class LinkCheck(Enum):
    """What a link's query says about it."""

    VALID = "valid"
    EXPIRED = "expired"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class LinkSigner:
    """Signs and checks one bridge's links; a new key for each load."""

    key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    def _signature(self, path: str, expires: int) -> str:
        digest = hmac.new(
            self.key, f"{path}\n{expires}".encode(), hashlib.sha256
        ).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def sign(self, path: str, lifetime: int) -> str:
        """Give the path with the query that opens it for `lifetime` seconds."""
        expires = int(dt_util.utcnow().timestamp()) + lifetime
        signature = self._signature(path, expires)
        return f"{path}?{EXPIRES_PARAM}={expires}&{SIGNATURE_PARAM}={signature}"

    def check(self, path: str, query: Mapping[str, str]) -> LinkCheck:
        """Whether the query signs this path, and whether it still holds.

        Other query parameters (a messenger's tracking tags) are ignored: the
        signature covers everything that decides what is served.
        """
        given, expires = query.get(SIGNATURE_PARAM), query.get(EXPIRES_PARAM)
        if given is None or expires is None or _EXPIRES.fullmatch(expires) is None:
            return LinkCheck.INVALID
        expected = self._signature(path, int(expires))
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return LinkCheck.INVALID
        if int(expires) <= dt_util.utcnow().timestamp():
            return LinkCheck.EXPIRED
        return LinkCheck.VALID


@dataclass(frozen=True, kw_only=True, slots=True)
class Thumbnail:
    """One snapshot, kept until its link expires or newer ones push it out."""

    content: bytes
    content_type: str
    expires: float  # time.monotonic()


class ThumbnailCache:
    """Snapshots by event id, bounded in count and in bytes; the oldest go first."""

    def __init__(self, *, max_count: int, max_bytes: int) -> None:
        """Start empty."""
        self._max_count = max_count
        self._max_bytes = max_bytes
        self._items: OrderedDict[str, Thumbnail] = OrderedDict()
        self.total_bytes = 0
        self.signer = LinkSigner()

    def __len__(self) -> int:
        """How many snapshots are kept."""
        return len(self._items)

    def add(self, key: str, thumbnail: Thumbnail) -> bool:
        """Keep a snapshot; False when it alone is larger than the byte bound."""
        size = len(thumbnail.content)
        if size > self._max_bytes:
            return False
        self._drop_expired()
        while self._items and (
            len(self._items) >= self._max_count
            or self.total_bytes + size > self._max_bytes
        ):
            self._pop_oldest()
        self._items[key] = thumbnail
        self.total_bytes += size
        return True

    def get(self, key: str) -> Thumbnail | None:
        """Return an event's snapshot, unless it expired or was pushed out."""
        self._drop_expired()
        return self._items.get(key)

    def _drop_expired(self) -> None:
        # One lifetime per bridge: insertion order is expiry order.
        now = time.monotonic()
        while self._items and next(iter(self._items.values())).expires <= now:
            self._pop_oldest()

    def _pop_oldest(self) -> None:
        _, dropped = self._items.popitem(last=False)
        self.total_bytes -= len(dropped.content)


def thumbnail_path(entry_id: str, event_id: str) -> str:
    """Path of an event's snapshot, before signing."""
    return f"{THUMBNAIL_PATH}/{entry_id}/{event_id}"


@callback
def async_thumbnail_url(
    hass: HomeAssistant,
    signer: LinkSigner,
    *,
    base_url: str | None,
    entry_id: str,
    event_id: str,
    lifetime: int,
) -> str:
    """Link to an event's snapshot, working without a token until it expires.

    Without a configured base URL, HA's own URL is used (internal first, as the
    URL helper orders them); when HA knows no URL at all, the link is the
    signed path alone, which HA's companion apps resolve themselves.
    """
    path = signer.sign(thumbnail_path(entry_id, event_id), lifetime)
    if base_url is None:
        try:
            base_url = get_url(hass)
        except NoURLAvailableError:
            base_url = ""
    return base_url.rstrip("/") + path


class ThumbnailView(HomeAssistantView):
    """Serve a kept snapshot to a signed link (or to a logged-in user)."""

    url = THUMBNAIL_PATH + "/{entry_id}/{event_id}"
    name = f"api:{DOMAIN}:thumbnail"
    # The view checks its own signatures (or HA's login) below: a refused link
    # is not a failed login, so HA must not answer it 401 for us.
    requires_auth = False

    async def get(
        self, request: web.Request, entry_id: str, event_id: str
    ) -> web.Response:
        """Answer with the snapshot's bytes; 410 for an expired link, else 404."""
        hass = request.app[KEY_HASS]
        entry = hass.config_entries.async_get_entry(entry_id)
        if (
            entry is None
            or entry.domain != DOMAIN
            or entry.state is not ConfigEntryState.LOADED
        ):
            raise web.HTTPNotFound
        thumbnails: ThumbnailCache = entry.runtime_data.cameras.thumbnails
        if not request.get(KEY_AUTHENTICATED, False):
            check = thumbnails.signer.check(request.path, request.query)
            if check is LinkCheck.EXPIRED:
                raise web.HTTPGone
            if check is LinkCheck.INVALID:
                raise web.HTTPNotFound
        thumbnail = thumbnails.get(event_id)
        if thumbnail is None:
            raise web.HTTPNotFound
        max_age = max(0, int(thumbnail.expires - time.monotonic()))
        return web.Response(
            body=thumbnail.content,
            # Only image types are ever kept (see camera_event).
            content_type=thumbnail.content_type,
            headers={
                hdrs.CACHE_CONTROL: f"private, max-age={max_age}",
                # The browser takes the image for what it is said to be, and
                # nothing in it may load or run anything.
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'",
            },
        )
