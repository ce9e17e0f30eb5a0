"""The fake OpenAI server: structured answers for real clients, scripted failures, recording."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from langchain_openai import ChatOpenAI

from agents.engines.base import Classification, Spec
from bot.sandbox.fake_openai import NAMED_QUIRKS, FakeOpenAI, Quirks

METHODS = ["function_calling", "json_schema"]


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(retry_after_seconds=7, hang_seconds=5) as server:
        yield server


def _chat(fake: FakeOpenAI, **kwargs: Any) -> ChatOpenAI:
    return ChatOpenAI(
        model="gpt-4o-mini", api_key="sk-test", base_url=fake.url, max_retries=0, **kwargs
    )


def _user(text: str, labels: str = "bug, enhancement, question") -> list[tuple[str, str]]:
    return [
        ("system", "You triage feedback."),
        ("user", f"<allowed_labels>{labels}</allowed_labels>\n<feedback>\n{text}\n</feedback>"),
    ]


async def _post(fake: FakeOpenAI, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{fake.url}/chat/completions", json=body) as response,
    ):
        return response.status, dict(response.headers), await response.json()


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("The app crashes whenever I open settings", "bug"),
        ("Please add a dark mode to the dashboard", "feature"),
        ("How do I export my data?", "question"),
    ],
)
async def test_classification_follows_the_keyword_rule(
    fake: FakeOpenAI, method: str, text: str, kind: str
) -> None:
    runnable = _chat(fake).with_structured_output(Classification, method=method)
    verdict = await runnable.ainvoke(_user(text))
    assert isinstance(verdict, Classification)
    assert verdict.kind == kind
    assert verdict.actionable


@pytest.mark.parametrize("method", METHODS)
async def test_spec_is_valid_and_titled_from_the_first_words(fake: FakeOpenAI, method: str) -> None:
    runnable = _chat(fake).with_structured_output(Spec, method=method)
    spec = await runnable.ainvoke(
        _user("Crash on login after the update. It worked yesterday, now it does not.")
    )
    assert isinstance(spec, Spec)
    assert spec.title.startswith("Crash on login after the update")
    assert len(spec.title) <= 80
    assert spec.labels == ["bug"]
    assert "Crash on login" in spec.description


async def test_praise_alone_is_not_actionable(fake: FakeOpenAI) -> None:
    runnable = _chat(fake).with_structured_output(Classification)
    verdict = await runnable.ainvoke(_user("Thanks, love this project"))
    assert isinstance(verdict, Classification)
    assert not verdict.actionable


async def test_overrides_are_merged_into_the_answer(fake: FakeOpenAI) -> None:
    fake.script([{"labels": ["bug", "made-up"], "title": "Scripted title"}])
    runnable = _chat(fake).with_structured_output(Spec)
    spec = await runnable.ainvoke(_user("it crashes"))
    assert isinstance(spec, Spec)
    assert spec.labels == ["bug", "made-up"]
    assert spec.title == "Scripted title"


async def test_requests_are_recorded_with_model_and_messages(fake: FakeOpenAI) -> None:
    await _chat(fake).with_structured_output(Classification).ainvoke(_user("hello?"))
    await ChatOpenAI(model="gpt-4o", api_key="sk-test", base_url=fake.url, max_retries=0).ainvoke(
        "plain"
    )
    assert fake.models_called == ["gpt-4o-mini", "gpt-4o"]
    first = fake.requests[0]
    assert "<feedback>\nhello?\n</feedback>" in first.user_text
    assert first.system_text == "You triage feedback."
    assert first.authorization == "Bearer sk-test"
    assert first.behaviour == "ok"


async def test_script_runs_in_order_then_default_applies(fake: FakeOpenAI) -> None:
    fake.script(["500", "429"])
    fake.set_default("malformed")
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    statuses = [(await _post(fake, body))[0] for _ in range(3)]
    assert statuses == [500, 429, 200]
    assert [r.behaviour for r in fake.requests] == ["500", "429", "malformed"]


async def test_429_carries_retry_after_and_an_openai_error_body(fake: FakeOpenAI) -> None:
    fake.script(["429"])
    status, headers, payload = await _post(fake, {"model": "m", "messages": []})
    assert status == 429
    assert headers["Retry-After"] == "7"
    assert payload["error"]["code"] == "rate_limit_exceeded"


async def test_malformed_content_is_not_json(fake: FakeOpenAI) -> None:
    fake.script(["malformed"])
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "<feedback>x</feedback>"}],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "Classification", "schema": Classification.model_json_schema()},
        },
    }
    _, _, payload = await _post(fake, body)
    content = payload["choices"][0]["message"]["content"]
    with pytest.raises(json.JSONDecodeError):
        json.loads(content)


@pytest.mark.parametrize("method", METHODS)
async def test_invalid_output_is_rejected_by_the_client(fake: FakeOpenAI, method: str) -> None:
    fake.script(["invalid"])
    runnable = _chat(fake).with_structured_output(Classification, method=method)
    with pytest.raises(ValueError):
        await runnable.ainvoke(_user("it crashes"))


async def test_timeout_outlasts_the_client(fake: FakeOpenAI) -> None:
    fake.script(["timeout"])
    timeout = aiohttp.ClientTimeout(total=0.2)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        with pytest.raises(TimeoutError):
            async with session.post(
                f"{fake.url}/chat/completions", json={"model": "m", "messages": []}
            ) as response:
                await response.read()


async def test_wrong_api_key_is_refused_when_a_key_is_required() -> None:
    async with FakeOpenAI(api_key="sk-right") as server:
        chat = ChatOpenAI(model="m", api_key="sk-wrong", base_url=server.url, max_retries=0)
        with pytest.raises(Exception, match="401"):
            await chat.ainvoke("hi")


async def test_models_endpoint_lists_the_configured_models(fake: FakeOpenAI) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{fake.url}/models") as response:
        payload = await response.json()
    assert [m["id"] for m in payload["data"]] == ["gpt-4o-mini", "gpt-4o"]


def test_unknown_behaviour_is_refused() -> None:
    fake = FakeOpenAI()
    with pytest.raises(ValueError, match="unknown behaviour"):
        fake.script(["ok", "teapot"])
    with pytest.raises(RuntimeError):
        _ = fake.url


async def test_reset_forgets_requests_and_script(fake: FakeOpenAI) -> None:
    fake.script(["500", "500"])
    await _post(fake, {"model": "m", "messages": []})
    fake.reset()
    assert fake.requests == []
    status, _, _ = await _post(fake, {"model": "m", "messages": []})
    assert status == 200


def _tool_body(schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "model": "m",
        "messages": [{"role": "user", "content": "<feedback>\nit crashes\n</feedback>"}],
        "tools": [{"type": "function", "function": {"name": "Answer", "parameters": schema}}],
        "tool_choice": {"type": "function", "function": {"name": "Answer"}},
        **extra,
    }


async def test_quirk_aborts_the_connection_on_a_long_string_in_a_tool_schema(
    fake: FakeOpenAI,
) -> None:
    import openai

    from agents.engines.llm import failure_reason

    fake.quirks = NAMED_QUIRKS["abort_on_long_strings"]
    client = openai.AsyncOpenAI(api_key="sk-test", base_url=fake.url, max_retries=0)
    long_schema = Classification.model_json_schema()
    with pytest.raises(openai.APIConnectionError) as dropped:
        await client.chat.completions.create(**_tool_body(long_schema))
    assert failure_reason(dropped.value) == "connection dropped"
    short = {"type": "object", "properties": {"kind": {"type": "string", "maxLength": 100}}}
    answer = await client.chat.completions.create(**_tool_body(short))
    assert answer.choices[0].message.tool_calls


async def test_quirks_refuse_json_schema_and_tools(fake: FakeOpenAI) -> None:
    fake.quirks = Quirks(reject_json_schema=True, reject_tools=True)
    body = {
        "model": "m",
        "messages": [],
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}},
    }
    status, _, payload = await _post(fake, body)
    assert status == 500 and "json_schema" in payload["error"]["message"]
    status, _, payload = await _post(fake, _tool_body({"type": "object"}))
    assert status == 400 and "does not support tools" in payload["error"]["message"]


async def test_quirks_shape_the_answer(fake: FakeOpenAI) -> None:
    schema = {"type": "object", "properties": {"kind": {"type": "string"}}}
    fake.quirks = Quirks(tool_arguments="object")
    _, _, payload = await _post(fake, _tool_body(schema))
    arguments = payload["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
    assert arguments == {"kind": "bug"}
    fake.quirks = Quirks(fenced_content=True)
    _, _, payload = await _post(fake, _tool_body(schema))
    message = payload["choices"][0]["message"]
    assert "tool_calls" not in message
    assert message["content"] == '```json\n{"kind": "bug"}\n```'


async def test_runaway_fills_max_tokens_and_hangs_without_it(fake: FakeOpenAI) -> None:
    schema = {"type": "object", "properties": {"kind": {"type": "string"}}}
    fake.quirks = Quirks(runaway=True)
    _, _, payload = await _post(fake, _tool_body(schema, max_tokens=50))
    choice = payload["choices"][0]
    arguments = choice["message"]["tool_calls"][0]["function"]["arguments"]
    assert choice["finish_reason"] == "length" and len(arguments) == 200
    assert arguments.startswith('{"kind": "bug"}\n\n')
    timeout = aiohttp.ClientTimeout(total=0.3)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        with pytest.raises(TimeoutError):
            async with session.post(f"{fake.url}/chat/completions", json=_tool_body(schema)) as r:
                await r.read()


async def test_json_mode_and_prompt_answers_follow_a_schema_written_in_the_prompt(
    fake: FakeOpenAI,
) -> None:
    schema = json.dumps({"type": "object", "properties": {"kind": {"type": "string"}}})
    messages = [
        {"role": "system", "content": f"Answer in JSON.\n```json\n{schema}\n```"},
        {"role": "user", "content": "<feedback>\nplease add dark mode\n</feedback>"},
    ]
    _, _, payload = await _post(
        fake, {"model": "m", "messages": messages, "response_format": {"type": "json_object"}}
    )
    assert json.loads(payload["choices"][0]["message"]["content"]) == {"kind": "feature"}
    _, _, payload = await _post(fake, {"model": "m", "messages": messages})
    content = payload["choices"][0]["message"]["content"]
    assert '{"kind": "feature"}' in content and not content.startswith("{")
