"""Camera snapshots behind signed, expiring links.

A camera event names its snapshot by a link that anyone holding it can open,
without an HA token, until it expires. The link is signed with HA's own
signed-path helper (as media and camera proxies are), so HA's HTTP layer checks
the signature and the expiry before the view below ever runs; a request
without a valid signature is answered 401 there. The view serves only the
snapshots this bridge took, never a live camera.
"""

from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
import time

from aiohttp import hdrs, web
from homeassistant.components.http.auth import async_sign_path
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.http import KEY_HASS, HomeAssistantView
from homeassistant.helpers.network import NoURLAvailableError, get_url

from .const import DOMAIN

THUMBNAIL_PATH = f"/api/{DOMAIN}/thumbnail"


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
    path = async_sign_path(
        hass,
        thumbnail_path(entry_id, event_id),
        timedelta(seconds=lifetime),
        use_content_user=True,
    )
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
    # Signed links authenticate as HA's read-only content user; anything else
    # needs a token. Either way HA checks it before `get` runs.
    requires_auth = True

    async def get(
        self, request: web.Request, entry_id: str, event_id: str
    ) -> web.Response:
        """Answer with the snapshot's bytes, or 404 once it is gone."""
        hass = request.app[KEY_HASS]
        entry = hass.config_entries.async_get_entry(entry_id)
        if (
            entry is None
            or entry.domain != DOMAIN
            or entry.state is not ConfigEntryState.LOADED
        ):
            raise web.HTTPNotFound
        thumbnail = entry.runtime_data.cameras.thumbnails.get(event_id)
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
