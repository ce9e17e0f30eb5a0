"""Wiring: builds every long-lived service once and closes them in order."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agents.engines.base import TriageEngine
from agents.engines.corrections import CorrectionMemory
from agents.triage.checkpoint import open_checkpointer
from agents.triage.context import TriageContext
from agents.triage.filing_retry import FilingRetryPolicy
from agents.triage.graph import build_graph
from agents.triage.runner import TriageRunner
from bot.guild_settings import GuildSettingsResolver
from bot.guilds import HomeGuilds
from bot.log import register_secret
from bot.notify import NotifierHub
from bot.settings import Settings
from storage.db import Database, upgrade
from storage.embeddings import Embedder
from storage.examples import ExampleRepository
from storage.guild_config import GuildConfigRepository
from storage.items import ItemRepository
from storage.llm_methods import LLMMethodRepository

if TYPE_CHECKING:
    from agents.dedup.finder import DuplicateIndex
    from agents.engines.llm import LLMEngine, MethodMemory
    from bot.github import GitHubClient
    from bot.personal_data import PersonalData

log = logging.getLogger(__name__)


@dataclass
class Services:
    """Everything the bot, the CLI and the demo share; built by `open_services`."""

    settings: Settings
    db: Database
    items: ItemRepository
    guild_configs: GuildConfigRepository
    guild_settings: GuildSettingsResolver
    embedder: Embedder
    engine: TriageEngine
    notifier: NotifierHub
    runner: TriageRunner
    dedup: DuplicateIndex | None = None
    github: GitHubClient | None = None
    corrections: CorrectionMemory | None = None
    home_guilds: HomeGuilds = field(default_factory=HomeGuilds)

    personal_data: PersonalData | None = None
    started_at: float = field(default_factory=time.time)
    extras: dict[str, Any] = field(default_factory=dict)


def build_engine(
    settings: Settings,
    embedder: Embedder,
    *,
    corrections: CorrectionMemory | None = None,
    method_memory: MethodMemory | None = None,
) -> TriageEngine:
    """The offline engine, behind the LLM engine when an API key is configured.

    Both consult `corrections` (the guilds' maintainer corrections) when given; the LLM
    engine keeps the structured-output method that works in `method_memory`.
    """
    from agents.engines.offline import OfflineEngine

    offline = OfflineEngine(embedder, corrections=corrections)
    if not settings.llm.enabled or settings.llm.api_key is None:
        return offline
    from agents.engines.fallback import FallbackEngine

    llm = build_llm(settings, corrections=corrections, method_memory=method_memory)
    return FallbackEngine(primary=llm, fallback=offline)


def build_llm(
    settings: Settings,
    *,
    corrections: CorrectionMemory | None = None,
    method_memory: MethodMemory | None = None,
) -> LLMEngine:
    """The LLM engine for the configured OpenAI-compatible endpoint (needs an API key)."""
    from agents.engines.llm import LLMConfig, LLMEngine

    llm = settings.llm
    return LLMEngine(
        LLMConfig(
            api_key=llm.api_key,
            base_url=llm.base_url,
            models=llm.models,
            requests_per_minute=llm.requests_per_minute,
            timeout_seconds=llm.timeout_seconds,
            structured_output_method=llm.structured_output,
            max_tokens_classify=llm.max_tokens_classify,
            max_tokens_spec=llm.max_tokens_spec,
            max_concurrency=llm.max_concurrency,
            system_role=llm.system_role,
        ),
        corrections=corrections,
        method_memory=method_memory,
    )


def build_github(settings: Settings) -> GitHubClient | None:
    """The GitHub client, when a token or a GitHub App is configured."""
    if not settings.github.has_credentials:
        return None
    from bot.github import GitHubClient

    return GitHubClient.from_settings(settings.github)


def _register_secrets(settings: Settings) -> None:
    secrets = (
        settings.discord.token,
        settings.github.token,
        settings.github.app_private_key,
        settings.llm.api_key,
        settings.health_token,
    )
    for secret in secrets:
        if secret is not None:
            register_secret(secret.get_secret_value())


@asynccontextmanager
async def open_services(
    settings: Settings,
    *,
    migrate: bool = True,
    load_model_now: bool = False,
    model: Any = None,
) -> AsyncIterator[Services]:
    """Open the database, checkpointer, model, index and clients; close them on exit.

    `model` is an already loaded SentenceTransformer to share (tests, the demo).
    """
    _register_secrets(settings)
    async with AsyncExitStack() as stack:
        if migrate:
            await upgrade(settings.db_url)
        db = Database(settings.db_url)
        stack.push_async_callback(db.close)
        items = ItemRepository(db)
        guild_configs = GuildConfigRepository(db)
        resolver = GuildSettingsResolver(settings, guild_configs)
        embedder = Embedder(model, runtime=settings.embedding_runtime, data_dir=settings.data_dir)
        stack.callback(embedder.close)
        loading = asyncio.get_running_loop().create_task(embedder.load())
        if load_model_now:
            await loading
        corrections = CorrectionMemory(
            ExampleRepository(db), embedder, threshold=settings.triage.correction_similarity
        )
        engine = build_engine(
            settings, embedder, corrections=corrections, method_memory=LLMMethodRepository(db)
        )
        github = build_github(settings)
        if github is not None:
            stack.push_async_callback(github.aclose)
            await github.warm_up()
        dedup = await _open_index(settings, embedder)
        stack.callback(dedup.close)
        checkpointer = await stack.enter_async_context(
            open_checkpointer(database_url=settings.db_url, data_dir=settings.data_dir)
        )
        notifier = NotifierHub()
        home_guilds = HomeGuilds()
        context = TriageContext(
            items=items,
            engine=engine,
            notifier=notifier,
            dedup=dedup,
            filer=github,
            default_labels=sorted(set(settings.github.label_map.values())),
            corrections=corrections,
            filing_retry=FilingRetryPolicy(
                limit=settings.triage.filing_auto_retries,
                base_delay=settings.triage.filing_retry_delay,
            ),
        )
        runner = TriageRunner(
            graph=build_graph(checkpointer),
            context=context,
            policy_for=resolver.policy_for,
            concurrency=settings.triage.concurrency,
            owns_guild=_ownership(settings, home_guilds),
        )
        services = Services(
            settings=settings,
            db=db,
            items=items,
            guild_configs=guild_configs,
            guild_settings=resolver,
            embedder=embedder,
            engine=engine,
            notifier=notifier,
            runner=runner,
            dedup=dedup,
            github=github,
            corrections=corrections,
            home_guilds=home_guilds,
        )
        services.personal_data = _personal_data(services, checkpointer)
        services.extras["model_loading"] = loading
        reembedding = asyncio.get_running_loop().create_task(_reembed_index(dedup, loading))
        services.extras["index_reembedding"] = reembedding
        try:
            yield services
        finally:
            await runner.drain(grace_seconds=5)
            for task in (loading, reembedding):
                if not task.done():
                    task.cancel()


def _personal_data(services: Services, checkpointer: Any) -> PersonalData:
    """Every store of personal data, asked to forget in this order (the items last)."""
    from agents.triage.checkpoint import ThreadCheckpoints
    from bot.personal_data import PersonalData
    from storage.comment_mirrors import CommentMirrorRepository
    from storage.guild_departures import GuildDepartureRepository
    from storage.item_privacy import ItemPrivacyRepository
    from storage.outbox import OutboxRepository

    stores: list[Any] = [ThreadCheckpoints(checkpointer)]
    if services.dedup is not None:
        stores.append(services.dedup)
    stores += [
        ExampleRepository(services.db),
        services.guild_configs,
        GuildDepartureRepository(services.db),
        OutboxRepository(services.db),
        CommentMirrorRepository(services.db),
    ]
    return PersonalData(
        items=services.items,
        privacy=ItemPrivacyRepository(services.db),
        runner=services.runner,
        stores=stores,
        embedder=services.embedder,
        corrections=services.corrections,
        index=services.dedup,
    )


async def _open_index(settings: Settings, embedder: Embedder) -> DuplicateIndex:
    from agents.dedup.finder import DuplicateIndex
    from storage.vectors import VectorStore

    store = await asyncio.to_thread(
        VectorStore.open, data_dir=settings.data_dir, url=settings.chroma_url, embedder=embedder
    )
    return DuplicateIndex(store, embedder)


async def _reembed_index(dedup: DuplicateIndex, loading: asyncio.Task[None]) -> int:
    """Once the model is in, bring index collections made by an earlier model up to date."""
    try:
        await loading
        count = await dedup.store.reembed_stale()
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("the duplicate index could not be embedded again; it keeps its vectors")
        return 0
    if count:
        log.info("duplicate index: %d documents embedded again with the current model", count)
    return count


def _ownership(settings: Settings, home: HomeGuilds) -> Any:
    """Guilds this process acts for: its shards' guilds that are home guilds."""
    on_my_shards = _shard_filter(settings)

    def owns(guild_id: int | None) -> bool:
        return on_my_shards(guild_id) and home.allows(guild_id)

    return owns


def _shard_filter(settings: Settings) -> Any:
    """Which guilds this process owns, by Discord's shard formula."""
    count, ids = settings.discord.shard_count, set(settings.discord.shard_ids)
    if count is None or not ids:
        return lambda _guild_id: True

    def owns(guild_id: int | None) -> bool:
        return guild_id is None or ((guild_id >> 22) % count) in ids

    return owns
