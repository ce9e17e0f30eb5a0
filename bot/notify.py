"""Routes the graph's item events, and finished GitHub syncs, to whoever shows them."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from agents.triage.ports import ItemEvent, ItemNotifier

if TYPE_CHECKING:
    from bot.sync import SyncStats

log = logging.getLogger(__name__)


class NotifierHub:
    """An `ItemNotifier` that forwards to the registered targets; logs when there are none."""

    def __init__(self) -> None:
        self._targets: list[ItemNotifier] = []

    def register(self, target: ItemNotifier) -> None:
        """Send events to `target` from now on."""
        self._targets.append(target)

    def unregister(self, target: ItemNotifier) -> None:
        """Stop sending events to `target`."""
        if target in self._targets:
            self._targets.remove(target)

    async def item_changed(self, item_id: int, event: ItemEvent) -> None:
        """Forward to every target; a failure propagates so the graph step is retried later."""
        if not self._targets:
            log.info("item %s is now %s", item_id, event)
            return
        for target in list(self._targets):
            await target.item_changed(item_id, event)


SyncListener = Callable[["SyncStats"], Awaitable[None]]


class SyncListeners:
    """Who hears about each finished GitHub sync run (e.g. to tell reporters of changes)."""

    def __init__(self) -> None:
        self._listeners: list[SyncListener] = []

    def register(self, listener: SyncListener) -> None:
        """Call `listener(stats)` after every sync run from now on."""
        self._listeners.append(listener)

    def unregister(self, listener: SyncListener) -> None:
        """Stop calling `listener`."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    async def synced(self, stats: SyncStats) -> None:
        """Hand a run's stats to every listener; one failing does not stop the others."""
        for listener in list(self._listeners):
            try:
                await listener(stats)
            except Exception:
                log.warning("a sync listener failed for %s", stats.repo, exc_info=True)


def sync_listeners(extras: dict[str, Any]) -> SyncListeners:
    """The process's `SyncListeners`, kept in `Services.extras` (created on first use)."""
    listeners = extras.get("sync_listeners")
    if not isinstance(listeners, SyncListeners):
        listeners = SyncListeners()
        extras["sync_listeners"] = listeners
    return listeners
