"""`iterateswarm check`: what is configured, what is missing, and what works."""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import TYPE_CHECKING

from bot.commands._check_discord import discord_findings
from bot.commands._findings import Finding, Outcome
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.github import GitHubClient

_MARKS = {"ok": "✔", "warn": "!", "fail": "✘", "info": "·"}


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `check` subcommand."""
    parser = subparsers.add_parser(
        "check",
        help="check configuration and connectivity",
        description="Report, item by item, what is set, what is missing and what works. "
        "Exit code 0 means the bot can start.",
    )
    parser.add_argument("--skip-model", action="store_true", help="do not load the embedding model")
    parser.set_defaults(handler=handler)


async def handler(args: argparse.Namespace, settings: Settings) -> int:
    """Run every check and print the report."""
    findings = [
        *_configuration(settings),
        await _database(settings),
        *await _github(settings),
        *await _llm(settings),
        *await discord_findings(settings),
    ]
    if not args.skip_model:
        findings.append(await _model())
    for finding in findings:
        print(f" {_MARKS[finding.outcome]} {finding.subject:<22} {finding.detail}")
    failed = [f for f in findings if f.outcome == "fail"]
    print()
    if failed:
        print(f"The bot cannot start: {len(failed)} problem(s) above.")
        return 1
    print("The bot can start.")
    return 0


def _configuration(settings: Settings) -> list[Finding]:
    d, g = settings.discord, settings.github
    found = [
        Finding("ok" if d.token else "fail", "DISCORD_BOT_TOKEN", "set" if d.token else "missing"),
        Finding(
            "ok" if d.review_channel_id else "warn",
            "REVIEW_CHANNEL_ID",
            str(d.review_channel_id) if d.review_channel_id else "missing (set it, or use /config)",
        ),
        Finding(
            "ok" if d.feedback_channel_ids else "warn",
            "FEEDBACK_CHANNEL_IDS",
            ", ".join(map(str, d.feedback_channel_ids)) or "none (only /feedback and menus)",
        ),
        Finding(
            "ok" if d.maintainer_role_ids else "warn",
            "MAINTAINER_ROLE_IDS",
            ", ".join(map(str, d.maintainer_role_ids)) or "none (only Manage Server may decide)",
        ),
        Finding("ok" if g.full_name else "warn", "GITHUB_OWNER/REPO", g.full_name or "missing"),
        Finding("info", "ALLOWED_REPOS", ", ".join(g.allowlist) or "empty (nothing can be filed)"),
        Finding("info", "DATA_DIR", str(settings.data_dir.resolve())),
        Finding("info", "CHROMA_URL", settings.chroma_url or "embedded store under DATA_DIR"),
        _health(settings),
    ]
    return found


def _health(settings: Settings) -> Finding:
    if settings.health_port is None:
        return Finding("info", "HEALTH_PORT", "off")
    access = "/metrics needs HEALTH_TOKEN" if settings.health_token else "/metrics open"
    exposed = settings.health_host != "127.0.0.1" and not settings.health_token
    outcome: Outcome = "warn" if exposed else "info"
    where = f"{settings.health_host}:{settings.health_port}"
    return Finding(outcome, "HEALTH_PORT", f"{where}, {access}")


async def _database(settings: Settings) -> Finding:
    from storage.db import Database, migration_state

    db = Database(settings.db_url)
    backend = db.backend
    try:
        if not await db.ping():
            return Finding("fail", "database", f"{backend}: unreachable")
    finally:
        await db.close()
    try:
        current, head = await migration_state(settings.db_url)
    except Exception as exc:
        return Finding("fail", "database", f"{backend}: cannot read schema version ({exc})")
    if current == head:
        return Finding("ok", "database", f"{backend}: reachable, migrated ({current})")
    return Finding(
        "ok", "database", f"{backend}: reachable, will migrate at start ({current} -> {head})"
    )


async def _github(settings: Settings) -> list[Finding]:
    g = settings.github
    if not g.has_credentials:
        return [
            Finding(
                "warn",
                "GitHub",
                "neither GITHUB_TOKEN nor GITHUB_APP_* set: approved items cannot be filed",
            )
        ]
    from bot.github import GitHubClient, RetryPolicy

    client = GitHubClient.from_settings(g, retry=RetryPolicy(attempts=1))
    try:
        found = await (_github_app(client, settings) if g.uses_app else _github_token(client))
        if found.outcome == "fail" or g.full_name is None:
            return [found]
        return [found, await _github_repo(client, settings, g.full_name)]
    finally:
        await client.aclose()


async def _github_token(client: GitHubClient) -> Finding:
    """A personal access token reads `GET /user`; an installation token cannot."""
    from bot.github import GitHubRejectedError

    try:
        login = (await client.whoami()).login
    except GitHubRejectedError as exc:
        if exc.status != 403:
            return Finding("fail", "GitHub", f"token rejected or API unreachable ({exc})")
        try:
            login = await client.identity()
        except Exception as inner:
            return Finding("fail", "GitHub", f"token rejected or API unreachable ({inner})")
        return Finding(
            "warn",
            "GitHub",
            f"GITHUB_TOKEN is an installation token of {login}: it expires within an hour; "
            "set GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY and GITHUB_APP_INSTALLATION_ID instead",
        )
    except Exception as exc:
        return Finding("fail", "GitHub", f"token rejected or API unreachable ({exc})")
    return Finding("ok", "GitHub", f"personal access token of {login} at {client.base_url}")


async def _github_app(client: GitHubClient, settings: Settings) -> Finding:
    """The App's JWT reads `GET /app`; its installation must hand out a token."""
    g = settings.github
    try:
        slug = await client.app_slug()
    except Exception as exc:
        return Finding(
            "fail", "GitHub", f"GitHub App {g.app_id}: key rejected or API unreachable ({exc})"
        )
    try:
        login = await client.identity()
    except Exception as exc:
        return Finding(
            "fail",
            "GitHub",
            f"GitHub App {slug}: installation {g.app_installation_id} gave no token ({exc})",
        )
    return Finding(
        "ok",
        "GitHub",
        f"GitHub App {slug} (id {g.app_id}), installation {g.app_installation_id}, "
        f"files as {login} at {client.base_url}",
    )


