"""GitHub access: `GitHubClient` (issues, sync listing, rate limits) and its typed errors."""

from bot.github._auth import AppCredentials
from bot.github._client import GitHubClient
from bot.github._convert import split_repo
from bot.github._errors import (
    GitHubAuthError,
    GitHubError,
    GitHubNotFoundError,
    GitHubRejectedError,
    GitHubUnavailable,
    RepoNotAllowedError,
)
from bot.github._retry import RetryPolicy, Sleep, call_with_retry
from bot.github._types import (
    MARKER_PATTERN,
    IssueComment,
    IssuePage,
    IssueSnapshot,
    RateLimitStatus,
    RepoInfo,
    TokenInfo,
    item_marker,
)

__all__ = [
    "MARKER_PATTERN",
    "AppCredentials",
    "GitHubAuthError",
    "GitHubClient",
    "GitHubError",
    "GitHubNotFoundError",
    "GitHubRejectedError",
    "GitHubUnavailable",
    "IssueComment",
    "IssuePage",
    "IssueSnapshot",
    "RateLimitStatus",
    "RepoInfo",
    "RepoNotAllowedError",
    "RetryPolicy",
    "Sleep",
    "TokenInfo",
    "call_with_retry",
    "item_marker",
    "split_repo",
]
