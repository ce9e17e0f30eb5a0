"""Which structured-output method works for each model, remembered across calls and restarts."""

from __future__ import annotations

from typing import Protocol


class MethodMemory(Protocol):
    """Where `auto` keeps the method that worked, per endpoint and model."""

    async def recall(self, *, endpoint: str, model: str) -> str | None:
        """The method that last worked for `model` at `endpoint`, if any."""
        ...

    async def remember(self, *, endpoint: str, model: str, method: str) -> None:
        """Record that `method` works for `model` at `endpoint`."""
        ...


class InMemoryMethods:
    """A `MethodMemory` for one process (the CLI, tests); the bot keeps it in the database."""

    def __init__(self) -> None:
        self._methods: dict[tuple[str, str], str] = {}

    async def recall(self, *, endpoint: str, model: str) -> str | None:
        """The remembered method, if any."""
        return self._methods.get((endpoint, model))

    async def remember(self, *, endpoint: str, model: str, method: str) -> None:
        """Remember `method` for this process's lifetime."""
        self._methods[(endpoint, model)] = method
