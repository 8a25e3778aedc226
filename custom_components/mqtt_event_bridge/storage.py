"""Reading the bridge's Stores, which a user may have edited by hand."""

import logging
from typing import Any

from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.storage import Store

_LOGGER = logging.getLogger(__name__)


async def async_load_store(store: Store[Any]) -> Any:
    """Return what a Store holds, None when it holds nothing usable.

    HA itself sets aside a file that is not JSON. A file with a version HA
    cannot migrate, or without the keys HA expects, would otherwise stop the
    bridge for good: it counts as empty (and is overwritten by the next save).
    What the data inside holds is for the caller to check.
    """
    try:
        return await store.async_load()
    except (HomeAssistantError, NotImplementedError, KeyError, TypeError) as err:
        _LOGGER.warning("Could not read %s, starting without it: %r", store.key, err)
        return None
