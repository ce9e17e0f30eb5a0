"""Maps that do not grow with the work done: per-key locks, and a least-recently-used cache."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass
class _Entry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class KeyedLocks(Generic[K]):
    """`async with locks(key):` serialises work per key; idle keys take no memory.

    An entry is made when the first holder or waiter arrives and dropped when the last
    one leaves (also when a waiter is cancelled), so the map never outgrows the work
    in progress.
    """

    def __init__(self) -> None:
        self._entries: dict[K, _Entry] = {}

    def __call__(self, key: K) -> _KeyedLock[K]:
        """The lock of `key`, as an async context manager."""
        return _KeyedLock(self, key)

    def __len__(self) -> int:
        """Keys held or waited for now."""
        return len(self._entries)

    def locked(self, key: K) -> bool:
        """Whether someone holds the lock of `key`."""
        entry = self._entries.get(key)
        return entry is not None and entry.lock.locked()

    def _join(self, key: K) -> _Entry:
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry()
        entry.users += 1
        return entry

    def _leave(self, key: K, entry: _Entry) -> None:
        entry.users -= 1
        if entry.users == 0 and self._entries.get(key) is entry:
            del self._entries[key]


class _KeyedLock(Generic[K]):
    """One acquisition of one key's lock."""

    def __init__(self, owner: KeyedLocks[K], key: K) -> None:
        self._owner = owner
        self._key = key
        self._entry: _Entry | None = None

    async def __aenter__(self) -> None:
        entry = self._owner._join(self._key)
        try:
            await entry.lock.acquire()
        except BaseException:
            self._owner._leave(self._key, entry)
            raise
        self._entry = entry

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        entry, self._entry = self._entry, None
        assert entry is not None, "released without being acquired"
        entry.lock.release()
        self._owner._leave(self._key, entry)


class BoundedCache(Generic[K, V]):
    """A mapping that keeps at most `size` entries, forgetting the least recently used."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The value of `key` (now the most recently used), or None."""
        if key not in self._entries:
            return None
        self._entries.move_to_end(key)
        return self._entries[key]

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, key: K, value: V) -> None:
        """Remember `value` for `key`, dropping the oldest entries beyond `size`."""
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
