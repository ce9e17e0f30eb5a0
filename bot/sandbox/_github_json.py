"""GitHub REST API object shapes (user, label, issue, comment, repository) for the fake."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def _iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def _node_id(kind: str, number: int) -> str:
    return f"{kind}_kwDO{number:08d}"


def user(base: str, login: str) -> dict[str, Any]:
    """A `simple-user`."""
    user_id = sum(login.encode()) + 1000
    api = f"{base}/users/{login}"
    return {
        "login": login,
        "id": user_id,
        "node_id": _node_id("U", user_id),
        "avatar_url": f"{base}/avatars/{login}",
        "gravatar_id": "",
        "url": api,
        "html_url": f"{base}/{login}",
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": "Bot" if login.endswith("[bot]") else "User",
        "site_admin": False,
        "user_view_type": "public",
    }


def public_user(base: str, login: str) -> dict[str, Any]:
    """The authenticated user, as `GET /user` returns it."""
    return {
        **user(base, login),
        "name": login,
        "company": None,
        "blog": "",
        "location": None,
        "email": None,
        "hireable": None,
        "bio": None,
        "twitter_username": None,
        "public_repos": 1,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "created_at": "2020-01-01T00:00:00Z",
        "updated_at": "2020-01-01T00:00:00Z",
    }


def label(base: str, repo: str, *, id: int, name: str, color: str) -> dict[str, Any]:
    """A repository label."""
    return {
        "id": id,
        "node_id": _node_id("LA", id),
        "url": f"{base}/repos/{repo}/labels/{name}",
        "name": name,
        "description": None,
        "color": color,
        "default": name in {"bug", "enhancement", "question"},
        "archived_at": None,
        "archived_by": None,
    }


def issue(
    base: str,
    repo: str,
    *,
    number: int,
    issue_id: int,
    title: str,
    body: str | None,
    state: str,
    state_reason: str | None,
    user: dict[str, Any],
    labels: list[dict[str, Any]],
    comments: int,
    created_at: datetime,
    updated_at: datetime,
    closed_at: datetime | None,
    pull_request: bool,
) -> dict[str, Any]:
    """An issue; pull requests carry the `pull_request` key, as on GitHub."""
    api = f"{base}/repos/{repo}/issues/{number}"
    html = f"{base}/{repo}/{'pull' if pull_request else 'issues'}/{number}"
    data: dict[str, Any] = {
        "id": issue_id,
        "node_id": _node_id("I", issue_id),
        "url": api,
        "repository_url": f"{base}/repos/{repo}",
        "labels_url": f"{api}/labels{{/name}}",
        "comments_url": f"{api}/comments",
        "events_url": f"{api}/events",
        "html_url": html,
        "number": number,
        "state": state,
        "state_reason": state_reason,
        "title": title,
        "body": body,
        "user": user,
        "labels": labels,
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "locked": False,
        "active_lock_reason": None,
        "comments": comments,
        "closed_at": _iso(closed_at),
        "created_at": _iso(created_at),
        "updated_at": _iso(updated_at),
        "closed_by": None,
        "author_association": "OWNER",
        "timeline_url": f"{api}/timeline",
    }
    if pull_request:
        pulls = f"{base}/repos/{repo}/pulls/{number}"
        data["draft"] = False
        data["pull_request"] = {
            "url": pulls,
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "merged_at": None,
        }
    return data


def comment(
    base: str,
    repo: str,
    number: int,
    *,
    comment_id: int,
    body: str,
    user: dict[str, Any],
    at: datetime,
    association: str = "OWNER",
) -> dict[str, Any]:
    """An issue comment (`association`: the author's role in the repository)."""
    return {
        "id": comment_id,
        "node_id": _node_id("IC", comment_id),
        "url": f"{base}/repos/{repo}/issues/comments/{comment_id}",
        "html_url": f"{base}/{repo}/issues/{number}#issuecomment-{comment_id}",
        "issue_url": f"{base}/repos/{repo}/issues/{number}",
        "body": body,
        "user": user,
        "created_at": _iso(at),
        "updated_at": _iso(at),
        "author_association": association,
    }


def repository(
    base: str, full_name: str, repo_id: int, owner: dict[str, Any], open_issues: int
) -> dict[str, Any]:
    """A `full-repository`."""
    api = f"{base}/repos/{full_name}"
    url_fields = [
        "archive",
        "assignees",
        "blobs",
        "branches",
        "collaborators",
        "comments",
        "commits",
        "compare",
        "contents",
        "contributors",
        "deployments",
        "downloads",
        "events",
        "forks",
        "git_commits",
        "git_refs",
        "git_tags",
        "issue_comment",
        "issue_events",
        "issues",
        "keys",
        "labels",
        "languages",
        "merges",
        "milestones",
        "notifications",
        "pulls",
        "releases",
        "stargazers",
        "statuses",
        "subscribers",
        "subscription",
        "tags",
        "teams",
        "trees",
        "hooks",
    ]
    data: dict[str, Any] = {f"{name}_url": f"{api}/{name}" for name in url_fields}
    data.update(
        id=repo_id,
        node_id=_node_id("R", repo_id),
        name=full_name.split("/")[1],
        full_name=full_name,
        owner=owner,
        private=False,
        html_url=f"{base}/{full_name}",
        description=None,
        fork=False,
        url=api,
        git_url=f"git://127.0.0.1/{full_name}.git",
        ssh_url=f"git@127.0.0.1:{full_name}.git",
        clone_url=f"{base}/{full_name}.git",
        svn_url=f"{base}/{full_name}",
        mirror_url=None,
        homepage=None,
        language="Python",
        forks_count=0,
        stargazers_count=0,
        watchers_count=0,
        size=1,
        default_branch="main",
        open_issues_count=open_issues,
        has_issues=True,
        has_projects=False,
        has_wiki=False,
        has_pages=False,
        has_discussions=False,
        archived=False,
        disabled=False,
        pushed_at="2024-01-01T00:00:00Z",
        created_at="2020-01-01T00:00:00Z",
        updated_at="2024-01-01T00:00:00Z",
        subscribers_count=0,
        network_count=0,
        license=None,
        forks=0,
        open_issues=open_issues,
        watchers=0,
        permissions={"admin": False, "maintain": False, "push": True, "triage": True, "pull": True},
    )
    return data


def integration(base: str, *, app_id: int, slug: str, owner: dict[str, Any]) -> dict[str, Any]:
    """A GitHub App, as `GET /app` returns it."""
    return {
        "id": app_id,
        "slug": slug,
        "node_id": _node_id("A", app_id),
        "client_id": f"Iv1.{app_id:016x}",
        "owner": owner,
        "name": slug.replace("-", " ").title(),
        "description": None,
        "external_url": f"{base}/apps/{slug}",
        "html_url": f"{base}/apps/{slug}",
        "created_at": "2020-01-01T00:00:00Z",
        "updated_at": "2020-01-01T00:00:00Z",
        "permissions": {"issues": "write", "metadata": "read"},
        "events": [],
        "installations_count": 1,
    }
