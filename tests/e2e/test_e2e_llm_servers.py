"""The running bot against the quirks of self-hosted LLM servers: the LLM still triages."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bot.sandbox.fake_openai import NAMED_QUIRKS, Quirks
from storage.llm_methods import LLMMethodRepository
from storage.models import ItemStatus, LLMMethod
from tests.e2e.harness import Deployment, complete, deployment

pytestmark = pytest.mark.slow

MODEL = "gemma3-270m"
LLM_ENV = {
    "OPENAI_MODEL_NAME": MODEL,
    "LLM_TIMEOUT_SECONDS": "5",
    "LLM_REQUESTS_PER_MINUTE": "600",
    "LLM_MAX_TOKENS_SPEC": "300",
}
#: Quirks the function-calling method meets; each gets its own report, in this order.
TOOL_QUIRKS = {
    "abort_on_long_strings": "Exporting a report to PDF crashes the whole application.",
    "tool_arguments_object": "The calendar widget crashes when I pick a date in March.",
    "fenced_content": "Uploading an avatar larger than 2 MB fails with an error.",
    "runaway": "The search page freezes and crashes after typing three letters.",
}


async def _triaged_by(deployed: Deployment, text: str) -> str:
    message_id = await deployed.post(deployed.new_user("reporter"), complete(text))
    item = await deployed.item_of(message_id)
    assert item.id is not None
    await deployed.wait_status(item.id, ItemStatus.AWAITING_REVIEW, within=120)
    stored = await deployed.items.get(item.id)
    assert stored is not None and stored.spec is not None
    assert stored.spec["title"], stored.spec
    return str(stored.engine)


async def test_tool_call_quirks_are_answered_by_the_llm(backend: str, tmp_path: Path) -> None:
    async with deployment(tmp_path, backend=backend, llm=True, extra_env=LLM_ENV) as deployed:
        assert deployed.openai is not None
        for quirk, text in TOOL_QUIRKS.items():
            deployed.openai.quirks = NAMED_QUIRKS[quirk]
            engine = await _triaged_by(deployed, text)
            assert engine == f"llm:{MODEL}", f"{quirk}: {engine}"
        bodies = [request.body for request in deployed.openai.requests]
        assert all(body.get("tools") for body in bodies), "function calling throughout"
        assert all(body.get("max_tokens") in (300, 800) for body in bodies)
        assert deployed.process.alive


async def test_refused_methods_are_negotiated_once_and_remembered_across_a_restart(
    backend: str, tmp_path: Path
) -> None:
    async with deployment(tmp_path, backend=backend, llm=True, extra_env=LLM_ENV) as deployed:
        fake = deployed.openai
        assert fake is not None
        fake.quirks = Quirks(reject_tools=True, reject_json_schema=True)
        first = "Saving a draft fails with an error when the title has an emoji."
        assert await _triaged_by(deployed, first) == f"llm:{MODEL}"
        methods = LLMMethodRepository(deployed.db)
        assert await methods.recall(endpoint=fake.url, model=MODEL) == "json_mode"
        kinds = [(r.body.get("response_format") or {}).get("type") for r in fake.requests]
        assert kinds[:3] == [None, "json_schema", "json_object"], "tools, then json_schema"
        assert bool(fake.requests[0].body.get("tools"))

        await deployed.process.stop()
        await deployed.process.restart()
        fake.requests.clear()
        second = "The notification bell crashes the page when it shows 100 alerts."
        assert await _triaged_by(deployed, second) == f"llm:{MODEL}"
        assert [r.body.get("response_format") for r in fake.requests] == [
            {"type": "json_object"}
        ] * len(fake.requests), "no probing after the restart"
        async with deployed.db.sessions() as session:
            rows = (await session.scalars(select(LLMMethod))).all()
        assert [(row.model, row.method) for row in rows] == [(MODEL, "json_mode")]
