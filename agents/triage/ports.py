"""Interfaces the triage graph uses to reach GitHub and Discord (implemented in bot and cogs)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel

ItemEvent = Literal[
    "awaiting_review",
    "not_actionable",
    "details_requested",
    "same_issue_asked",
    "filed",
    "rejected",
    "duplicate",
    "expired",
    "failed",
    "reporter_added",
]


class IssueRef(BaseModel):
    """A GitHub issue as the bot needs it."""

    number: int
    url: str
    title: str = ""
    state: str = "open"
    body: str = ""


class IssueFiler(Protocol):
    """GitHub operations of the act step (implemented by `bot.github.GitHubClient`)."""

    async def create_issue(
        self, *, repo: str, title: str, body: str, labels: list[str], item_id: int
    ) -> IssueRef:
        """Create an issue, writing the item's marker last in its body.

        Retries transient failures (looking the marker up before each retry); raises
        when out of retries.
        """
        ...

    async def find_filed_issue(
        self, *, repo: str, item_id: int, since: datetime | None = None
    ) -> IssueRef | None:
        """The issue the bot itself filed for the item since `since` (its last marker)."""
        ...

    async def get_issue(self, *, repo: str, number: int) -> IssueRef | None:
        """One issue (None when it does not exist)."""
        ...

    async def comment(self, *, repo: str, number: int, body: str) -> None:
        """Add a comment to an issue."""
        ...

    async def has_item_comment(self, *, repo: str, number: int, item_id: int) -> bool:
        """Whether the bot's own comment for the item is on the issue (its last marker)."""
        ...

    async def list_labels(self, *, repo: str) -> list[str]:
        """Names of the repository's labels."""
        ...


class ItemNotifier(Protocol):
    """Tells Discord that an item changed (implemented by the approvals cog).

    The notifier reads the item from the database and posts or edits the review
    message, and tells the reporter, as the event requires. It must be idempotent.
    """

    async def item_changed(self, item_id: int, event: ItemEvent) -> None:
        """React to the item having reached `event`."""
        ...
