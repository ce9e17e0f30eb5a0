"""`GitHubClient`: the issue operations the bot needs, over githubkit, with our own retries."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from typing import Any

from githubkit.utils import UNSET

from agents.triage.ports import IssueRef
from agents.triage.render import item_marker, last_marker
from bot.github._base import GitHubBase
from bot.github._convert import github_time, issue_ref, snapshot, split_repo
from bot.github._errors import GitHubError, GitHubNotFoundError, GitHubUnavailable
from bot.github._types import (
    IssueComment,
    IssuePage,
    IssueSnapshot,
    RateLimitStatus,
    RepoInfo,
    TokenInfo,
)

log = logging.getLogger(__name__)

#: How far before a create attempt to look when checking whether it had succeeded
#: (clock skew between this host and GitHub, and GitHub's whole-second timestamps).
_RECOVERY_WINDOW = timedelta(minutes=10)
_VIEWER_QUERY = "query { viewer { login } }"


def _is_ours(issue: Any, identity: str, item_id: int) -> bool:
    """An issue (not a pull request) the bot wrote, whose last marker names the item."""
    author = issue.user.login.lower() if issue.user else None
    return issue.pull_request is UNSET and author == identity and last_marker(issue.body) == item_id


class GitHubClient(GitHubBase):
    """Files, finds and reads issues; the only code that talks to GitHub.

    Every call goes through one retry loop (5xx, network errors, rate limits), so
    githubkit's own retries are turned off. Writes are refused for repositories that
    are not in the allowlist. Signs in with a personal access token or as a GitHub App.
    """

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
        return info

    async def identity(self) -> str:
        """The login the bot's issues are authored by (asked once, then remembered).

        Read from GraphQL's `viewer`, which answers for a personal token (its user) and
        for an App installation (`<slug>[bot]`) alike; `GET /user` refuses the latter. A
        personal token GraphQL refuses is asked `GET /user` instead.
        """
        if self._identity is None:
            try:
                self._identity = await self._viewer_login()
            except GitHubUnavailable:
                raise
            except GitHubError:
                if self.auth_kind != "token":
                    raise
                self._identity = (await self.whoami()).login
        return self._identity

    async def _viewer_login(self) -> str:
        data = await self._call("POST /graphql", lambda: self._github.async_graphql(_VIEWER_QUERY))
        try:
            return str(data["viewer"]["login"])
        except (KeyError, TypeError):
            raise GitHubError("POST /graphql: no viewer login in the answer") from None

    async def app_slug(self) -> str:
        """The GitHub App's slug, read with its JWT (App credentials only)."""
        response = await self._call("GET /app", self._github.rest.apps.async_get_authenticated)
        app = response.parsed_data
        if app is None or not app.slug:
            raise GitHubError("GET /app: GitHub did not name the App")
        return str(app.slug)

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
        self, *, repo: str, title: str, body: str, labels: list[str], item_id: int
    ) -> IssueRef:
        """Open an issue in an allowed repository, its item's marker written last in the body.

        When an attempt fails in a way that may have created the issue anyway (a lost
        answer, a 5xx), the marker is looked up before trying again, so the retries of
        this call never file the issue twice.

        Raises:
            RepoNotAllowedError: `repo` is not in the allowlist.
            GitHubUnavailable: Out of retries.
            GitHubRejectedError: GitHub refused it (e.g. 422 validation failed).
        """
        self.ensure_allowed(repo)
        owner, name = split_repo(repo)
        marked = f"{body.rstrip()}\n\n{item_marker(item_id)}\n"
        started = datetime.now(UTC)

        async def recover() -> Any:
            return await self.find_filed_issue(repo=repo, item_id=item_id, since=started)

        async def create() -> Any:
            return await self._github.rest.issues.async_create(
                owner, name, title=title, body=marked, labels=list(labels)
            )

        result = await self._call(f"POST /repos/{owner}/{name}/issues", create, recover=recover)
        if isinstance(result, IssueRef):
            return result
        ref = issue_ref(result.parsed_data)
        log.info("github filed %s#%d", repo, ref.number)
        return ref

    async def find_filed_issue(
        self, *, repo: str, item_id: int, since: datetime | None = None
    ) -> IssueRef | None:
        """The issue the bot filed for `item_id`, if any.

        Only an issue authored by the bot's own identity whose last marker names the item
        counts (a marker quoted elsewhere, or an issue someone else wrote, does not). Lists
        the repository's issues newest first, reading bodies (the search API lags behind
        writes), back to `since` less a margin for clock skew, at most `marker_scan_limit`.
        """
        split_repo(repo)  # a malformed name fails before the identity is asked
        identity = (await self.identity()).lower()
        start = since - _RECOVERY_WINDOW if since is not None else None
        # The creator filter takes a user's login; an App's bot is matched on each issue.
        creator = UNSET if identity.endswith("[bot]") else identity
        pages = self._pages(
            repo,
            "issues",
            self._github.rest.issues.async_list_for_repo,
            creator=creator,
            state="all",
            sort="created",
            direction="desc",
            since=github_time(start),
        )
        scanned = 0
        async with aclosing(pages):
            async for page in pages:
                for issue in page.items:
                    if start is not None and issue.created_at < start:
                        return None
                    if _is_ours(issue, identity, item_id):
                        return issue_ref(issue)
                scanned += len(page.items)
                if scanned >= self.marker_scan_limit:
                    return None
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

    async def list_comments(
        self, *, repo: str, number: int, since: datetime | None = None
    ) -> list[IssueComment]:
        """The issue's comments updated at or after `since` (all when None), oldest first."""
        comments: list[IssueComment] = []
        async for page in self._pages(
            repo,
            f"issues/{number}/comments",
            self._github.rest.issues.async_list_comments,
            number,
            since=github_time(since),
        ):
            comments += [
                IssueComment(
                    id=int(c.id),
                    author=c.user.login if c.user else "",
                    association=str(c.author_association),
                    body=c.body or "",
                    url=c.html_url,
                    created_at=c.created_at,
                )
                for c in page.items
            ]
        return comments

    async def has_item_comment(self, *, repo: str, number: int, item_id: int) -> bool:
        """Whether the bot already commented on the issue for the item.

        Only a comment written by the bot's own identity whose last marker names the item
        counts: a marker someone else posted, or one quoted in another item's comment, does not.
        """
        own = await self._own_comments(repo=repo, number=number)
        return any(last_marker(comment.body) == item_id for comment in own)

    async def has_comment_with(self, *, repo: str, number: int, text: str) -> bool:
        """Whether a comment the bot's own identity wrote on the issue contains `text`."""
        own = await self._own_comments(repo=repo, number=number)
        return any(text in comment.body for comment in own)

    async def _own_comments(self, *, repo: str, number: int) -> list[IssueComment]:
        """The issue's comments written by the bot's own identity."""
        identity = (await self.identity()).lower()
        comments = await self.list_comments(repo=repo, number=number)
        return [comment for comment in comments if comment.author.lower() == identity]

    async def list_labels(self, *, repo: str) -> list[str]:
        """Names of every label of the repository."""
        names: list[str] = []
        async for page in self._pages(
            repo, "labels", self._github.rest.issues.async_list_labels_for_repo
        ):
            names.extend(label.name for label in page.items)
        return names

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
        cursor = since
        seen: dict[int, datetime] = {}
        while True:
            pages = self._pages(
                repo,
                "issues",
                self._github.rest.issues.async_list_for_repo,
                state="all",
                sort="updated",
                direction="asc",
                since=github_time(cursor),
            )
            async with aclosing(pages):
                async for page in pages:
                    listed = page.items
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
                    if page.more and newest is not None and (cursor is None or newest > cursor):
                        cursor = newest
                        break  # list again from the newest update, page 1
                else:
                    return
