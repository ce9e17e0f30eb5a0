"""Records and entities held by the fake Discord: users, guilds, messages, interactions."""

from __future__ import annotations

import asyncio
import copy
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

Payload = dict[str, Any]
T = TypeVar("T")

DISCORD_EPOCH_MS = 1420070400000
EPHEMERAL_FLAG = 1 << 6
LOADING_FLAG = 1 << 7


class SnowflakeFactory:
    """Hands out increasing snowflakes whose timestamp part is the current time."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        """Return a fresh snowflake, strictly greater than every earlier one."""
        candidate = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        if candidate <= self._last:
            candidate = self._last + 1
        self._last = candidate
        return candidate

    def for_shard(self, shard_id: int, shard_count: int) -> int:
        """Return a fresh snowflake that Discord would route to `shard_id` of `shard_count`.

        Args:
            shard_id: Wanted shard, `(id >> 22) % shard_count`.
            shard_count: Total number of shards.

        Returns:
            A snowflake greater than every earlier one.
        """
        millis = max(int(time.time() * 1000) - DISCORD_EPOCH_MS, (self._last >> 22) + 1)
        millis += (shard_id - millis) % shard_count
        self._last = millis << 22
        return self._last


def shard_of(guild_id: int, shard_count: int) -> int:
    """Shard that receives events of `guild_id` (Discord's sharding formula)."""
    return (guild_id >> 22) % shard_count


def iso_now() -> str:
    """Current UTC time as an ISO-8601 string like Discord sends."""
    return datetime.now(UTC).isoformat()


class ChangeSignal:
    """Wakes every waiter whenever the fake's recorded state changes."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake all current waiters."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait_for(self, check: Callable[[], T | None], timeout: float, what: str) -> T:  # noqa: ASYNC109
        """Re-run `check` after each change until it returns something other than None.

        Args:
            check: Returns the awaited value, or None while it is not there yet.
            timeout: Seconds to wait in total.
            what: Description used in the timeout error.

        Returns:
            The first non-None result of `check`.

        Raises:
            TimeoutError: `check` still returned None after `timeout` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = check()
            if result is not None:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
            event = self._event
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                continue


@dataclass
class FakeUser:
    """A Discord user known to the fake."""

    id: int
    name: str
    bot: bool = False

    @property
    def mention(self) -> str:
        """Mention markup for this user."""
        return f"<@{self.id}>"

    def payload(self) -> Payload:
        """User object as Discord sends it."""
        return {
            "id": str(self.id),
            "username": self.name,
            "discriminator": "0",
            "global_name": self.name,
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
            "flags": 0,
        }


@dataclass
class FakeRole:
    """A guild role."""

    id: int
    name: str
    permissions: int = 0
    position: int = 0
    mentionable: bool = False
    bot_id: int | None = None

    @property
    def mention(self) -> str:
        """Mention markup for this role."""
        return f"<@&{self.id}>"

    def payload(self) -> Payload:
        """Role object as Discord sends it."""
        data: Payload = {
            "id": str(self.id),
            "name": self.name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.bot_id is not None,
            "mentionable": self.mentionable,
            "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data


@dataclass
class FakeGuild:
    """A guild with its roles, channel ids and members (user id -> role ids)."""

    id: int
    name: str
    owner_id: int
    roles: dict[int, FakeRole] = field(default_factory=dict)
    channel_ids: list[int] = field(default_factory=list)
    members: dict[int, list[int]] = field(default_factory=dict)
    joined_at: str = field(default_factory=iso_now)

    def role_named(self, name: str) -> FakeRole | None:
        """The first role called `name` (case-insensitive), if any."""
        return next((r for r in self.roles.values() if r.name.lower() == name.lower()), None)


@dataclass
class StoredMessage:
    """A message as currently stored, with the payloads it had before each edit."""

    payload: Payload
    history: list[Payload] = field(default_factory=list)
    deleted: bool = False
    interaction_id: int | None = None

    @property
    def id(self) -> int:
        """Message id."""
        return int(self.payload["id"])

    @property
    def channel_id(self) -> int:
        """Channel the message is in."""
        return int(self.payload["channel_id"])

    @property
    def author_id(self) -> int:
        """Author's user id."""
        return int(self.payload["author"]["id"])

    @property
    def content(self) -> str:
        """Current text content."""
        return str(self.payload.get("content", ""))

    @property
    def embeds(self) -> list[Payload]:
        """Current embeds."""
        return list(self.payload.get("embeds", []))

    @property
    def components(self) -> list[Payload]:
        """Current component rows."""
        return list(self.payload.get("components", []))

    @property
    def flags(self) -> int:
        """Message flags."""
        return int(self.payload.get("flags", 0))

    @property
    def ephemeral(self) -> bool:
        """Whether only the interaction user can see it."""
        return bool(self.flags & EPHEMERAL_FLAG)

    @property
    def edited(self) -> bool:
        """Whether the message was edited after it was created."""
        return bool(self.history)

    def custom_ids(self) -> list[str]:
        """Every component custom_id on the message, depth first."""
        found: list[str] = []

        def walk(items: list[Payload]) -> None:
            for item in items:
                if "custom_id" in item:
                    found.append(str(item["custom_id"]))
                walk(item.get("components", []))
                if isinstance(item.get("component"), dict):
                    walk([item["component"]])
                if isinstance(item.get("accessory"), dict):
                    walk([item["accessory"]])

        walk(self.components)
        return found

    def component_id(self, key: str) -> str:
        """The custom_id that is `key`, or `key` plus `:`-separated state (a revision).

        Raises:
            KeyError: No component on the message has such an id.
        """
        for custom_id in self.custom_ids():
            if custom_id == key or custom_id.startswith(f"{key}:"):
                return custom_id
        raise KeyError(f"message {self.id} has no component {key!r}")

    def has_component(self, key: str) -> bool:
        """Whether the message shows a component whose id is `key` (with or without state)."""
        try:
            self.component_id(key)
        except KeyError:
            return False
        return True

    def snapshot(self) -> Payload:
        """Deep copy of the current payload."""
        return copy.deepcopy(self.payload)


@dataclass
class RecordedRequest:
    """One REST call the client made."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    status: int = 0
    files: list[str] = field(default_factory=list)


@dataclass
class MentionCheck:
    """What a message the bot sent could have pinged, given its allowed_mentions."""

    method: str
    path: str
    content: str
    allowed_mentions: Payload | None
    pings: list[str]

    @property
    def pinged(self) -> bool:
        """Whether anyone would have been notified."""
        return bool(self.pings)


@dataclass
class FailureRule:
    """Makes matching REST calls fail: a scripted 429 storm or an error status."""

    method: str
    pattern: re.Pattern[str]
    status: int
    remaining: int
    retry_after: float = 0.05
    is_global: bool = False
    body: Payload | None = None
    hits: int = 0
    after_effect: bool = False
    """The call takes effect first, then its answer is the failure (a reply lost on the way)."""

    def matches(self, method: str, path: str) -> bool:
        """Whether this rule still applies to `method path`."""
        if self.remaining <= 0:
            return False
        return self.method in ("*", method) and self.pattern.search(path) is not None
