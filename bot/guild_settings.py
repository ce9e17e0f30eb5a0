"""Effective per-guild settings: environment defaults overridden by what /config stored."""

from __future__ import annotations

import time
from typing import Any, Protocol

from pydantic import BaseModel, Field, ValidationError, field_validator

from agents.dedup.scoring import DEFAULT_DUPLICATE_THRESHOLD, DEFAULT_POSSIBLE_THRESHOLD
from agents.triage.state import Policy
from bot.settings import Settings
from storage.guild_config import GuildConfigRepository
from storage.models import FeedbackItem


class GuildSettings(BaseModel):
    """What maintainers can change at run time with /config."""

    feedback_channel_ids: list[int] = Field(default_factory=list)
    review_channel_id: int | None = None
    maintainer_role_ids: list[int] = Field(default_factory=list)
    repo: str | None = None
    duplicate_threshold: float = Field(DEFAULT_DUPLICATE_THRESHOLD, ge=0, le=1)
    possible_duplicate_threshold: float = Field(DEFAULT_POSSIBLE_THRESHOLD, ge=0, le=1)
    review_confidence: float = Field(0.55, ge=0, le=1)
    triage_emoji: str = "📝"
    approve_emoji: str = "✅"
    reject_emoji: str = "❌"
    ack_emoji: str = "👀"
    not_actionable_emoji: str = "💜"
    notify_reporter: bool = True
    comment_on_duplicates: bool = True
    ask_for_details: bool = True

    @field_validator("repo")
    @classmethod
    def _lower(cls, value: str | None) -> str | None:
        return value.lower() if value else value


#: Keys /config may set, with a one-line description for its help.
EDITABLE_KEYS: dict[str, str] = {
    "feedback_channel_ids": "channels whose messages become feedback (comma-separated ids)",
    "review_channel_id": "channel where review messages are posted",
    "maintainer_role_ids": "roles allowed to decide (comma-separated ids)",
    "repo": "owner/name of the repository issues are filed in (must be allowlisted)",
    "duplicate_threshold": "score from which a match is called a duplicate (0-1)",
    "possible_duplicate_threshold": "score from which a match is shown as related (0-1)",
    "review_confidence": "below this confidence an item is flagged 'needs review' (0-1)",
    "triage_emoji": "reaction a maintainer adds to send any message to triage",
    "approve_emoji": "reaction on a review message that approves",
    "reject_emoji": "reaction on a review message that rejects",
    "ack_emoji": "reaction the bot adds when it has received feedback",
    "not_actionable_emoji": "reaction the bot adds to praise and chatter",
    "notify_reporter": "tell reporters what happened to their feedback (true/false)",
    "comment_on_duplicates": "comment on the existing issue when marking a duplicate (true/false)",
    "ask_for_details": "ask reporters of thin bug reports for missing details first (true/false)",
}


#: Settings naming channels or roles: their values must belong to the guild that sets them.
CHANNEL_KEYS = frozenset({"feedback_channel_ids", "review_channel_id"})
ROLE_KEYS = frozenset({"maintainer_role_ids"})


class ConfigError(ValueError):
    """A /config value that cannot be used; the message is shown to the maintainer."""


class Ownership(Protocol):
    """Answers whether channels and roles belong to a guild (`bot.guilds.GuildDirectory`)."""

    async def channel_in_guild(self, guild_id: int, channel_id: int) -> bool:
        """Whether the channel or thread belongs to the guild."""
        ...

    async def role_in_guild(self, guild_id: int, role_id: int) -> bool:
        """Whether the role belongs to the guild."""
        ...


async def check_belongs(
    key: str, value: Any, *, guild_id: int, ownership: Ownership | None
) -> None:
    """Refuse channels and roles of other guilds, and the @everyone role as a maintainer role.

    Raises:
        ConfigError: The value names something outside the guild (or cannot be checked).
    """
    if key not in CHANNEL_KEYS | ROLE_KEYS or value is None:
        return
    ids = value if isinstance(value, list) else [value]
    if key in ROLE_KEYS and guild_id in ids:
        raise ConfigError("the @everyone role cannot be a maintainer role: everyone could decide.")
    if ownership is None:
        raise ConfigError(f"`{key}` can only be changed from Discord.")
    for snowflake in ids:
        if key in ROLE_KEYS and not await ownership.role_in_guild(guild_id, snowflake):
            raise ConfigError(f"`{snowflake}` is not a role of this server.")
        if key in CHANNEL_KEYS and not await ownership.channel_in_guild(guild_id, snowflake):
            raise ConfigError(f"`{snowflake}` is not a channel of this server.")


