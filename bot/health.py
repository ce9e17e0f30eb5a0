"""Health and metrics over HTTP: /healthz (gateway and database) and /metrics (Prometheus).

The server listens on 127.0.0.1 unless HEALTH_HOST says otherwise. With HEALTH_TOKEN set,
/metrics answers only requests carrying `Authorization: Bearer <token>` (compared in
constant time); /healthz stays open for probes and tells nothing but up or down. The
database query behind the item gauges is shared for a few seconds, so a storm of scrapes
runs it once.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections import OrderedDict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector
from pydantic import SecretStr

from agents.triage.ports import ItemEvent
from bot.services import Services
from storage.models import ItemStatus

log = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 2.0
#: Seconds from receipt to a triage verdict (review message or not-actionable).
LATENCY_BUCKETS = (0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600)
_TRIAGED_EVENTS = frozenset({"awaiting_review", "not_actionable"})
_REMEMBERED_ITEMS = 10_000
BREAKER_STATES = ("closed", "open", "half_open")
#: Seconds one database read of the item gauges serves scrapes for.
STATUS_CACHE_SECONDS = 5.0


class _LiveCollector(Collector):
    """Values read at scrape time from the engine, the GitHub client and the runner."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def collect(self) -> Iterator[Metric]:
        """Yield the current engine, GitHub and runner metrics."""
        yield from self._engine()
        yield from self._github()
        runner = self.services.runner
        yield _gauge(
            "iterateswarm_triage_in_flight",
            "Triage runs started and not yet finished",
            runner.in_flight,
        )
        yield _gauge(
            "iterateswarm_triage_queued", "Items waiting for a free triage run slot", runner.queued
        )
        yield _gauge(
            "iterateswarm_uptime_seconds",
            "Seconds since the services started",
            max(0.0, time.time() - self.services.started_at),
        )

    def _engine(self) -> Iterator[Metric]:
        from agents.engines.fallback import FallbackEngine

        engine = self.services.engine
        enabled = isinstance(engine, FallbackEngine)
        calls = CounterMetricFamily("iterateswarm_llm_calls", "Calls to the LLM engine")
        failures = CounterMetricFamily(
            "iterateswarm_llm_failures", "LLM calls that failed after retries"
        )
        fallbacks = CounterMetricFamily(
            "iterateswarm_llm_fallbacks", "Answers given by the fallback engine"
        )
        llm = GaugeMetricFamily("iterateswarm_llm_enabled", "1 when an LLM engine is configured")
        llm.add_metric([], 1 if enabled else 0)
        yield llm
        if not isinstance(engine, FallbackEngine):
            for family in (calls, failures, fallbacks):
                family.add_metric([], 0)
                yield family
            return
        stats = engine.stats()
        calls.add_metric([], stats.llm_calls)
        failures.add_metric([], stats.llm_failures)
        fallbacks.add_metric([], stats.fallbacks)
        yield from (calls, failures, fallbacks)
        breaker = GaugeMetricFamily(
            "iterateswarm_llm_breaker_state",
            "LLM circuit breaker: 1 for the current state",
            labels=["state"],
        )
        for state in BREAKER_STATES:
            breaker.add_metric([state], 1 if stats.breaker_state == state else 0)
        yield breaker

    def _github(self) -> Iterator[Metric]:
        client = self.services.github
        configured = GaugeMetricFamily(
            "iterateswarm_github_configured", "1 when a GitHub token is configured"
        )
        configured.add_metric([], 0 if client is None else 1)
        yield configured
        calls = CounterMetricFamily("iterateswarm_github_calls", "GitHub API calls")
        failed = CounterMetricFamily(
            "iterateswarm_github_failed_calls", "GitHub API calls that failed after retries"
        )
        calls.add_metric([], getattr(client, "calls", 0) if client else 0)
        failed.add_metric([], getattr(client, "failed_calls", 0) if client else 0)
        yield from (calls, failed)
        status = getattr(client, "last_rate_limit", None)
        if status is not None:
            remaining = GaugeMetricFamily(
                "iterateswarm_github_rate_limit_remaining", "Core REST requests left"
            )
            remaining.add_metric([], status.remaining)
            limit = GaugeMetricFamily(
                "iterateswarm_github_rate_limit_limit", "Core REST requests per hour"
            )
            limit.add_metric([], status.limit)
            yield from (remaining, limit)


