"""Who can reach /healthz and /metrics, and what a scrape storm costs the database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr
from sqlalchemy import event

from bot.health import HealthServer
from bot.sandbox.process import free_port
from bot.sandbox.stack import Sandbox, sandbox_stack
from bot.settings import Settings
from storage.embeddings import Embedder

TOKEN = "s3cret-scrape-token"


@pytest.fixture(scope="module")
async def sb(
    embedder: Embedder, tmp_path_factory: pytest.TempPathFactory, module_database_url: str | None
) -> AsyncIterator[Sandbox]:
    """The bot serving /healthz and /metrics from its own settings, with a token."""
    async with sandbox_stack(
        data_dir=tmp_path_factory.mktemp("health-access"),
        database_url=module_database_url,
        model=embedder.model,
        extra_env={"HEALTH_PORT": str(free_port()), "HEALTH_TOKEN": TOKEN},
    ) as sandbox:
        yield sandbox


def _metrics_url(sb: Sandbox) -> str:
    return f"http://127.0.0.1:{sb.settings.health_port}/metrics"


async def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
        return response.status, await response.text()


@contextmanager
def _status_queries(sb: Sandbox) -> Iterator[list[str]]:
    """Collect the GROUP BY status statements the database runs meanwhile."""
    seen: list[str] = []
    engine = sb.services.db.engine.sync_engine

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "GROUP BY" in statement.upper() and "feedback_items" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_metrics_need_the_token_and_healthz_does_not(sb: Sandbox) -> None:
    url = _metrics_url(sb)
    assert (await _get(url))[0] == 401
    assert (await _get(url, {"Authorization": "Bearer wrong-token"}))[0] == 401
    assert (await _get(url, {"Authorization": TOKEN}))[0] == 401
    status, text = await _get(url, {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and "iterateswarm_items" in text
    health, _ = await _get(url.replace("/metrics", "/healthz"))
    assert health == 200


async def test_a_scrape_storm_runs_one_status_query(sb: Sandbox) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    await asyncio.sleep(6)  # let the cache of the first test's scrape expire
    with _status_queries(sb) as seen:
        answers = await asyncio.gather(*(_get(_metrics_url(sb), headers) for _ in range(20)))
    assert {status for status, _ in answers} == {200}
    assert len(seen) == 1, seen


def test_the_default_bind_address_is_loopback() -> None:
    assert Settings(_env_file=None).health_host == "127.0.0.1"  # type: ignore[call-arg]


async def test_the_server_binds_where_it_is_told(sb: Sandbox) -> None:
    server = HealthServer(sb.services, port=0, token=SecretStr(TOKEN))
    await server.start()
    try:
        assert server.host == "127.0.0.1"
        assert [address[0] for address in server.bound_addresses] == ["127.0.0.1"]
    finally:
        await server.stop()