class GuildSettingsResolver:
    """Builds `GuildSettings` for a guild from the environment and the stored overrides.

    Every message and click needs these, so they are cached for `cache_seconds`; a change
    made through this resolver is seen at once, one made by another process within that time.
    """

    def __init__(
        self, settings: Settings, repository: GuildConfigRepository, *, cache_seconds: float = 30.0
    ) -> None:
        self.settings = settings
        self.repository = repository
        self.cache_seconds = cache_seconds
        self._cache: dict[int | None, tuple[float, GuildSettings]] = {}

    def defaults(self) -> dict[str, Any]:
        """The environment's values for every editable key."""
        d, t = self.settings.discord, self.settings.triage
        return {
            "feedback_channel_ids": d.feedback_channel_ids,
            "review_channel_id": d.review_channel_id,
            "maintainer_role_ids": d.maintainer_role_ids,
            "repo": self.settings.github.full_name,
            "duplicate_threshold": t.duplicate_threshold,
            "possible_duplicate_threshold": t.possible_duplicate_threshold,
            "review_confidence": t.review_confidence,
            "triage_emoji": d.triage_emoji,
            "approve_emoji": d.approve_emoji,
            "reject_emoji": d.reject_emoji,
            "ack_emoji": d.ack_emoji,
            "not_actionable_emoji": d.not_actionable_emoji,
            "comment_on_duplicates": self.settings.github.comment_on_duplicates,
            "ask_for_details": t.ask_for_details,
        }

    async def resolve(self, guild_id: int | None) -> GuildSettings:
        """Effective settings of the guild (defaults alone for DMs and the CLI)."""
        cached = self._cache.get(guild_id)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        stored = await self.repository.get(guild_id) if guild_id is not None else {}
        resolved = GuildSettings.model_validate({**self.defaults(), **stored})
        self._cache[guild_id] = (now + self.cache_seconds, resolved)
        return resolved

    async def policy_for(self, item: FeedbackItem) -> Policy:
        """The triage policy for an item, from its guild's settings."""
        guild = await self.resolve(item.guild_id)
        return Policy(
            repo=item.repo or guild.repo,
            duplicate_threshold=guild.duplicate_threshold,
            possible_duplicate_threshold=guild.possible_duplicate_threshold,
            review_confidence=guild.review_confidence,
            label_map=self.settings.github.label_map,
            comment_on_duplicates=guild.comment_on_duplicates,
            guild_id=item.guild_id,
            ask_for_details=guild.ask_for_details,
            duplicate_confirm=self.settings.triage.duplicate_confirm,
        )

    def forget(self, guild_id: int | None) -> None:
        """Drop the cached settings of a guild (read again on next use)."""
        self._cache.pop(guild_id, None)

    async def change(
        self,
        *,
        guild_id: int,
        key: str,
        raw: str,
        actor: str,
        ownership: Ownership | None = None,
    ) -> GuildSettings:
        """Validate and store one change; raises `ConfigError` with a readable reason.

        Channels and roles must belong to `guild_id` (checked through `ownership`), the
        @everyone role is never a maintainer role, and a repository must be in ALLOWED_REPOS.
        """
        if key not in EDITABLE_KEYS:
            raise ConfigError(f"Unknown setting `{key}`.")
        value = _parse(key, raw)
        if key == "repo" and value is not None:
            value = value.lower()
        if key == "repo" and value is not None and value not in self.settings.github.allowlist:
            allowed = ", ".join(self.settings.github.allowlist) or "none"
            raise ConfigError(f"`{value}` is not in ALLOWED_REPOS (allowed: {allowed}).")
        await check_belongs(key, value, guild_id=guild_id, ownership=ownership)
        current = await self.repository.get(guild_id)
        after = {**self.defaults(), **current}
        if value is not None:
            after[key] = value
        try:
            GuildSettings.model_validate(after)
        except ValidationError as exc:
            raise ConfigError(f"Invalid value for `{key}`: {exc.errors()[0]['msg']}.") from None
        await self.repository.update(guild_id=guild_id, changes={key: value}, actor=actor)
        self.forget(guild_id)
        return await self.resolve(guild_id)


def _parse(key: str, raw: str) -> Any:
    raw = raw.strip()
    if raw.lower() in ("", "default", "reset"):
        return None
    if key.endswith("_ids"):
        try:
            return [int(part.strip().strip("<#@&>")) for part in raw.split(",") if part.strip()]
        except ValueError:
            raise ConfigError(f"`{key}` takes comma-separated ids.") from None
    if key.endswith("_id"):
        try:
            return int(raw.strip("<#@&>"))
        except ValueError:
            raise ConfigError(f"`{key}` takes one id.") from None
    if key.endswith("threshold") or key == "review_confidence":
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"`{key}` takes a number between 0 and 1.") from None
    if key in ("notify_reporter", "comment_on_duplicates", "ask_for_details"):
        if raw.lower() in ("true", "yes", "on", "1"):
            return True
        if raw.lower() in ("false", "no", "off", "0"):
            return False
        raise ConfigError(f"`{key}` takes true or false.")
    return raw
