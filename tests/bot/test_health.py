"""/healthz and /metrics served over HTTP for the real bot running against the fakes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from bot.health import HealthServer
from bot.sandbox.stack import Sandbox, sandbox_stack
from storage.embeddings import Embedder
from storage.models import ItemStatus

EXPECTED_METRICS = {
    "iterateswarm_items",
    "iterateswarm_triage_latency_seconds",
    "iterateswarm_item_events",
    "iterateswarm_review_queue_oldest_age_seconds",
    "iterateswarm_database_up",
    "iterateswarm_llm_enabled",
    "iterateswarm_llm_calls",
    "iterateswarm_llm_failures",
    "iterateswarm_llm_fallbacks",
    "iterateswarm_github_configured",
    "iterateswarm_github_calls",
    "iterateswarm_github_failed_calls",
    "iterateswarm_triage_in_flight",
    "iterateswarm_triage_queued",
    "iterateswarm_uptime_seconds",
}


@pytest.fixture(scope="module")
async def sb(
    embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Sandbox]:
    async with sandbox_stack(
        data_dir=tmp_path_factory.mktemp("health"), model=embedder.model
    ) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
async def health(sb: Sandbox) -> AsyncIterator[HealthServer]:
    server = HealthServer(sb.services, port=0, host="127.0.0.1", cache_seconds=0)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def _get(server: HealthServer, path: str) -> tuple[int, str, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(server.url + path) as response,
    ):
        return response.status, response.headers["Content-Type"], await response.text()


async def _samples(server: HealthServer) -> dict[str, list[Sample]]:
    status, content_type, text = await _get(server, "/metrics")
    assert status == 200 and content_type.startswith("text/plain")
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def _value(samples: list[Sample], name: str, **labels: str) -> float:
    return next(s.value for s in samples if s.name == name and s.labels == labels)


async def test_healthz_is_ok_while_connected(health: HealthServer) -> None:
    status, content_type, text = await _get(health, "/healthz")
    assert status == 200 and content_type.startswith("application/json")
    body = json.loads(text)
    assert body["status"] == "ok" and body["gateway"] is True and body["database"] is True


async def test_healthz_is_unavailable_without_a_gateway(sb: Sandbox, health: HealthServer) -> None:
    bot = sb.services.extras.pop("bot")
    try:
        status, _, text = await _get(health, "/healthz")
    finally:
        sb.services.extras["bot"] = bot
    assert status == 503
    assert '"gateway": false' in text and '"database": true' in text


async def test_metrics_follow_triage(sb: Sandbox, health: HealthServer) -> None:
    before = await _samples(health)
    assert set(before) >= EXPECTED_METRICS
    latency_before = _value(
        before["iterateswarm_triage_latency_seconds"], "iterateswarm_triage_latency_seconds_count"
    )
    posted = await sb.discord.post_message(
        sb.discord.feedback_channel_id, sb.reporter, "Login fails with a 500 error after reset"
    )
    item = await sb.wait_for_item_from_message(int(posted["id"]))
    await sb.wait_for_item_status(item.id or 0, ItemStatus.AWAITING_REVIEW)
    await sb.wait_for_review_message(item.id or 0)

    after = await _samples(health)
    latency = after["iterateswarm_triage_latency_seconds"]
    assert _value(latency, "iterateswarm_triage_latency_seconds_count") == latency_before + 1
    assert _value(latency, "iterateswarm_triage_latency_seconds_sum") > 0
    counts = await sb.services.items.counts_by_status()
    for status in ItemStatus:
        assert _value(after["iterateswarm_items"], "iterateswarm_items", status=status.value) == (
            counts.get(status.value, 0)
        )
    assert (
        _value(
            after["iterateswarm_item_events"],
            "iterateswarm_item_events_total",
            event="awaiting_review",
        )
        >= 1
    )
    age = after["iterateswarm_review_queue_oldest_age_seconds"]
    assert _value(age, "iterateswarm_review_queue_oldest_age_seconds") > 0
    assert _value(after["iterateswarm_database_up"], "iterateswarm_database_up") == 1
    assert _value(after["iterateswarm_llm_enabled"], "iterateswarm_llm_enabled") == 0
    assert "iterateswarm_llm_breaker_state" not in after


async def test_metrics_show_github_calls_and_budget(sb: Sandbox, health: HealthServer) -> None:
    assert sb.services.github is not None
    before = await _samples(health)
    calls_before = _value(before["iterateswarm_github_calls"], "iterateswarm_github_calls_total")
    limit = await sb.services.github.rate_limit()
    after = await _samples(health)
    assert _value(after["iterateswarm_github_calls"], "iterateswarm_github_calls_total") == (
        calls_before + 1
    )
    remaining = after["iterateswarm_github_rate_limit_remaining"]
    assert _value(remaining, "iterateswarm_github_rate_limit_remaining") == limit.remaining
    assert (
        _value(
            after["iterateswarm_github_rate_limit_limit"], "iterateswarm_github_rate_limit_limit"
        )
        == limit.limit
    )


async def test_metrics_of_the_llm_engine_and_its_breaker(
    embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> None:
    async with sandbox_stack(
        data_dir=tmp_path_factory.mktemp("health-llm"), model=embedder.model, llm=True
    ) as llm_sb:
        server = HealthServer(llm_sb.services, port=0, host="127.0.0.1")
        await server.start()
        try:
            posted = await llm_sb.discord.post_message(
                llm_sb.discord.feedback_channel_id,
                llm_sb.reporter,
                "The dashboard chart shows yesterday's data twice",
            )
            item = await llm_sb.wait_for_item_from_message(int(posted["id"]))
            await llm_sb.wait_for_item(
                lambda i: i.status not in (ItemStatus.RECEIVED, ItemStatus.TRIAGING),
                item_id=item.id,
            )
            samples = await _samples(server)
        finally:
            await server.stop()
    assert _value(samples["iterateswarm_llm_enabled"], "iterateswarm_llm_enabled") == 1
    assert _value(samples["iterateswarm_llm_calls"], "iterateswarm_llm_calls_total") >= 1
    breaker = samples["iterateswarm_llm_breaker_state"]
    states = {s.labels["state"]: s.value for s in breaker}
    assert sorted(states) == ["closed", "half_open", "open"]
    assert sum(states.values()) == 1
