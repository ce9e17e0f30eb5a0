"""The lifecycle every loopback fake shares: `async with` starts it and stops it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Self


class LoopbackServer(ABC):
    """A fake that listens on 127.0.0.1 between `start()` and `stop()`."""

    @abstractmethod
    async def start(self) -> None:
        """Start listening."""

    @abstractmethod
    async def stop(self) -> None:
        """Stop listening; safe to call twice."""

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
