"""Conversions between githubkit models and the client's plain results."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from githubkit.response import Response
from githubkit.utils import UNSET

from agents.triage.ports import IssueRef
from bot.github._types import IssueSnapshot


def is_loopback(url: str) -> bool:
    """True when the URL points at this machine (no proxy should be used)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def github_time(moment: datetime | None) -> Any:
    """GitHub's timestamp format (whole seconds, UTC, `Z`), or UNSET to leave it out."""
    if moment is None:
        return UNSET
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def has_next_page(response: Response[Any]) -> bool:
    """True when the Link header names a next page."""
    return 'rel="next"' in response.headers.get("link", "")


def label_names(labels: Iterable[Any]) -> list[str]:
    """Label names, whether GitHub sent strings or label objects."""
    return [label if isinstance(label, str) else str(label.name) for label in labels]


def snapshot(issue: Any) -> IssueSnapshot:
    """An `IssueSnapshot` of a githubkit issue."""
    reason = issue.state_reason if issue.state_reason is not UNSET else None
    return IssueSnapshot(
        number=issue.number,
        title=issue.title,
        body=issue.body or "",
        url=issue.html_url,
        state=issue.state,
        state_reason=reason,
        labels=label_names(issue.labels),
        created_at=issue.created_at,
        updated_at=issue.updated_at,
        closed_at=issue.closed_at,
    )


def issue_ref(issue: Any) -> IssueRef:
    """An `IssueRef` of a githubkit issue."""
    return IssueRef(
        number=issue.number,
        url=issue.html_url,
        title=issue.title,
        state=issue.state,
        body=issue.body or "",
    )


def split_repo(repo: str) -> tuple[str, str]:
    """`owner/name` -> (owner, name); raises ValueError on anything else."""
    owner, sep, name = repo.strip().partition("/")
    if not sep or not owner or not name or "/" in name:
        raise ValueError(f"expected a repository as owner/name, got {repo!r}")
    return owner, name


def parsed_items(response: Response[Any]) -> list[Any]:
    """The parsed list of a listing response."""
    return list(response.parsed_data)
