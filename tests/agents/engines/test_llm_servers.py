"""LLMEngine against the quirks of self-hosted servers: schemas, methods, bounds, repairs."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from agents.engines.base import Classification, Spec
from agents.engines.llm import (
    InMemoryMethods,
    LLMConfig,
    LLMEngine,
    LLMUnavailableError,
)
from agents.triage import prompts
from bot.sandbox.fake_openai import NAMED_QUIRKS, FakeOpenAI, Quirks

LABELS = ["bug", "enhancement", "question"]
CONSTRAINTS = {
    "maxLength",
    "minLength",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "maxItems",
    "minItems",
}
METHODS = ["function_calling", "json_schema", "json_mode", "prompt"]


async def _no_wait(seconds: float) -> None:
    return None


def _engine(fake: FakeOpenAI, **overrides: Any) -> LLMEngine:
    memory = overrides.pop("memory", None)
    settings: dict[str, Any] = {
        "api_key": "sk-test",
        "base_url": fake.url,
        "models": ("model-a",),
        "timeout_seconds": 1.0,
        "requests_per_minute": 1e6,
    }
    settings.update(overrides)
    return LLMEngine(LLMConfig(**settings), sleep=_no_wait, method_memory=memory)


def _verdict() -> Classification:
    return Classification(
        kind="bug", severity="high", confidence=0.9, actionable=True, reasoning="crash"
    )


def _keys(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {k for value in node.values() for k in _keys(value)}
    if isinstance(node, list):
        return {k for value in node for k in _keys(value)}
    return set()


def _sent_schema(body: dict[str, Any]) -> Any:
    if body.get("tools"):
        return body["tools"][0]["function"]["parameters"]
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        return response_format["json_schema"]["schema"]
    text = "\n".join(str(m.get("content")) for m in body["messages"])
    return json.loads(text.split("```json\n", 1)[1].split("\n```", 1)[0])


@pytest.mark.parametrize("method", METHODS)
async def test_schemas_sent_carry_no_length_pattern_or_range_constraints(
    fake: FakeOpenAI, method: str
) -> None:
    engine = _engine(fake, structured_output_method=method)
    await engine.classify("The editor crashes when I paste an image")
    await engine.draft_spec("The editor crashes when I paste an image", _verdict(), labels=LABELS)
    assert len(fake.requests) == 2
    for request in fake.requests:
        schema = _sent_schema(request.body)
        assert "properties" in json.dumps(schema)
        assert not _keys(schema) & CONSTRAINTS, _keys(schema) & CONSTRAINTS


async def test_a_server_that_dies_on_long_string_grammars_answers_both_calls(
    fake: FakeOpenAI,
) -> None:
    fake.quirks = NAMED_QUIRKS["abort_on_long_strings"]
    engine = _engine(fake)
    verdict = await engine.classify("The app crashes when I open settings")
    spec = await engine.draft_spec("The app crashes when I open settings", verdict, labels=LABELS)
    assert verdict.kind == "bug" and spec.labels == ["bug"]
    assert [r.body.get("tools") is not None for r in fake.requests] == [True, True]


@pytest.mark.parametrize("quirk", ["tool_arguments_object", "fenced_content", "runaway"])
@pytest.mark.parametrize("method", METHODS)
async def test_answer_shapes_of_real_servers_are_understood(
    fake: FakeOpenAI, quirk: str, method: str
) -> None:
    fake.quirks = NAMED_QUIRKS[quirk]
    engine = _engine(fake, structured_output_method=method)
    verdict = await engine.classify("Please add a dark mode to the dashboard")
    spec = await engine.draft_spec("Please add a dark mode", verdict, labels=LABELS)
    assert verdict.kind == "feature"
    assert spec.title.startswith("Please add a dark mode")
    assert len(fake.requests) == 2, "understood at the first answer, no retry"


async def test_max_tokens_bound_each_call(fake: FakeOpenAI) -> None:
    engine = _engine(fake, max_tokens_classify=123, max_tokens_spec=456)
    await engine.classify("The app crashes")
    await engine.draft_spec("The app crashes", _verdict(), labels=LABELS)
    assert [r.body.get("max_tokens") for r in fake.requests] == [123, 456]


async def test_auto_falls_back_past_unsupported_methods_and_remembers(fake: FakeOpenAI) -> None:
    fake.quirks = Quirks(reject_tools=True, reject_json_schema=True)
    memory = InMemoryMethods()
    engine = _engine(fake, memory=memory)
    verdict = await engine.classify("The app crashes when I open settings")
    assert verdict.kind == "bug"
    sent = [r.body for r in fake.requests]
    assert [bool(b.get("tools")) for b in sent] == [True, False, False]
    assert [(b.get("response_format") or {}).get("type") for b in sent] == [
        None,
        "json_schema",
        "json_object",
    ]
    assert await memory.recall(endpoint=fake.url, model="model-a") == "json_mode"

    fake.requests.clear()
    restarted = _engine(fake, memory=memory)
    await restarted.draft_spec("The app crashes", verdict, labels=LABELS)
    assert len(fake.requests) == 1, "a remembered method is used without probing"
    assert fake.requests[0].body["response_format"] == {"type": "json_object"}


async def test_a_remembered_method_that_stops_working_is_negotiated_again(
    fake: FakeOpenAI,
) -> None:
    memory = InMemoryMethods()
    await memory.remember(endpoint=fake.url, model="model-a", method="json_schema")
    fake.quirks = Quirks(reject_json_schema=True)
    verdict = await _engine(fake, memory=memory).classify("The app crashes")
    assert verdict.kind == "bug"
    assert await memory.recall(endpoint=fake.url, model="model-a") == "function_calling"


async def test_a_configured_method_is_used_as_is(fake: FakeOpenAI) -> None:
    fake.quirks = Quirks(reject_json_schema=True)
    engine = _engine(fake, structured_output_method="json_schema")
    with pytest.raises(LLMUnavailableError) as failure:
        await engine.classify("The app crashes")
    assert "HTTP 500" in failure.value.reason
    assert all(r.body["response_format"]["type"] == "json_schema" for r in fake.requests)


async def test_an_unreachable_server_is_not_probed_method_by_method() -> None:
    engine = LLMEngine(
        LLMConfig(api_key="sk-test", base_url="http://127.0.0.1:9/v1", models=["m"]),
        sleep=_no_wait,
    )
    with pytest.raises(LLMUnavailableError) as failure:
        await engine.classify("anything")
    assert failure.value.reason == "connection failed"
    assert failure.value.server_failure


async def test_prompt_method_parses_the_first_json_object_of_a_chatty_answer(
    fake: FakeOpenAI,
) -> None:
    engine = _engine(fake, structured_output_method="prompt")
    verdict = await engine.classify("How do I export my data?")
    assert verdict.kind == "question"
    body = fake.requests[0].body
    assert "tools" not in body and "response_format" not in body
    assert "```json" in json.dumps(body["messages"]), "the schema is written into the prompt"


async def test_overlong_and_out_of_range_fields_are_fitted_not_rejected(fake: FakeOpenAI) -> None:
    fake.script(
        [
            {"confidence": 7, "reasoning": "r" * 5000},
            {
                "title": "T" * 300,
                "labels": [*LABELS] * 9,
                "steps_to_reproduce": ["step"] * 50,
                "confidence": -2,
            },
        ]
    )
    engine = _engine(fake)
    verdict = await engine.classify("The app crashes")
    spec = await engine.draft_spec("The app crashes", verdict, labels=LABELS)
    assert verdict.confidence == 1.0 and len(verdict.reasoning) == 2000
    assert len(spec.title) == 80 and spec.confidence == 0.0
    assert len(spec.steps_to_reproduce) == 20 and spec.labels == LABELS
    assert len(fake.requests) == 2, "fitted answers need no retry"
    Spec.model_validate(spec.model_dump())


async def test_a_short_title_is_filled_from_the_description(fake: FakeOpenAI) -> None:
    fake.script([{"title": "", "description": "Export to CSV freezes the app"}])
    spec = await _engine(fake).draft_spec("Export freezes", _verdict(), labels=LABELS)
    assert spec.title == "Export to CSV freezes the app"


@pytest.mark.parametrize("bad", ["malformed", "invalid"])
async def test_a_malformed_answer_is_retried_once_with_the_error(
    fake: FakeOpenAI, bad: str
) -> None:
    fake.script([bad, "ok"])
    verdict = await _engine(fake).classify("The app crashes")
    assert verdict.kind == "bug"
    assert len(fake.requests) == 2
    retry = fake.requests[1].body["messages"]
    assert "not valid" in json.dumps(retry[-1]).lower()


async def test_a_malformed_answer_twice_is_one_failure(fake: FakeOpenAI) -> None:
    fake.set_default("malformed")
    engine = _engine(fake)
    with pytest.raises(LLMUnavailableError) as failure:
        await engine.classify("The app crashes")
    assert failure.value.reason == "invalid output"
    assert not failure.value.server_failure
    assert len(fake.requests) == 2
    assert engine.counters.malformed == 1


@pytest.mark.parametrize("name", sorted(NAMED_QUIRKS))
async def test_every_named_quirk_is_handled_by_auto(fake: FakeOpenAI, name: str) -> None:
    fake.quirks = NAMED_QUIRKS[name]
    engine = _engine(fake)
    verdict = await engine.classify("The app crashes when I open settings")
    spec = await engine.draft_spec("The app crashes", verdict, labels=LABELS)
    assert verdict.kind == "bug" and isinstance(spec, Spec)
    assert engine.counters.malformed == 0


async def test_system_role_user_opens_the_user_message_with_the_instructions(
    fake: FakeOpenAI,
) -> None:
    engine = _engine(fake, system_role="user")
    verdict = await engine.classify("The app crashes")
    assert verdict.kind == "bug"
    messages = fake.requests[0].body["messages"]
    assert [m["role"] for m in messages] == ["user"]
    assert messages[0]["content"].startswith(prompts.CLASSIFY_SYSTEM_PROMPT)
    assert messages[0]["content"].rstrip().endswith("</feedback>")


async def test_a_cut_short_answer_keeps_its_short_fields_and_long_text(fake: FakeOpenAI) -> None:
    fake.quirks = Quirks(runaway=True)
    fake.script([{"description": "d" * 10000}])
    spec = await _engine(fake, max_tokens_spec=200).draft_spec(
        "The app crashes", _verdict(), labels=LABELS
    )
    assert spec.title == "The app crashes" and spec.labels == ["bug"]
    assert spec.description.startswith("ddd") and len(spec.description) < 800


async def test_a_server_outage_during_negotiation_fails_the_waiting_calls_at_once(
    fake: FakeOpenAI,
) -> None:
    fake.set_default("500")
    engine = _engine(fake, max_concurrency=8)
    results = await asyncio.gather(
        *(engine.classify(f"The app crashes ({n})") for n in range(6)), return_exceptions=True
    )
    assert all(isinstance(r, LLMUnavailableError) for r in results)
    assert {r.reason for r in results if isinstance(r, LLMUnavailableError)} == {"HTTP 500"}
    assert len(fake.requests) == 3, "one call negotiated (three attempts); the others waited"
    fake.set_default("ok")
    verdict = await engine.classify("The app crashes")
    assert verdict.kind == "bug", "a later call negotiates again"
