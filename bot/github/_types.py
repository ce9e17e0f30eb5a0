"""Plain results of the GitHub client: issue snapshots, pages, rate limits, token identity."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agents.triage.render import MARKER_PATTERN, item_marker

__all__ = ["MARKER_PATTERN", "item_marker"]


@dataclass(frozen=True, slots=True)
class IssueSnapshot:
    """An issue as the sync sees it."""

    number: int
    title: str
    body: str
    url: str
    state: str
    state_reason: str | None
    labels: list[str]
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None

    def as_index_record(self) -> dict[str, Any]:
        """The dict the duplicate index takes: number, title, body, url, state, labels."""
        return {
            "number": self.number,
            "title": self.title,
            "body": self.body,
            "url": self.url,
            "state": self.state,
            "labels": list(self.labels),
        }


@dataclass(frozen=True, slots=True)
class IssueComment:
    """One comment on an issue: who wrote it, in what role, and what."""

    id: int
    author: str
    association: str
    """GitHub's `author_association`: OWNER, MEMBER, COLLABORATOR, CONTRIBUTOR, NONE, ..."""
    body: str
    url: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class IssuePage:
    """One page of issues updated since a time, pull requests left out."""

    issues: list[IssueSnapshot]
    pull_requests_skipped: int
    newest_update: datetime | None = None
    returned: int = 0


@dataclass(frozen=True, slots=True)
class RateLimitStatus:
    """The core REST rate limit."""

    remaining: int
    limit: int
    reset: datetime


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """Who the token authenticates as and, for classic tokens, its scopes."""

    login: str
    scopes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RepoInfo:
    """What the bot needs to know about a repository."""

    full_name: str
    has_issues: bool
    can_push: bool | None
    open_issues: int
