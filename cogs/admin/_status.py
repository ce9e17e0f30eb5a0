"""What /status shows: gathered from the services with a timeout per source, rendered as fields."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import bot
from bot.services import Services
from storage.models import ItemStatus
from storage.sync_state import SyncStateRepository

log = logging.getLogger(__name__)

T = TypeVar("T")
S = ItemStatus
SOURCE_TIMEOUT_SECONDS = 2.0
#: Status groups shown on /status, in the order of the item lifecycle.
STATUS_ORDER = [
    S.RECEIVED,
    S.TRIAGING,
    S.AWAITING_REVIEW,
    S.APPROVED,
    S.FILING,
    S.FILED,
    S.DUPLICATE,
    S.REJECTED,
    S.EXPIRED,
    S.FAILED,
    S.NOT_ACTIONABLE,
    S.WITHDRAWN,
]


class SourceUnavailableError(Exception):
    """A source did not answer in time or failed; the message says which and why."""


@dataclass
class StatusReport:
    """Everything /status shows, gathered without Discord."""

    counts: dict[str, int] = field(default_factory=dict)
    received_24h: int | None = None
    filed_24h: int | None = None
    oldest_waiting: dict[str, Any] | None = None
    engine: dict[str, Any] = field(default_factory=dict)
    github: dict[str, Any] = field(default_factory=dict)
    database: dict[str, Any] = field(default_factory=dict)
    index: dict[str, Any] = field(default_factory=dict)
    in_flight: int = 0
    queued: int = 0
    uptime_seconds: float = 0.0
    version: str = bot.__version__
    errors: list[str] = field(default_factory=list)

    @property
    def not_actionable(self) -> int:
        """Items dismissed as praise or chatter."""
        return self.counts.get(S.NOT_ACTIONABLE, 0)

    @property
    def actionable(self) -> int:
        """Every other item."""
        return sum(self.counts.values()) - self.not_actionable


async def _within(what: str, call: Awaitable[T], timeout: float) -> T:  # noqa: ASYNC109
    try:
        return await asyncio.wait_for(call, timeout)
    except TimeoutError:
        raise SourceUnavailableError(f"{what}: no answer within {timeout:.0f}s") from None
    except Exception as exc:
        log.warning("status: %s failed", what, exc_info=True)
        raise SourceUnavailableError(f"{what}: {type(exc).__name__}") from None


async def gather_status(
    services: Services,
    *,
    guild_id: int | None,
    timeout: float = SOURCE_TIMEOUT_SECONDS,  # noqa: ASYNC109
    now: datetime | None = None,
) -> StatusReport:
    """Collect the status from every source concurrently, each bounded by `timeout`.

    Args:
        services: The running services.
        guild_id: Count only this guild's items (None: all).
        timeout: Seconds each source may take before it is reported as unavailable.
        now: The current time (for tests).

    Returns:
        The report; sources that failed are listed in `errors` and left empty.
    """
    now = now or datetime.now(UTC)
    report = StatusReport(
        in_flight=services.runner.in_flight,
        queued=services.runner.queued,
        uptime_seconds=max(0.0, time.time() - services.started_at),
    )
    report.engine = engine_status(services.engine)

    async def counts() -> None:
        report.counts = await _within(
            "items", services.items.counts_by_status(guild_id=guild_id), timeout
        )

    async def throughput() -> None:
        since = now - timedelta(hours=24)
        report.received_24h = await _within(
            "throughput", services.items.count_created_since(since, guild_id=guild_id), timeout
        )
        report.filed_24h = await _within(
            "throughput",
            services.items.count_transitions_since(since, [S.FILED], guild_id=guild_id),
            timeout,
        )

    async def oldest() -> None:
        item = await _within(
            "review queue", services.items.oldest_in(S.AWAITING_REVIEW, guild_id=guild_id), timeout
        )
        if item is None:
            return
        waiting_since = item.updated_at
        if waiting_since.tzinfo is None:
            waiting_since = waiting_since.replace(tzinfo=UTC)
        link = item.jump_url
        if item.guild_id and item.review_channel_id and item.review_message_id:
            link = (
                f"https://discord.com/channels/{item.guild_id}/"
                f"{item.review_channel_id}/{item.review_message_id}"
            )
        report.oldest_waiting = {
            "id": item.id,
            "age_seconds": max(0.0, (now - waiting_since).total_seconds()),
            "link": link,
        }

    async def database() -> None:
        report.database = {"backend": services.db.backend, "ok": False}
        started = time.perf_counter()
        ok = await _within("database", services.db.ping(), timeout)
        report.database.update(ok=ok, ping_ms=round((time.perf_counter() - started) * 1000, 1))

    async def github() -> None:
        report.github = await github_status(services, timeout=timeout)

    async def index() -> None:
        report.index = await index_status(services, guild_id=guild_id, timeout=timeout)

    results = await asyncio.gather(
        counts(), throughput(), oldest(), database(), github(), index(), return_exceptions=True
    )
    for result in results:
        if isinstance(result, SourceUnavailableError):
            report.errors.append(str(result))
        elif isinstance(result, BaseException):
            report.errors.append(f"{type(result).__name__}")
    return report


def engine_status(engine: object) -> dict[str, Any]:
    """Which engine triages, with the LLM breaker and counters when there is a fallback."""
    # Only an LLM configuration imports the fallback engine (and the LLM client stack with
    # it); importing it here would stall the event loop for a second on an offline bot.
    fallback = sys.modules.get("agents.engines.fallback")
    if fallback is not None and isinstance(engine, fallback.FallbackEngine):
        stats = engine.stats()
        models = getattr(engine.primary, "models", None)
        return {
            "name": engine.primary.name,
            "model": models[0] if models else engine.primary.name,
            "fallback": engine.fallback.name,
            "breaker": stats.breaker_state,
            "llm_calls": stats.llm_calls,
            "llm_failures": stats.llm_failures,
            "fallbacks": stats.fallbacks,
            "last_failure": stats.last_failure_reason,
        }
    return {"name": getattr(engine, "name", type(engine).__name__), "model": None}


async def github_status(services: Services, *, timeout: float) -> dict[str, Any]:  # noqa: ASYNC109
    """Reachability and rate-limit budget of GitHub ("not configured" without a token)."""
    client = services.github
    if client is None:
        return {"configured": False}
    try:
        limit = await _within("GitHub", client.rate_limit(), timeout)
    except SourceUnavailableError as exc:
        return {"configured": True, "reachable": False, "reason": str(exc)}
    return {
        "configured": True,
        "reachable": True,
        "remaining": limit.remaining,
        "limit": limit.limit,
        "reset": limit.reset,
    }


async def index_status(
    services: Services,
    *,
    guild_id: int | None,
    timeout: float,  # noqa: ASYNC109
) -> dict[str, Any]:
    """Documents in the duplicate index for the guild's repository and the last issue sync."""
    settings = await services.guild_settings.resolve(guild_id)
    repo = settings.repo
    result: dict[str, Any] = {"repo": repo, "size": None, "last_sync": None}
    if services.dedup is not None and repo:
        result["size"] = await _within("index", services.dedup.count(repo), timeout)
    states = await _within("sync state", SyncStateRepository(services.db).list_all(), timeout)
    relevant = [s for s in states if repo is None or s.repo == repo.lower()]
    runs = [s.last_run_at for s in relevant if s.last_run_at is not None]
    if runs:
        result["last_sync"] = max(runs)
    return result


