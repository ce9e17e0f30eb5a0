"""Settings of forum-channel intake: what a post's tags mean, and the tags the bot applies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import NoDecode

from agents.engines.base import KINDS
from bot.settings_section import SettingsSection

DEFAULT_TAG_MAP = "bug=bug,feature=feature,question=question"


@dataclass(frozen=True, slots=True)
class TagMeaning:
    """What one forum tag on a post says: a kind hint and/or a GitHub label."""

    kind: str | None = None
    label: str | None = None


def parse_tag_map(value: object) -> dict[str, TagMeaning]:
    """Parse `tag=kind[:label],...` (tag names case-insensitive; kind may be empty).

    Example: `bug=bug:bug,feature=feature:enhancement,docs=:documentation`.

    Raises:
        ValueError: An entry has no `=`, or names a kind other than bug, feature, question.
    """
    if isinstance(value, dict):
        return value
    mapping: dict[str, TagMeaning] = {}
    for entry in str(value or "").split(","):
        if not entry.strip():
            continue
        tag, sep, meaning = entry.partition("=")
        if not sep or not tag.strip():
            raise ValueError(f"expected tag=kind[:label] entries, got {entry.strip()!r}")
        kind, _, label = meaning.partition(":")
        kind = kind.strip().casefold()
        if kind and kind not in KINDS:
            raise ValueError(
                f"unknown kind {kind!r} for tag {tag.strip()!r}; use {', '.join(KINDS)}"
            )
        mapping[tag.strip().casefold()] = TagMeaning(kind or None, label.strip() or None)
    return mapping


class ForumSettings(SettingsSection):
    """Forum feedback channels: one post is one item, and the post follows its issue."""

    tag_map: Annotated[dict[str, TagMeaning], NoDecode] = Field(
        default_factory=lambda: parse_tag_map(DEFAULT_TAG_MAP),
        validation_alias=AliasChoices("FORUM_TAG_MAP"),
    )
    tracked_tag: str | None = Field("tracked", validation_alias=AliasChoices("FORUM_TRACKED_TAG"))
    duplicate_tag: str | None = Field(
        "duplicate", validation_alias=AliasChoices("FORUM_DUPLICATE_TAG")
    )
    declined_tag: str | None = Field(
        "declined", validation_alias=AliasChoices("FORUM_DECLINED_TAG")
    )
    resolved_tag: str | None = Field(
        "resolved", validation_alias=AliasChoices("FORUM_RESOLVED_TAG")
    )
    archive_resolved: bool = Field(True, validation_alias=AliasChoices("FORUM_ARCHIVE_RESOLVED"))

    @field_validator("tag_map", mode="before")
    @classmethod
    def _tag_map(cls, value: Any) -> dict[str, TagMeaning]:
        return parse_tag_map(value)

    @field_validator("tracked_tag", "duplicate_tag", "declined_tag", "resolved_tag", mode="after")
    @classmethod
    def _none_is_no_tag(cls, value: str | None) -> str | None:
        """`none` (or blank) means the bot puts no tag for that step."""
        if value is None or value.strip().casefold() in ("", "none"):
            return None
        return value.strip()

    def meaning(self, tag_names: list[str]) -> tuple[str | None, list[str]]:
        """The kind hint (the first tag that gives one) and the labels of a post's tags."""
        kind: str | None = None
        labels: list[str] = []
        for name in tag_names:
            found = self.tag_map.get(name.strip().casefold())
            if found is None:
                continue
            kind = kind or found.kind
            if found.label and found.label not in labels:
                labels.append(found.label)
        return kind, labels