async def _github_repo(client: GitHubClient, settings: Settings, full_name: str) -> Finding:
    if full_name.lower() not in settings.github.allowlist:
        return Finding("fail", "GitHub repo", f"{full_name} is not in ALLOWED_REPOS")
    try:
        repo = await client.get_repo(full_name)
    except Exception as exc:
        return Finding("fail", "GitHub repo", f"{full_name} cannot be read ({exc})")
    if repo is None:
        return Finding("fail", "GitHub repo", f"{full_name} is not visible to these credentials")
    if not repo.has_issues:
        return Finding("fail", "GitHub repo", f"{full_name} has issues turned off")
    return Finding("ok", "GitHub repo", f"{full_name} is in the allowlist and readable")


async def _llm(settings: Settings) -> list[Finding]:
    """Classify one sample text with the configured model: the method that works, and how fast."""
    llm = settings.llm
    if not llm.enabled or llm.api_key is None:
        return [Finding("ok", "LLM", "no OPENAI_API_KEY: offline engine (embedding classifier)")]
    from agents.engines.llm import LLMUnavailableError
    from bot.services import build_llm

    engine = build_llm(settings)
    base = engine.endpoint
    try:
        probe = await engine.probe()
    except LLMUnavailableError as exc:
        outcome: Outcome = "fail" if exc.reason.startswith("not authorised") else "warn"
        findings = [
            Finding(outcome, "LLM", f"{model} at {base}: {reason}")
            for model, reason in exc.causes or [(engine.models[0], exc.reason)]
        ]
        if outcome == "warn":
            findings.append(Finding("warn", "LLM", "the offline engine answers until it works"))
        return findings
    return [
        Finding(
            "ok",
            "LLM",
            f"{probe.model} at {base}: {probe.method} works, "
            f"{probe.seconds:.1f}s for one classification ({probe.verdict.kind})",
        )
    ]


async def _model() -> Finding:
    from storage.embeddings import load_model

    started = time.perf_counter()
    try:
        model = await asyncio.to_thread(load_model)
        await asyncio.to_thread(model.encode, ["check"])
    except Exception as exc:
        return Finding("fail", "embedding model", f"cannot load ({exc})")
    return Finding("ok", "embedding model", f"loaded in {time.perf_counter() - started:.1f}s")
