"""The LLM engine's traces in the database: engine names of any length, methods per model."""

from __future__ import annotations

import pytest

from agents.engines.base import ENGINE_NAME_MAX
from agents.engines.fallback import FallbackEngine
from storage.db import Database
from storage.items import ItemRepository
from storage.llm_methods import LLMMethodRepository
from storage.models import FeedbackItemBase, ItemStatus
from tests.agents.engines.test_fallback import CannedEngine, DownEngine

ENDPOINT = "http://127.0.0.1:8089/v1"


async def _stored_engine(database: Database, engine_name: str) -> str | None:
    repo = ItemRepository(database)
    item, _ = await repo.create(
        item=FeedbackItemBase(
            source_kind="channel", source_key="message:1", raw_text="The app crashes"
        ),
        actor="discord",
    )
    assert item.id is not None
    await repo.transition(item_id=item.id, to=ItemStatus.TRIAGING, actor="graph")
    moved = await repo.transition(
        item_id=item.id, to=ItemStatus.AWAITING_REVIEW, actor="graph", engine=engine_name
    )
    assert moved is not None
    stored = await repo.get(item.id)
    return stored.engine if stored is not None else None


@pytest.mark.parametrize(
    "name",
    [
        "llm:" + "organisation/" * 6 + "Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf",
        "offline (llm unavailable: HTTP 500; timeout; connection dropped; rate limited (429))",
    ],
)
async def test_long_engine_names_are_stored_whole(database: Database, name: str) -> None:
    assert 80 < len(name) <= ENGINE_NAME_MAX
    assert await _stored_engine(database, name) == name


async def test_the_longest_name_an_engine_gives_is_stored(database: Database) -> None:
    reason = "; ".join(["function_calling/json_schema/json_mode/prompt unsupported"] * 9)
    engine = FallbackEngine(DownEngine(reason), CannedEngine())
    await engine.classify("anything")
    assert len(engine.name) == ENGINE_NAME_MAX
    assert await _stored_engine(database, engine.name) == engine.name


async def test_methods_are_remembered_per_endpoint_and_model(database: Database) -> None:
    methods = LLMMethodRepository(database)
    assert await methods.recall(endpoint=ENDPOINT, model="gemma3-270m") is None
    await methods.remember(endpoint=ENDPOINT, model="gemma3-270m", method="json_schema")
    await methods.remember(endpoint=ENDPOINT, model="gemma3-270m", method="function_calling")
    await methods.remember(endpoint="https://api.openai.com/v1", model="gemma3-270m", method="x")
    assert await methods.recall(endpoint=ENDPOINT, model="gemma3-270m") == "function_calling"
    assert await methods.recall(endpoint=ENDPOINT + "/", model="gemma3-270m") == (
        "function_calling"
    )
    assert await methods.recall(endpoint=ENDPOINT, model="other") is None
    assert await methods.recall(endpoint="https://api.openai.com/v1", model="gemma3-270m") == "x"


async def test_long_and_unicode_keys_round_trip(database: Database) -> None:
    methods = LLMMethodRepository(database)
    endpoint = "http://ünïcode.example:8000/" + "v" * 400
    model = "模型/" + "m" * 400
    await methods.remember(endpoint=endpoint, model=model, method="prompt")
    assert await methods.recall(endpoint=endpoint, model=model) == "prompt"
    assert await methods.recall(endpoint=endpoint, model=model[:-1]) is None
