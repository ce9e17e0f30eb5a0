"""`GitHubClient`: the issue operations the bot needs, over githubkit, with our own retries."""

from __future__ import annotations

import asyncio
import functools
import importlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
from githubkit import GitHub, TokenAuthStrategy
from githubkit.response import Response
from githubkit.utils import UNSET
from pydantic import SecretStr

from agents.triage.ports import IssueRef
from bot.github._convert import (
    github_time,
    has_next_page,
    is_loopback,
    issue_ref,
    parsed_items,
    snapshot,
    split_repo,
)
from bot.github._errors import GitHubNotFoundError, RepoNotAllowedError
from bot.github._retry import RetryPolicy, Sleep, call_with_retry
from bot.github._types import (
    MARKER_PATTERN,
    IssuePage,
    IssueSnapshot,
    RateLimitStatus,
    RepoInfo,
    TokenInfo,
)
from bot.settings import GitHubSettings

log = logging.getLogger(__name__)


#: Models of the endpoints this client calls. githubkit imports each on the first call that
#: needs it (tens of milliseconds on the event loop); `warm_up` imports them on a thread.
_ENDPOINT_MODELS = (
    "BasicError",
    "EventsGetResponse503",
    "FullRepository",
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


T = TypeVar("T")
PER_PAGE = 100
#: How far before a create attempt to look when checking whether it had succeeded.
_RECOVERY_WINDOW = timedelta(minutes=10)


class GitHubClient:
    """Files, finds and reads issues; the only code that talks to GitHub.

    Every call goes through one retry loop (5xx, network errors, rate limits), so
    githubkit's own retries are turned off. Writes are refused for repositories that
    are not in the allowlist.
    """

    def __init__(
        self,
        *,
        token: SecretStr | str,
        base_url: str = "https://api.github.com",
        allowlist: Iterable[str] = (),
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        timeout: float = 30.0,
        marker_scan_limit: int = 1000,
    ) -> None:
        secret = token if isinstance(token, SecretStr) else SecretStr(token)
        if not secret.get_secret_value().strip():
            raise ValueError("a GitHub token is required")
        self.base_url = base_url.rstrip("/")
        self.allowlist = frozenset(name.lower() for name in allowlist)
        self.retry = retry or RetryPolicy()
        self.marker_scan_limit = marker_scan_limit
        self.last_rate_limit: RateLimitStatus | None = None
        self.calls = 0
        self.failed_calls = 0
        self._sleep = sleep
        self._login: str | None = None
        trust_env = not is_loopback(self.base_url)
        self._transport = _SharedTransport(trust_env=trust_env)
        self._github = GitHub(
            TokenAuthStrategy(secret.get_secret_value()),
            base_url=self.base_url,
            timeout=timeout,
            auto_retry=False,
            http_cache=False,
            trust_env=trust_env,
            async_transport=self._transport,
            user_agent="iterateswarm",
        )

    @classmethod
    def from_settings(cls, settings: GitHubSettings, **options: Any) -> GitHubClient:
        """Build from the `github` settings section (token, GITHUB_API_URL, allowlist)."""
        if settings.token is None:
            raise ValueError("GITHUB_TOKEN is not set")
        return cls(
            token=settings.token,
            base_url=settings.api_url,
            allowlist=settings.allowlist,
            **options,
        )

    def __repr__(self) -> str:
        return f"GitHubClient(base_url={self.base_url!r}, allowlist={sorted(self.allowlist)})"

    async def warm_up(self) -> None:
        """Import the endpoints' models off the event loop (call once at start)."""
        await asyncio.to_thread(self._import_models)

    def _import_models(self) -> None:
        rest_module = type(self._github.rest.issues).__module__  # <schemas>.<version>.rest.issues
        models = importlib.import_module(rest_module.rsplit(".", 2)[0] + ".models")
        for name in _ENDPOINT_MODELS:
            getattr(models, name)
        for endpoints in ("users", "rate_limit", "repos"):
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
        operation: Callable[[], Awaitable[Response[T]]],
        *,
        recover: Callable[[], Awaitable[Response[T] | None]] | None = None,
    ) -> Response[T]:
        self.calls += 1
        try:
            response = await call_with_retry(
                operation, what=what, policy=self.retry, sleep=self._sleep, recover=recover
            )
        except Exception:
            self.failed_calls += 1
            raise
        self._note_rate_limit(response)
        return response

    def ensure_allowed(self, repo: str) -> None:
        """Raise `RepoNotAllowedError` unless the bot may write to `repo`."""
        split_repo(repo)
        if repo.lower() not in self.allowlist:
            allowed = ", ".join(sorted(self.allowlist)) or "none configured"
            raise RepoNotAllowedError(
                f"refusing to write to {repo}: not in ALLOWED_REPOS (allowed: {allowed})"
            )

    # -- identity and limits -----------------------------------------------------------------

    async def whoami(self) -> TokenInfo:
        """Check the token: who it authenticates as and its scopes (classic tokens only).

        Raises:
            GitHubAuthError: The token is wrong or expired.
        """
        response = await self._call("GET /user", self._github.rest.users.async_get_authenticated)
        scopes = response.headers.get("x-oauth-scopes", "")
        info = TokenInfo(
            login=response.parsed_data.login,
            scopes=[s.strip() for s in scopes.split(",") if s.strip()],
        )
        self._login = info.login
        return info

    async def login(self) -> str:
        """The authenticated user's login (asked once, then remembered)."""
        if self._login is None:
            await self.whoami()
        assert self._login is not None
        return self._login

    async def rate_limit(self) -> RateLimitStatus:
        """The core REST rate limit right now (this call does not count against it)."""
        response = await self._call("GET /rate_limit", self._github.rest.rate_limit.async_get)
        core = response.parsed_data.resources.core
        status = RateLimitStatus(
            remaining=core.remaining,
            limit=core.limit,
            reset=datetime.fromtimestamp(core.reset, UTC),
        )
        self.last_rate_limit = status
        return status

    async def get_repo(self, repo: str) -> RepoInfo | None:
        """The repository as the token sees it, or None when it cannot see it."""
        owner, name = split_repo(repo)
        try:
            response = await self._call(
                f"GET /repos/{owner}/{name}",
                lambda: self._github.rest.repos.async_get(owner, name),
            )
        except GitHubNotFoundError:
            return None
        data = response.parsed_data
        permissions = data.permissions if data.permissions is not UNSET else None
        return RepoInfo(
            full_name=data.full_name,
            has_issues=data.has_issues,
            can_push=permissions.push if permissions is not None else None,
            open_issues=data.open_issues_count,
        )

    # -- IssueFiler ----------------------------------------------------------------------------

    async def create_issue(
        self, *, repo: str, title: str, body: str, labels: list[str]
    ) -> IssueRef:
        """Open an issue in an allowed repository.

        When an attempt fails in a way that may have created the issue anyway (lost
        answer, 5xx) and the body holds an item marker, the marker is looked up before
        trying again, so a retry never files the issue twice.

        Raises:
            RepoNotAllowedError: `repo` is not in the allowlist.
            GitHubUnavailable: Out of retries.
            GitHubRejectedError: GitHub refused it (e.g. 422 validation failed).
        """
        self.ensure_allowed(repo)
        owner, name = split_repo(repo)
        what = f"POST /repos/{owner}/{name}/issues"
        marker = MARKER_PATTERN.search(body)
        started = datetime.now(UTC)

        async def recover() -> Any:
            if marker is None:
                return None
            return await self._find_marker_issue(
                repo, marker.group(0), since=started - _RECOVERY_WINDOW
            )

        async def create() -> Any:
            return await self._github.rest.issues.async_create(
                owner, name, title=title, body=body, labels=list(labels)
            )

        self.calls += 1
        try:
            result = await call_with_retry(
                create, what=what, policy=self.retry, sleep=self._sleep, recover=recover
            )
        except Exception:
            self.failed_calls += 1
            raise
        if isinstance(result, IssueRef):
            return result
        self._note_rate_limit(result)
        ref = issue_ref(result.parsed_data)
        log.info("github filed %s#%d", repo, ref.number)
        return ref

    async def find_issue_by_marker(
        self, *, repo: str, marker: str, since: datetime | None = None
    ) -> IssueRef | None:
        """The newest issue we created whose body holds `marker`, if any.

        Lists the issues created by the token's user, newest first, and reads their
        bodies (the search API lags behind writes, so it could miss a fresh issue).
        Looks at most `marker_scan_limit` issues back, or back to `since` less a margin
        for clock skew and GitHub's whole-second timestamps.
        """
        start = since - _RECOVERY_WINDOW if since is not None else None
        return await self._find_marker_issue(repo, marker, since=start)

    async def _find_marker_issue(
        self, repo: str, marker: str, *, since: datetime | None
    ) -> IssueRef | None:
        owner, name = split_repo(repo)
        creator = await self.login()
        scanned = 0
        page = 1
        while scanned < self.marker_scan_limit:
            response = await self._call(
                f"GET /repos/{owner}/{name}/issues",
                functools.partial(
                    self._github.rest.issues.async_list_for_repo,
                    owner,
                    name,
                    creator=creator,
                    state="all",
                    sort="created",
                    direction="desc",
                    since=github_time(since),
                    per_page=PER_PAGE,
                    page=page,
                ),
            )
            for issue in parsed_items(response):
                scanned += 1
                if since is not None and issue.created_at < since:
                    return None
                if issue.pull_request is UNSET and marker in (issue.body or ""):
                    return issue_ref(issue)
            if not has_next_page(response):
                return None
            page += 1
        return None

    async def get_issue(self, *, repo: str, number: int) -> IssueRef | None:
        """One issue, or None when it does not exist."""
        found = await self.get_issue_snapshot(repo=repo, number=number)
        if found is None:
            return None
        fields = ("number", "url", "title", "state", "body")
        return IssueRef(**{name: getattr(found, name) for name in fields})

    async def get_issue_snapshot(self, *, repo: str, number: int) -> IssueSnapshot | None:
        """One issue with its state reason and timestamps, or None when it does not exist."""
        owner, name = split_repo(repo)
        try:
            response = await self._call(
                f"GET /repos/{owner}/{name}/issues/{number}",
                lambda: self._github.rest.issues.async_get(owner, name, number),
            )
        except GitHubNotFoundError:
            return None
        return snapshot(response.parsed_data)

    async def comment(self, *, repo: str, number: int, body: str) -> None:
        """Comment on an issue in an allowed repository.

        Raises:
            RepoNotAllowedError: `repo` is not in the allowlist.
            GitHubNotFoundError: The issue does not exist.
            GitHubUnavailable: Out of retries.
        """
        self.ensure_allowed(repo)
        owner, name = split_repo(repo)
        await self._call(
            f"POST /repos/{owner}/{name}/issues/{number}/comments",
            lambda: self._github.rest.issues.async_create_comment(owner, name, number, body=body),
        )

    async def list_labels(self, *, repo: str) -> list[str]:
        """Names of every label of the repository."""
        owner, name = split_repo(repo)
        names: list[str] = []
        page = 1
        while True:
            response = await self._call(
                f"GET /repos/{owner}/{name}/labels",
                functools.partial(
                    self._github.rest.issues.async_list_labels_for_repo,
                    owner,
                    name,
                    per_page=PER_PAGE,
                    page=page,
                ),
            )
            names.extend(label.name for label in parsed_items(response))
            if not has_next_page(response):
                return names
            page += 1

    # -- sync ----------------------------------------------------------------------------------

    async def iter_issues_since(
        self, repo: str, since: datetime | None
    ) -> AsyncIterator[IssuePage]:
        """Every issue updated at or after `since` (all when None), oldest update first.

        Pages are fetched 100 at a time. Each request starts at the newest update seen
        so far rather than at a page offset, so issues updated while the listing runs
        cannot shift out of view; an issue may therefore appear twice if it changed
        meanwhile. Pull requests are counted and left out.
        """
        owner, name = split_repo(repo)
        what = f"GET /repos/{owner}/{name}/issues"
        cursor = since
        page = 1
        seen: dict[int, datetime] = {}
        while True:
            response = await self._call(
                what,
                functools.partial(
                    self._github.rest.issues.async_list_for_repo,
                    owner,
                    name,
                    state="all",
                    sort="updated",
                    direction="asc",
                    since=github_time(cursor),
                    per_page=PER_PAGE,
                    page=page,
                ),
            )
            listed = parsed_items(response)
            fresh = [i for i in listed if seen.get(i.number) != i.updated_at]
            for item in fresh:
                seen[item.number] = item.updated_at
            issues = [snapshot(i) for i in fresh if i.pull_request is UNSET]
            newest = max((i.updated_at for i in listed), default=None)
            yield IssuePage(
                issues=issues,
                pull_requests_skipped=len(fresh) - len(issues),
                newest_update=newest,
                returned=len(listed),
            )
            if not has_next_page(response):
                return
            if newest is not None and (cursor is None or newest > cursor):
                cursor, page = newest, 1
            else:
                page += 1
