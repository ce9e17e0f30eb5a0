"""The bot's lifecycle: start services and gateway, recover, serve, shut down on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord

from bot.client import IterateSwarmBot, apply_endpoint_overrides
from bot.diagnostics import install_dump_signals
from bot.retention import RETENTION_EVERY, RetentionJob
from bot.scheduler import ReviewScheduler
from bot.services import Services, open_services
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.health import HealthServer

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 8.0
RECONCILE_EVERY_SECONDS = 120
#: Exit code when Discord refuses a setting only the developer portal can change.
EXIT_PORTAL_SETTING = 2
#: A refused Message Content intent is not fatal (`bot.intents`); this is for anything else.
INTENTS_REFUSED = (
    "iterateswarm: Discord refused the gateway intents even without Message Content. Check "
    "Bot -> Privileged Gateway Intents for this application at "
    "https://discord.com/developers/applications, then start the bot again."
)
#: With MESSAGE_CONTENT_REQUIRED, a refused Message Content intent ends the process.
MESSAGE_CONTENT_REFUSED = (
    "iterateswarm: Discord refused the Message Content intent, which MESSAGE_CONTENT_REQUIRED "
    "asks for. Turn on Bot -> Privileged Gateway Intents -> Message Content Intent for this "
    "application at https://discord.com/developers/applications, then start the bot again."
)


async def recover(services: Services, scheduler: ReviewScheduler) -> None:
    """After READY: finish half-done triage, re-arm timers, start periodic jobs."""
    await services.runner.resume_pending()
    scheduler.arm()
    from datetime import timedelta

    scheduler.every(
        "reconcile", timedelta(seconds=RECONCILE_EVERY_SECONDS), services.runner.reconcile
    )
    sync = services.extras.get("issue_sync")
    if sync is not None:
        scheduler.every("sync-issues", services.settings.github.sync_interval, sync)
    retention = _retention(services)
    scheduler.every("retention", RETENTION_EVERY, retention.run)
    scheduler.start()


def _retention(services: Services) -> RetentionJob:
    """The retention job; a guild the bot is in again keeps its data."""
    bot = services.extras.get("bot")
    job = RetentionJob(services, present=lambda guild_id: bool(bot and bot.get_guild(guild_id)))
    services.extras["retention"] = job
    return job


@dataclass
class BotRuntime:
    """A started bot and what it runs on; `ready` is False if it stopped before READY."""

    services: Services
    scheduler: ReviewScheduler
    bot: IterateSwarmBot
    gateway: asyncio.Task[None]
    ready: bool


async def _wait_ready(
    bot: IterateSwarmBot,
    gateway: asyncio.Task[None],
    stop: asyncio.Event | None,
    within_seconds: float | None,
) -> bool:
    """Wait for READY; False when the gateway ended, `stop` was set or time ran out."""
    ready = asyncio.create_task(bot.ready_once.wait())
    waiting: set[asyncio.Future[object]] = {gateway, ready}  # type: ignore[arg-type]
    stopping = asyncio.create_task(stop.wait()) if stop is not None else None
    if stopping is not None:
        waiting.add(stopping)  # type: ignore[arg-type]
    try:
        await asyncio.wait(waiting, timeout=within_seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (ready, stopping):
            if task is not None:
                task.cancel()
    return bot.ready_once.is_set() and not (stop is not None and stop.is_set())


@asynccontextmanager
async def bot_running(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    ready_timeout: float | None = None,
    **service_options: Any,
) -> AsyncIterator[BotRuntime]:
    """Open the services, connect the bot, recover after READY; shut all down on exit.

    Args:
        settings: Process settings (DISCORD_BOT_TOKEN must be set).
        stop: Stop waiting for READY when this is set.
        ready_timeout: Give up waiting for READY after this many seconds.
        **service_options: Passed on to `open_services`.
    """
    assert settings.discord.token is not None
    apply_endpoint_overrides(settings)
    async with open_services(settings, **service_options) as services:
        scheduler = ReviewScheduler(services)
        services.extras["scheduler"] = scheduler
        _attach_sync(services)
        health = await _start_health(services)
        bot = IterateSwarmBot(settings, services)
        services.extras["bot"] = bot
        try:
            async with bot:
                gateway = asyncio.create_task(bot.start(settings.discord.token.get_secret_value()))
                ready = await _wait_ready(bot, gateway, stop, ready_timeout)
                if ready:
                    await recover(services, scheduler)
                try:
                    yield BotRuntime(services, scheduler, bot, gateway, ready)
                finally:
                    log.info("shutting down")
                    await services.runner.drain(grace_seconds=SHUTDOWN_GRACE_SECONDS)
                    scheduler.shutdown()
        finally:
            scheduler.shutdown()
            if health is not None:
                await health.stop()


async def run_bot(settings: Settings) -> int:
    """Run until SIGTERM/SIGINT or a fatal gateway error; returns the exit code."""
    assert settings.discord.token is not None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    install_dump_signals(loop)
    try:
        async with bot_running(settings, stop=stop) as runtime:
            if runtime.ready:
                stopping = asyncio.create_task(stop.wait())
                await asyncio.wait({runtime.gateway, stopping}, return_when=asyncio.FIRST_COMPLETED)
                stopping.cancel()
            gateway = runtime.gateway
            if gateway.done() and not gateway.cancelled() and gateway.exception() is not None:
                raise gateway.exception()  # type: ignore[misc]
    except discord.LoginFailure:
        log.error("Discord rejected DISCORD_BOT_TOKEN; check the token in your .env")
        return 1
    except discord.PrivilegedIntentsRequired:
        required = settings.discord.message_content_required
        print(MESSAGE_CONTENT_REFUSED if required else INTENTS_REFUSED, file=sys.stderr, flush=True)
        return EXIT_PORTAL_SETTING
    log.info("stopped")
    return 0


def _attach_sync(services: Services) -> None:
    """Keep the duplicate index in step with GitHub on a schedule (when both are configured)."""
    github, index = services.github, services.dedup
    if github is None or index is None:
        return
    from bot.notify import sync_listeners
    from bot.reconcile import IndexReconciler
    from bot.sync import IssueSync
    from storage.sync_state import SyncStateRepository

    state = SyncStateRepository(services.db)
    sync = IssueSync(github, state, index.upsert_issues, known_states=index.known_states)
    reconciler = IndexReconciler(
        github, state, index, interval=services.settings.github.reconcile_interval
    )

    async def sync_every_repository() -> None:
        repos = {services.settings.github.full_name}
        for values in (await services.guild_configs.all()).values():
            repos.add(values.get("repo"))
        for repo in sorted(r.lower() for r in repos if r):
            try:
                stats = await sync.run(repo)
            except Exception:
                log.warning(
                    "issue sync of %s failed; it resumes at the next run", repo, exc_info=True
                )
                continue
            log.info("synced %s: %d issue(s) in %.1fs", repo, stats.fetched, stats.duration)
            await sync_listeners(services.extras).synced(stats)
            try:
                await reconciler.run_if_due(repo)
            except Exception:
                log.warning("comparing the index of %s with GitHub failed", repo, exc_info=True)

    services.extras["issue_sync"] = sync_every_repository


async def _start_health(services: Services) -> HealthServer | None:
    settings = services.settings
    if settings.health_port is None:
        return None
    from bot.health import HealthServer

    server = HealthServer(
        services, port=settings.health_port, host=settings.health_host, token=settings.health_token
    )
    await server.start()
    return server
