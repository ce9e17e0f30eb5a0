"""A loopback GitHub REST API with in-memory repositories, issues and scripted faults."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from aiohttp import web
from yarl import URL

from bot.sandbox import _github_json as js
from bot.sandbox._github_auth import FakeAuth
from bot.sandbox._github_faults import ScriptedFaults
from bot.sandbox._github_identity import IDENTITY, IdentityRoutes
from bot.sandbox._github_markdown import RenderedBodies
from bot.sandbox._server import LoopbackServer

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
FaultKind = Literal["status", "reset", "delay"]


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class FakeIssue:
    """One issue (or pull request) as the fake stores it."""

    number: int
    title: str
    body: str | None
    author: str
    created_at: datetime
    updated_at: datetime
    labels: list[str] = field(default_factory=list)
    state: str = "open"
    state_reason: str | None = None
    closed_at: datetime | None = None
    is_pull_request: bool = False
    comments: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class FakeRepo:
    """A repository: its issues and labels."""

    owner: str
    name: str
    id: int
    issues: dict[int, FakeIssue] = field(default_factory=dict)
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_number: int = 0
    deleted: set[int] = field(default_factory=set)
    """Numbers of deleted issues (410 Gone)."""
    transferred: dict[int, tuple[str, int]] = field(default_factory=dict)
    """Where transferred issues went: number -> (repository, new number) (301 there)."""

    @property
    def full_name(self) -> str:
        """`owner/name`."""
        return f"{self.owner}/{self.name}"


@dataclass(frozen=True)
class RecordedRequest:
    """A request the fake received, and who sent it (a login, `app:<id>`, or None)."""

    method: str
    path: str
    query: dict[str, str]
    authorized: bool
    identity: str | None = None


class FakeGitHub(IdentityRoutes, RenderedBodies, ScriptedFaults, LoopbackServer):
    """Serve the subset of the GitHub REST API that `bot.github` uses, on 127.0.0.1.

    Routes are keyed as `"METHOD /path"` (for example `"POST /repos/acme/widgets/issues"`)
    when scripting faults. Every body written through the API is read as GitHub would
    render it (`rendered`): the cross-references, mentions and images it makes.
    """

    def __init__(
        self,
        *,
        token: str = "fake-github-token",
        login: str = "iterateswarm-bot",
        repos: Iterable[str] = ("acme/widgets",),
        labels: Iterable[str] = ("bug", "enhancement", "question"),
        rate_limit: int = 5000,
    ) -> None:
        self.token = token
        self.login = login
        self.auth = FakeAuth(token=token, login=login)
        self.requests: list[RecordedRequest] = []
        RenderedBodies.__init__(self)
        self.rate_limit = rate_limit
        self.rate_remaining = rate_limit
        self.rate_reset = int(time.time()) + 3600
        self._repos: dict[str, FakeRepo] = {}
        self._default_labels = list(labels)
        ScriptedFaults.__init__(self)
        self._next_id = 1000
        self._runner: web.AppRunner | None = None
        self.url = ""
        for full_name in repos:
            self.add_repo(full_name)

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on a free loopback port; `.url` is the API root."""
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/user", self._get_user)
        app.router.add_get("/rate_limit", self._get_rate_limit)
        app.router.add_get("/repos/{owner}/{name}", self._get_repo)
        app.router.add_get("/repos/{owner}/{name}/issues", self._list_issues)
        app.router.add_post("/repos/{owner}/{name}/issues", self._create_issue)
        app.router.add_get("/repos/{owner}/{name}/issues/{number:\\d+}", self._get_issue)
        app.router.add_patch("/repos/{owner}/{name}/issues/{number:\\d+}", self._update_issue)
        app.router.add_get(
            "/repos/{owner}/{name}/issues/{number:\\d+}/comments", self._list_comments
        )
        app.router.add_post(
            "/repos/{owner}/{name}/issues/{number:\\d+}/comments", self._create_comment
        )
        app.router.add_get("/repos/{owner}/{name}/labels", self._list_labels)
        self.add_identity_routes(app)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- state helpers ---------------------------------------------------------------------

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def add_repo(self, full_name: str) -> FakeRepo:
        """Create an empty repository with the default labels."""
        owner, name = full_name.split("/")
        repo = FakeRepo(owner=owner, name=name, id=self._new_id())
        for label in self._default_labels:
            self._add_label(repo, label)
        self._repos[full_name.lower()] = repo
        return repo

    def _add_label(self, repo: FakeRepo, name: str) -> None:
        if name.lower() not in {n.lower() for n in repo.labels}:
            repo.labels[name] = {"id": self._new_id(), "name": name, "color": "ededed"}

    def repo(self, full_name: str) -> FakeRepo:
        """The stored repository (KeyError when unknown)."""
        return self._repos[full_name.lower()]

    def add_issue(
        self,
        repo: str,
        *,
        title: str,
        body: str | None = "",
        author: str | None = None,
        labels: Iterable[str] = (),
        state: str = "open",
        state_reason: str | None = None,
        created_at: datetime | None = None,
        updated_at: datetime | None = None,
        pull_request: bool = False,
    ) -> FakeIssue:
        """Store an issue (or a pull request) directly, without a request."""
        stored = self.repo(repo)
        created = created_at or _now()
        stored.last_number += 1
        issue = FakeIssue(
            number=stored.last_number,
            title=title,
            body=body,
            author=author or self.login,
            created_at=created,
            updated_at=updated_at or created,
            labels=list(labels),
            is_pull_request=pull_request,
        )
        for label in issue.labels:
            self._add_label(stored, label)
        stored.issues[issue.number] = issue
        if state == "closed":
            self._close(issue, state_reason or "completed", at=issue.updated_at)
        return issue

    def _close(self, issue: FakeIssue, reason: str | None, *, at: datetime) -> None:
        issue.state, issue.state_reason = "closed", reason
        issue.closed_at = issue.updated_at = at

    def close_issue(
        self, repo: str, number: int, reason: str = "completed", *, at: datetime | None = None
    ) -> FakeIssue:
        """Close an issue as a maintainer would (`completed`, `not_planned`, `duplicate`)."""
        issue = self.repo(repo).issues[number]
        self._close(issue, reason, at=at or _now())
        return issue

    def reopen_issue(self, repo: str, number: int, *, at: datetime | None = None) -> FakeIssue:
        """Reopen a closed issue."""
        issue = self.repo(repo).issues[number]
        issue.state, issue.state_reason, issue.closed_at = "open", "reopened", None
        issue.updated_at = at or _now()
        return issue

    def label_issue(
        self, repo: str, number: int, *labels: str, at: datetime | None = None
    ) -> FakeIssue:
        """Add labels to an issue as a maintainer would (creating unknown labels)."""
        stored = self.repo(repo)
        issue = stored.issues[number]
        for label in labels:
            self._add_label(stored, label)
            if label not in issue.labels:
                issue.labels.append(label)
        issue.updated_at = at or _now()
        return issue

    def delete_issue(self, repo: str, number: int) -> None:
        """Delete an issue as a repository admin would: gone from listings, 410 on reads."""
        stored = self.repo(repo)
        del stored.issues[number]
        stored.deleted.add(number)

    def transfer_issue(self, repo: str, number: int, to: str) -> FakeIssue:
        """Move an issue to another repository (a new number there; 301 from the old one)."""
        source, target = self.repo(repo), self.repo(to)
        issue = source.issues.pop(number)
        target.last_number += 1
        issue.number = target.last_number
        issue.updated_at = _now()
        target.issues[issue.number] = issue
        source.transferred[number] = (target.full_name, issue.number)
        return issue

    def issues_in(self, repo: str, *, include_pull_requests: bool = False) -> list[FakeIssue]:
        """Every issue of the repository, by number."""
        return [
            issue
            for _, issue in sorted(self.repo(repo).issues.items())
            if include_pull_requests or not issue.is_pull_request
        ]

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        """The recorded requests for one route."""
        return [r for r in self.requests if r.method == method and r.path == path]

    # -- HTTP plumbing ---------------------------------------------------------------------

    def _rate_headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": str(self.rate_remaining),
            "X-RateLimit-Reset": str(self.rate_reset),
            "X-RateLimit-Used": str(self.rate_limit - self.rate_remaining),
            "X-RateLimit-Resource": "core",
        }

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        refusal = self.refusal(request)
        self.requests.append(
            RecordedRequest(
                request.method,
                request.path,
                dict(request.query),
                refusal is None,
                request.get(IDENTITY),
            )
        )

        async def serve() -> web.StreamResponse:
            if refusal is not None:
                return refusal
            self.rate_remaining = max(self.rate_remaining - 1, 0)
            response = await handler(request)
            response.headers.update(self._rate_headers())
            return response

        return await self.with_fault(request, serve)

    def _repo_or_404(self, request: web.Request) -> FakeRepo:
        full_name = f"{request.match_info['owner']}/{request.match_info['name']}".lower()
        if full_name not in self._repos:
            raise web.HTTPNotFound(text='{"message": "Not Found"}', content_type="application/json")
        return self._repos[full_name]

    def _issue_or_404(self, request: web.Request) -> tuple[FakeRepo, FakeIssue]:
        repo = self._repo_or_404(request)
        number = int(request.match_info["number"])
        issue = repo.issues.get(number)
        if number in repo.deleted:
            raise web.HTTPGone(
                text='{"message": "This issue was deleted"}', content_type="application/json"
            )
        if number in repo.transferred:
            where, moved_to = repo.transferred[number]
            raise web.HTTPMovedPermanently(
                f"{self._base(request)}/repos/{where}/issues/{moved_to}",
                text='{"message": "Moved Permanently"}',
                content_type="application/json",
            )
        if issue is None:
            raise web.HTTPNotFound(text='{"message": "Not Found"}', content_type="application/json")
        return repo, issue

    def _issue_json(self, repo: FakeRepo, issue: FakeIssue, base: str) -> dict[str, Any]:
        return js.issue(
            base,
            repo.full_name,
            number=issue.number,
            issue_id=repo.id * 100_000 + issue.number,
            title=issue.title,
            body=issue.body,
            state=issue.state,
            state_reason=issue.state_reason,
            user=js.user(base, issue.author),
            labels=[js.label(base, repo.full_name, **repo.labels[n]) for n in issue.labels],
            comments=len(issue.comments),
            created_at=issue.created_at,
            updated_at=issue.updated_at,
            closed_at=issue.closed_at,
            pull_request=issue.is_pull_request,
        )

    @staticmethod
    def _base(request: web.Request) -> str:
        return f"{request.scheme}://{request.host}"

    # -- routes ----------------------------------------------------------------------------

    async def _get_user(self, request: web.Request) -> web.Response:
        headers = {"X-OAuth-Scopes": "repo", "X-Accepted-OAuth-Scopes": ""}
        login = request[IDENTITY]
        return web.json_response(js.public_user(self._base(request), login), headers=headers)

    async def _get_rate_limit(self, request: web.Request) -> web.Response:
        core = {
            "limit": self.rate_limit,
            "remaining": self.rate_remaining,
            "reset": self.rate_reset,
            "used": self.rate_limit - self.rate_remaining,
        }
        search = {"limit": 30, "remaining": 30, "reset": self.rate_reset, "used": 0}
        return web.json_response({"resources": {"core": core, "search": search}, "rate": core})

    async def _get_repo(self, request: web.Request) -> web.Response:
        repo = self._repo_or_404(request)
        owner = js.user(self._base(request), repo.owner)
        open_count = sum(1 for i in repo.issues.values() if i.state == "open")
        return web.json_response(
            js.repository(self._base(request), repo.full_name, repo.id, owner, open_count)
        )

    async def _list_issues(self, request: web.Request) -> web.Response:
        repo = self._repo_or_404(request)
        query = request.query
        state = query.get("state", "open")
        issues = [i for i in repo.issues.values() if state in ("all", i.state)]
        if "since" in query:
            since = _parse_time(query["since"])
            issues = [i for i in issues if i.updated_at >= since]
        if "creator" in query:
            issues = [i for i in issues if i.author.lower() == query["creator"].lower()]
        sort = query.get("sort", "created")
        key: Callable[[FakeIssue], Any] = {
            "created": lambda i: (i.created_at, i.number),
            "updated": lambda i: (i.updated_at, i.number),
            "comments": lambda i: (len(i.comments), i.number),
        }[sort]
        issues.sort(key=key, reverse=query.get("direction", "desc") == "desc")
        per_page = min(int(query.get("per_page", 30)), 100)
        page = max(int(query.get("page", 1)), 1)
        last_page = max((len(issues) + per_page - 1) // per_page, 1)
        chunk = issues[(page - 1) * per_page : page * per_page]
        base = self._base(request)
        body = [self._issue_json(repo, issue, base) for issue in chunk]
        return web.json_response(body, headers=self._link_header(request.url, page, last_page))

    @staticmethod
    def _link_header(url: URL, page: int, last_page: int) -> dict[str, str]:
        def at(number: int) -> str:
            return f"<{url.update_query(page=str(number))}>"

        links = []
        if page < last_page:
            links += [f'{at(page + 1)}; rel="next"', f'{at(last_page)}; rel="last"']
        if page > 1:
            links += [f'{at(1)}; rel="first"', f'{at(page - 1)}; rel="prev"']
        return {"Link": ", ".join(links)} if links else {}

    async def _create_issue(self, request: web.Request) -> web.Response:
        repo = self._repo_or_404(request)
        payload = await request.json()
        title = payload.get("title")
        if not isinstance(title, str) or not title.strip():
            return web.json_response(
                {"message": "Validation Failed", "errors": [{"field": "title"}]}, status=422
            )
        issue = self.add_issue(
            repo.full_name,
            title=title,
            body=payload.get("body"),
            author=request[IDENTITY],
            labels=[str(n) for n in payload.get("labels") or []],
        )
        self.render(f"issue #{issue.number}", repo.full_name, issue.body)
        return web.json_response(self._issue_json(repo, issue, self._base(request)), status=201)

    async def _get_issue(self, request: web.Request) -> web.Response:
        repo, issue = self._issue_or_404(request)
        return web.json_response(self._issue_json(repo, issue, self._base(request)))

    async def _update_issue(self, request: web.Request) -> web.Response:
        repo, issue = self._issue_or_404(request)
        payload = await request.json()
        now = _now()
        issue.title = payload.get("title", issue.title)
        if "body" in payload:
            issue.body = payload["body"]
            self.render(f"edit of #{issue.number}", repo.full_name, issue.body)
        if "labels" in payload:
            issue.labels = [str(n) for n in payload["labels"]]
            for label in issue.labels:
                self._add_label(repo, label)
        issue.updated_at = now
        if payload.get("state") == "closed" and issue.state != "closed":
            self._close(issue, payload.get("state_reason") or "completed", at=now)
        elif payload.get("state") == "open" and issue.state != "open":
            self.reopen_issue(repo.full_name, issue.number, at=now)
        return web.json_response(self._issue_json(repo, issue, self._base(request)))

    async def _list_comments(self, request: web.Request) -> web.Response:
        _, issue = self._issue_or_404(request)
        comments = issue.comments
        if "since" in request.query:
            since = _parse_time(request.query["since"])
            comments = [c for c in comments if _parse_time(c["updated_at"]) >= since]
        per_page = min(int(request.query.get("per_page", 30)), 100)
        page = max(int(request.query.get("page", 1)), 1)
        last_page = max((len(comments) + per_page - 1) // per_page, 1)
        chunk = comments[(page - 1) * per_page : page * per_page]
        return web.json_response(chunk, headers=self._link_header(request.url, page, last_page))

    def add_comment(
        self,
        repo: str,
        number: int,
        body: str,
        *,
        author: str,
        association: str = "MEMBER",
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """Comment on an issue as someone else would (`association`: OWNER, MEMBER, NONE...)."""
        stored = self.repo(repo)
        issue = stored.issues[number]
        now = at or _now()
        comment = js.comment(
            self.url,
            stored.full_name,
            number,
            comment_id=self._new_id(),
            body=body,
            user=js.user(self.url, author),
            at=now,
            association=association,
        )
        issue.comments.append(comment)
        issue.updated_at = max(issue.updated_at, now)
        return comment

    async def _create_comment(self, request: web.Request) -> web.Response:
        repo, issue = self._issue_or_404(request)
        payload = await request.json()
        body = payload.get("body")
        if not isinstance(body, str) or not body:
            return web.json_response({"message": "Validation Failed"}, status=422)
        now = _now()
        comment = js.comment(
            self._base(request),
            repo.full_name,
            issue.number,
            comment_id=self._new_id(),
            body=body,
            user=js.user(self._base(request), request[IDENTITY]),
            at=now,
        )
        self.render(f"comment on #{issue.number}", repo.full_name, body)
        issue.comments.append(comment)
        issue.updated_at = now
        return web.json_response(comment, status=201)

    async def _list_labels(self, request: web.Request) -> web.Response:
        repo = self._repo_or_404(request)
        base = self._base(request)
        return web.json_response(
            [js.label(base, repo.full_name, **value) for value in repo.labels.values()]
        )