def _age(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m"
    return f"{seconds // 86400}d {seconds % 86400 // 3600}h"


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    return f"<t:{int(moment.timestamp())}:R>"


def status_fields(report: StatusReport) -> list[tuple[str, str]]:
    """The report as (name, value) pairs, in display order."""
    counts = " · ".join(f"{s}: {report.counts[s]}" for s in STATUS_ORDER if report.counts.get(s))
    fields = [
        (
            "Items",
            f"{counts or 'none yet'}\n"
            f"actionable: {report.actionable} · not actionable: {report.not_actionable}",
        ),
        (
            "Last 24 h",
            f"received: {_n(report.received_24h)} · filed: {_n(report.filed_24h)}",
        ),
    ]
    if report.oldest_waiting:
        oldest = report.oldest_waiting
        link = f" — {oldest['link']}" if oldest.get("link") else ""
        fields.append(("Oldest waiting", f"#{oldest['id']}, {_age(oldest['age_seconds'])}{link}"))
    else:
        fields.append(("Oldest waiting", "nothing awaits review"))
    fields.append(("Engine", _engine_line(report.engine)))
    fields.append(("GitHub", _github_line(report.github)))
    db = report.database
    fields.append(
        (
            "Database",
            f"{db.get('backend', '?')}: "
            + (f"ok ({db.get('ping_ms')} ms)" if db.get("ok") else "unreachable"),
        )
    )
    idx = report.index
    size = "?" if idx.get("size") is None else str(idx["size"])
    fields.append(
        (
            "Duplicate index",
            f"{idx.get('repo') or 'no repository'}: {size} documents · "
            f"last sync {_when(idx.get('last_sync'))}",
        )
    )
    waiting = f" ({report.queued} waiting)" if report.queued else ""
    fields.append(("Triage in flight", f"{report.in_flight}{waiting}"))
    fields.append(("Uptime", _age(report.uptime_seconds)))
    fields.append(("Version", report.version))
    if report.errors:
        fields.append(("Unavailable", "\n".join(report.errors)))
    return fields


def _n(value: int | None) -> str:
    return "?" if value is None else str(value)


def _engine_line(engine: dict[str, Any]) -> str:
    if engine.get("breaker") is None:
        name = str(engine.get("name", "?"))
        return f"{name} (no LLM configured)" if name.startswith("offline") else name
    line = (
        f"LLM {engine.get('model')} · breaker {engine['breaker']} · "
        f"calls {engine['llm_calls']}, failures {engine['llm_failures']}, "
        f"fallbacks to {engine['fallback']}: {engine['fallbacks']}"
    )
    if engine.get("last_failure"):
        line += f" · last failure: {engine['last_failure']}"
    return line


def _github_line(github: dict[str, Any]) -> str:
    if not github:
        return "?"
    if not github.get("configured"):
        return "not configured"
    if not github.get("reachable"):
        return f"unreachable ({github.get('reason', 'unknown')})"
    return f"reachable · rate limit {github['remaining']}/{github['limit']} left"


#: Where each /config key's environment default comes from: (settings section, field names).
_ENV_FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "feedback_channel_ids": ("discord", ("feedback_channel_ids",)),
    "review_channel_id": ("discord", ("review_channel_id",)),
    "maintainer_role_ids": ("discord", ("maintainer_role_ids",)),
    "repo": ("github", ("owner", "repo")),
    "duplicate_threshold": ("triage", ("duplicate_threshold",)),
    "possible_duplicate_threshold": ("triage", ("possible_duplicate_threshold",)),
    "review_confidence": ("triage", ("review_confidence",)),
    "triage_emoji": ("discord", ("triage_emoji",)),
    "approve_emoji": ("discord", ("approve_emoji",)),
    "reject_emoji": ("discord", ("reject_emoji",)),
    "ack_emoji": ("discord", ("ack_emoji",)),
    "not_actionable_emoji": ("discord", ("not_actionable_emoji",)),
    "comment_on_duplicates": ("github", ("comment_on_duplicates",)),
}