class HealthServer:
    """aiohttp server on `port`: `/healthz` for probes and `/metrics` for Prometheus.

    Triage latency is observed from the graph's item events: the first `awaiting_review`
    or `not_actionable` event of an item records the seconds since the item was received.
    """

    def __init__(
        self,
        services: Services,
        port: int,
        *,
        host: str = "127.0.0.1",
        token: SecretStr | None = None,
        cache_seconds: float = STATUS_CACHE_SECONDS,
    ) -> None:
        self.services = services
        self.host = host
        self.port = port
        self._token = token.get_secret_value().encode() if token is not None else None
        self.cache_seconds = cache_seconds
        self._gauges_fresh_until = 0.0
        self._refreshing: asyncio.Task[None] | None = None
        self.registry = CollectorRegistry()
        self.triage_latency = Histogram(
            "iterateswarm_triage_latency_seconds",
            "Seconds from receiving feedback to its triage verdict",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.item_events = Counter(
            "iterateswarm_item_events",
            "Item events from the triage graph",
            ["event"],
            registry=self.registry,
        )
        self.items = Gauge(
            "iterateswarm_items", "Feedback items by status", ["status"], registry=self.registry
        )
        self.review_queue_age = Gauge(
            "iterateswarm_review_queue_oldest_age_seconds",
            "Seconds the oldest item awaiting review has waited (0 when none)",
            registry=self.registry,
        )
        self.database_up = Gauge(
            "iterateswarm_database_up", "1 when the database answers", registry=self.registry
        )
        self.registry.register(_LiveCollector(services))
        self._observed: OrderedDict[int, None] = OrderedDict()
        self._runner: web.AppRunner | None = None

    @property
    def bound_addresses(self) -> list[Any]:
        """The (host, port, …) tuples the server listens on."""
        return list(self._runner.addresses) if self._runner is not None else []

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Listen (port 0 picks a free one) and start observing item events."""
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self.services.notifier.register(self)
        log.info(
            "health and metrics on %s port %d (/metrics %s)",
            self.host,
            self.port,
            "needs HEALTH_TOKEN" if self._token else "open",
        )

    async def stop(self) -> None:
        """Stop listening and observing."""
        self.services.notifier.unregister(self)
        if self._refreshing is not None:
            self._refreshing.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def item_changed(self, item_id: int, event: ItemEvent) -> None:
        """Count the event; on an item's first verdict, observe its triage latency."""
        self.item_events.labels(event=event).inc()
        if event not in _TRIAGED_EVENTS or item_id in self._observed:
            return
        self._observed[item_id] = None
        while len(self._observed) > _REMEMBERED_ITEMS:
            self._observed.popitem(last=False)
        try:
            item = await self.services.items.get(item_id)
        except Exception:
            log.warning("could not read item %s for the latency metric", item_id, exc_info=True)
            return
        if item is None:
            return
        received = _aware(item.created_at)
        self.triage_latency.observe(max(0.0, (datetime.now(UTC) - received).total_seconds()))

    def _gateway_connected(self) -> bool:
        bot = self.services.extras.get("bot")
        if bot is None or bot.is_closed() or not bot.is_ready():
            return False
        shards = getattr(bot, "shards", None)
        if shards is None:
            return True
        return bool(shards) and all(not shard.is_closed() for shard in shards.values())

    async def _database_ok(self) -> bool:
        try:
            return await asyncio.wait_for(self.services.db.ping(), CHECK_TIMEOUT_SECONDS)
        except TimeoutError:
            return False

    async def healthz(self, _request: web.Request) -> web.Response:
        """200 when the gateway is connected and the database answers, else 503."""
        gateway = self._gateway_connected()
        database = await self._database_ok()
        healthy = gateway and database
        body: dict[str, Any] = {
            "status": "ok" if healthy else "unavailable",
            "gateway": gateway,
            "database": database,
            "uptime_seconds": round(max(0.0, time.time() - self.services.started_at), 1),
        }
        return web.json_response(body, status=200 if healthy else 503)

    def _authorised(self, request: web.Request) -> bool:
        if self._token is None:
            return True
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(presented.strip().encode(), self._token)

    async def metrics(self, request: web.Request) -> web.Response:
        """Prometheus text format; 401 without the bearer token when HEALTH_TOKEN is set."""
        if not self._authorised(request):
            return web.Response(
                status=401, text="401: Unauthorized\n", headers={"WWW-Authenticate": "Bearer"}
            )
        await self._fresh_database_gauges()
        payload = generate_latest(self.registry)
        return web.Response(body=payload, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _fresh_database_gauges(self) -> None:
        """Refresh the item gauges at most once per `cache_seconds`; concurrent scrapes wait
        for the one refresh in flight."""
        if time.monotonic() < self._gauges_fresh_until:
            return
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.get_running_loop().create_task(
                self._refresh_database_gauges()
            )
        await asyncio.shield(self._refreshing)

    async def _refresh_database_gauges(self) -> None:
        items = self.services.items
        try:
            counts, oldest = await asyncio.wait_for(
                asyncio.gather(
                    items.counts_by_status(), items.oldest_in(ItemStatus.AWAITING_REVIEW)
                ),
                CHECK_TIMEOUT_SECONDS,
            )
        except Exception:
            log.warning("metrics: database query failed", exc_info=True)
            self.database_up.set(0)
            return
        self.database_up.set(1)
        self._gauges_fresh_until = time.monotonic() + self.cache_seconds
        for status in ItemStatus:
            self.items.labels(status=status.value).set(counts.get(status.value, 0))
        age = 0.0
        if oldest is not None:
            age = max(0.0, (datetime.now(UTC) - _aware(oldest.updated_at)).total_seconds())
        self.review_queue_age.set(age)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, documentation)
    gauge.add_metric([], value)
    return gauge


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
