"""Typed errors raised by the GitHub client."""

from __future__ import annotations

from datetime import datetime


class GitHubError(Exception):
    """Any failure talking to GitHub that callers may want to tell apart."""


class GitHubUnavailable(GitHubError):  # noqa: N818 (public name used across the project)
    """GitHub could not be reached or kept refusing after every retry.

    Attributes:
        retry_at: When a rate limit says the call may succeed again, if known.
    """

    def __init__(self, message: str, *, retry_at: datetime | None = None) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class GitHubNotFoundError(GitHubError):
    """The repository or issue does not exist (or the token cannot see it)."""


class GitHubAuthError(GitHubError):
    """The token is missing, wrong or expired (HTTP 401)."""


class GitHubRejectedError(GitHubError):
    """GitHub refused the request for a reason retrying cannot fix (403, 410, 422, ...)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class RepoNotAllowedError(GitHubError):
    """The repository is not in the allowlist of repositories the bot may write to."""
