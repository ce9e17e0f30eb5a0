"""The client's plumbing: credentials, one connection pool, retries, paging, the allowlist."""

from __future__ import annotations

import asyncio
import functools
import importlib
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple, Self, TypeVar

import httpx
from githubkit import GitHub
from githubkit.cache import MemCacheStrategy
from githubkit.response import Response
from pydantic import SecretStr

from bot.github._auth import AppCredentials, auth_strategy
from bot.github._convert import has_next_page, is_loopback, parsed_items, split_repo
from bot.github._errors import GitHubAuthError, RepoNotAllowedError
from bot.github._retry import RetryPolicy, Sleep, call_with_retry
from bot.github._types import RateLimitStatus
from bot.settings import GitHubSettings

log = logging.getLogger(__name__)

T = TypeVar("T")

PER_PAGE = 100


class Page(NamedTuple):
    """One page of a listing."""

    items: list[Any]
    more: bool
    """GitHub names a next page."""


#: Models of the endpoints this client calls. githubkit imports each on the first call that
#: needs it (tens of milliseconds on the event loop); `warm_up` imports them on a thread.
_ENDPOINT_MODELS = (
    "BasicError",
    "EventsGetResponse503",
    "AppInstallationsInstallationIdAccessTokensPostBody",
    "FullRepository",
    "InstallationToken",
    "Integration",
    "Issue",
    "IssueComment",
    "Label",
    "PrivateUser",
    "PublicUser",
    "RateLimitOverview",
    "ReposOwnerRepoIssuesIssueNumberCommentsPostBody",
    "ReposOwnerRepoIssuesPostBody",
    "ValidationError",
)


class _SharedTransport(httpx.AsyncHTTPTransport):
    """One connection pool for every call.

    githubkit opens a fresh httpx client for each request outside `async with` and closes
    it after; given this transport, that client builds no SSL context of its own (which
    would block the event loop for tens of milliseconds per call) and leaves the pool open.
    """

    async def aclose(self) -> None:
        """Ignored: the per-call clients must not close the shared pool."""

    async def close_pool(self) -> None:
        """Close the pooled connections."""
        await super().aclose()


class GitHubBase:
    """Credentials, the pooled connection and the retry loop every call goes through.

    githubkit's own retries are off: one loop here retries 5xx, network errors and
    rate limits, and an App whose installation token is refused gets one fresh token.
    """

    def __init__(
        self,
        *,
        token: SecretStr | str | None = None,
        app: AppCredentials | None = None,
        base_url: str = "https://api.github.com",
        allowlist: Iterable[str] = (),
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        timeout: float = 30.0,
        marker_scan_limit: int = 1000,
    ) -> None:
        strategy, self.auth_kind = auth_strategy(token, app)
        self.base_url = base_url.rstrip("/")
        self.allowlist = frozenset(name.lower() for name in allowlist)
        self.retry = retry or RetryPolicy()
        self.marker_scan_limit = marker_scan_limit
        self.last_rate_limit: RateLimitStatus | None = None
        self.calls = 0
        self.failed_calls = 0
        self._sleep = sleep
        self._identity: str | None = None
        trust_env = not is_loopback(self.base_url)
        self._transport = _SharedTransport(trust_env=trust_env)
        # The client's own store of installation tokens (never shared between clients).
        self._tokens = MemCacheStrategy()
        self._github = GitHub(
            strategy,
            base_url=self.base_url,
            timeout=timeout,
            auto_retry=False,
            http_cache=False,
            trust_env=trust_env,
            async_transport=self._transport,
            user_agent="iterateswarm",
            cache_strategy=self._tokens,
        )

    @classmethod
    def from_settings(cls, settings: GitHubSettings, **options: Any) -> Self:
        """Build from the `github` settings section (credentials, GITHUB_API_URL, allowlist)."""
        app = None
        if settings.app_id and settings.app_private_key and settings.app_installation_id:
            app = AppCredentials(
                settings.app_id, settings.app_private_key, settings.app_installation_id
            )
        return cls(
            token=None if app is not None else settings.token,
            app=app,
            base_url=settings.api_url,
            allowlist=settings.allowlist,
            **options,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(auth={self.auth_kind!r}, base_url={self.base_url!r}, "
            f"allowlist={sorted(self.allowlist)})"
        )

    async def warm_up(self) -> None:
        """Import the endpoints' models off the event loop (call once at start)."""
        await asyncio.to_thread(self._import_models)

    def _import_models(self) -> None:
        rest_module = type(self._github.rest.issues).__module__  # <schemas>.<version>.rest.issues
        models = importlib.import_module(rest_module.rsplit(".", 2)[0] + ".models")
        for name in _ENDPOINT_MODELS:
            getattr(models, name)
        for endpoints in ("users", "rate_limit", "repos", "apps"):
            getattr(self._github.rest, endpoints)

    async def aclose(self) -> None:
        """Close the pooled connections to GitHub."""
        await self._transport.close_pool()

    # -- plumbing --------------------------------------------------------------------------

    def _note_rate_limit(self, response: Response[Any]) -> None:
        headers = response.headers
        try:
            status = RateLimitStatus(
                remaining=int(headers["x-ratelimit-remaining"]),
                limit=int(headers["x-ratelimit-limit"]),
                reset=datetime.fromtimestamp(int(headers["x-ratelimit-reset"]), UTC),
            )
        except (KeyError, ValueError):
            return
        self.last_rate_limit = status

    async def _call(
        self,
        what: str,
        operation: Callable[[], Awaitable[T]],
        *,
        recover: Callable[[], Awaitable[T | None]] | None = None,
    ) -> T:
        """One call through the retry loop; an App gets one fresh token after a 401."""
        self.calls += 1
        try:
            try:
                result = await call_with_retry(
                    operation, what=what, policy=self.retry, sleep=self._sleep, recover=recover
                )
            except GitHubAuthError:
                if self.auth_kind != "app":
                    raise
                log.warning("github %s: installation token refused; asking for a new one", what)
                self._tokens.cleanup()
                result = await call_with_retry(
                    operation, what=what, policy=self.retry, sleep=self._sleep, recover=recover
                )
        except Exception:
            self.failed_calls += 1
            raise
        if isinstance(result, Response):
            self._note_rate_limit(result)
        return result

    async def _pages(
        self,
        repo: str,
        path: str,
        list_page: Callable[..., Awaitable[Response[Any]]],
        /,
        *args: Any,
        **params: Any,
    ) -> AsyncGenerator[Page, None]:
        """The pages of a repository's listing, `PER_PAGE` items each, from the first to the last.

        Args:
            repo: The repository, `owner/name`.
            path: The listing below the repository (`labels`), for logs and errors.
            list_page: The githubkit listing method; each call gets the owner, the name,
                `args` and `params`, with `per_page` and `page`.
        """
        owner, name = split_repo(repo)
        what = f"GET /repos/{owner}/{name}/{path}"
        page = 1
        while True:
            response = await self._call(
                what,
                functools.partial(
                    list_page, owner, name, *args, **params, per_page=PER_PAGE, page=page
                ),
            )
            more = has_next_page(response)
            yield Page(parsed_items(response), more)
            if not more:
                return
            page += 1

    def ensure_allowed(self, repo: str) -> None:
        """Raise `RepoNotAllowedError` unless the bot may write to `repo`."""
        split_repo(repo)
        if repo.lower() not in self.allowlist:
            allowed = ", ".join(sorted(self.allowlist)) or "none configured"
            raise RepoNotAllowedError(
                f"refusing to write to {repo}: not in ALLOWED_REPOS (allowed: {allowed})"
            )
