"""An LLM that hangs: the breaker opens and the offline engine triages.

(Answers outside the schema fall back item by item without opening the breaker: the server
is up; `tests/agents/engines/test_fallback.py` covers that.)
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from storage.models import ItemStatus
from tests.e2e.harness import Deployment, complete, deployment

pytestmark = pytest.mark.slow

LLM_ENV = {"LLM_TIMEOUT_SECONDS": "1", "LLM_REQUESTS_PER_MINUTE": "600"}
REPORTS = [
    "The password reset email never arrives for addresses with a plus sign.",
    "Dragging a card between columns on the board duplicates the card.",
    "The audio in recorded meetings is out of sync by about two seconds.",
    "Printing a report cuts off the last column of the table.",
    "The app logs me out every few minutes while I am still typing.",
    "Notifications show the wrong time zone for events abroad.",
]


async def _triaged(deployed: Deployment, text: str) -> int:
    message_id = await deployed.post(deployed.new_user("reporter"), complete(text))
    item = await deployed.item_of(message_id)
    assert item.id is not None
    await deployed.wait_status(item.id, ItemStatus.AWAITING_REVIEW, within=120)
    return item.id


async def _engine_field(deployed: Deployment) -> str:
    status = await deployed.discord.slash_command("status", None, deployed.maintainer)
    await status.wait_response(timeout=10)
    report = await status.wait_for(lambda r: bool(r.embeds), timeout=30)
    fields = {f["name"]: f["value"] for f in report.embeds[0].get("fields", [])}
    return str(fields.get("Engine", ""))


async def test_llm_timeouts_open_the_breaker_and_offline_takes_over(
    backend: str, tmp_path: Path
) -> None:
    async with deployment(tmp_path, backend=backend, llm=True, extra_env=LLM_ENV) as deployed:
        assert deployed.openai is not None
        deployed.openai.set_default("timeout")

        item_ids = await asyncio.gather(*(_triaged(deployed, text) for text in REPORTS))
        assert deployed.openai.requests, "the LLM was tried first"
        for item_id in item_ids:
            item = await deployed.items.get(item_id)
            assert item is not None and item.engine is not None
            assert "offline" in item.engine, item.engine
            review = await deployed.review_of(item_id)
            footer = str((review.embeds[0].get("footer") or {}).get("text"))
            assert "engine offline" in footer

        engine_line = await _engine_field(deployed)
        assert "breaker open" in engine_line, engine_line

        calls_before = len(deployed.openai.requests)
        later = await _triaged(
            deployed, "Search results flicker and reorder while the page is still loading."
        )
        item = await deployed.items.get(later)
        assert item is not None and "offline" in (item.engine or "")
        assert len(deployed.openai.requests) == calls_before, "an open breaker skips the LLM"
        assert deployed.process.alive