@dataclass(frozen=True)
class ConfigRow:
    """One effective /config value and where it comes from (stored, environment or default)."""

    key: str
    value: Any
    source: str


async def effective_config(services: Services, guild_id: int) -> list[ConfigRow]:
    """Every editable key with its effective value and source, in `EDITABLE_KEYS` order."""
    from bot.guild_settings import EDITABLE_KEYS

    stored = await services.guild_configs.get(guild_id)
    effective = (await services.guild_settings.resolve(guild_id)).model_dump()
    rows = []
    for key in EDITABLE_KEYS:
        if key in stored:
            source = "stored"
        elif _from_environment(services, key):
            source = "environment"
        else:
            source = "default"
        rows.append(ConfigRow(key=key, value=effective.get(key), source=source))
    return rows


def _from_environment(services: Services, key: str) -> bool:
    section_name, names = _ENV_FIELDS.get(key, ("", ()))
    section = getattr(services.settings, section_name, None)
    if section is None:
        return False
    return all(name in section.model_fields_set for name in names)


def format_config_value(key: str, value: Any) -> str:
    """A value as maintainers would type it, with channels and roles shown as mentions."""
    if value is None or value == []:
        return "not set"
    if key.endswith("channel_ids"):
        return ", ".join(f"<#{v}>" for v in value)
    if key.endswith("role_ids"):
        return ", ".join(f"<@&{v}>" for v in value)
    if key.endswith("channel_id"):
        return f"<#{value}>"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
