"""`iterateswarm check`: what is configured, what is missing, and what works."""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass
from typing import Literal

import httpx

from bot.settings import Settings

Outcome = Literal["ok", "warn", "fail", "info"]
_MARKS = {"ok": "✔", "warn": "!", "fail": "✘", "info": "·"}


@dataclass
class Finding:
    """One line of the report."""

    outcome: Outcome
    subject: str
    detail: str


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
        await _discord(settings),
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
    ]
    return found


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
    if g.token is None:
        return [Finding("warn", "GitHub", "GITHUB_TOKEN missing: approved items cannot be filed")]
    from bot.github import GitHubClient, RetryPolicy

    client = GitHubClient(
        token=g.token, base_url=g.api_url, allowlist=g.allowlist, retry=RetryPolicy(attempts=1)
    )
    try:
        login = (await client.whoami()).login
    except Exception as exc:
        return [Finding("fail", "GitHub", f"token rejected or API unreachable ({exc})")]
    finally:
        await client.aclose()
    findings = [Finding("ok", "GitHub", f"token valid (user {login}) at {g.api_url}")]
    if g.full_name is None:
        return findings
    if g.full_name.lower() not in g.allowlist:
        findings.append(Finding("fail", "GitHub repo", f"{g.full_name} is not in ALLOWED_REPOS"))
    else:
        findings.append(Finding("ok", "GitHub repo", f"{g.full_name} is in the allowlist"))
    return findings


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


async def _discord(settings: Settings) -> Finding:
    d = settings.discord
    if d.token is None:
        return Finding("fail", "Discord", "no token: set DISCORD_BOT_TOKEN (or run the demo)")
    base = d.api_base or "https://discord.com/api/v10"
    headers = {"Authorization": f"Bot {d.token.get_secret_value()}"}
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(f"{base}/users/@me", headers=headers)
    except httpx.HTTPError as exc:
        return Finding("fail", "Discord", f"{base} unreachable ({type(exc).__name__})")
    if response.status_code == 401:
        return Finding("fail", "Discord", "token rejected (401)")
    if response.status_code != 200:
        return Finding("warn", "Discord", f"unexpected answer {response.status_code}")
    user = response.json()
    return Finding("ok", "Discord", f"token accepted (bot {user.get('username', '?')})")


async def _model() -> Finding:
    from storage.embeddings import load_model

    started = time.perf_counter()
    try:
        model = await asyncio.to_thread(load_model)
        await asyncio.to_thread(model.encode, ["check"])
    except Exception as exc:
        return Finding("fail", "embedding model", f"cannot load ({exc})")
    return Finding("ok", "embedding model", f"loaded in {time.perf_counter() - started:.1f}s")
