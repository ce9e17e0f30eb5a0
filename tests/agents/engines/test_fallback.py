"""FallbackEngine: LLM first, the other engine when the LLM fails or its breaker is open."""

from __future__ import annotations

import asyncio

from agents.engines.base import ENGINE_NAME_MAX, Classification, Spec
from agents.engines.fallback import FallbackEngine
from agents.engines.llm import LLMConfig, LLMEngine, LLMUnavailableError
from agents.engines.resilience import CircuitBreaker
from bot.sandbox.fake_openai import FakeOpenAI

LABELS = ["bug", "enhancement", "question"]


class CannedEngine:
    """A minimal TriageEngine that always answers the same, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0

    @property
    def name(self) -> str:
        return "offline"

    async def classify(
        self, text: str, *, kind_hint: str | None = None, guild_id: int | None = None
    ) -> Classification:
        self.calls += 1
        return Classification(
            kind="question",
            severity="low",
            confidence=0.5,
            actionable=True,
            reasoning="Canned verdict.",
        )

    async def draft_spec(
        self, text: str, classification: Classification, *, labels: list[str]
    ) -> Spec:
        self.calls += 1
        return Spec(title="Canned title", description=text, labels=labels[:1], confidence=0.5)


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def _no_wait(seconds: float) -> None:
    return None


def _llm(fake: FakeOpenAI) -> LLMEngine:
    config = LLMConfig(
        api_key="sk-test",
        base_url=fake.url,
        models=["model-a"],
        timeout_seconds=0.3,
        requests_per_minute=1e6,
    )
    return LLMEngine(config, sleep=_no_wait)


def _engine(
    fake: FakeOpenAI, clock: ManualClock | None = None
) -> tuple[FallbackEngine, CannedEngine]:
    canned = CannedEngine()
    breaker = CircuitBreaker(clock=clock or ManualClock())
    return FallbackEngine(_llm(fake), canned, breaker=breaker), canned


async def test_uses_the_llm_while_it_answers(fake: FakeOpenAI) -> None:
    engine, canned = _engine(fake)
    verdict = await engine.classify("The app crashes on start")
    assert verdict.kind == "bug"
    assert engine.name == "llm:model-a"
    assert canned.calls == 0
    stats = engine.stats()
    assert (stats.llm_calls, stats.llm_failures, stats.fallbacks) == (1, 0, 0)
    assert stats.breaker_state == "closed"


async def test_failed_call_falls_back_and_says_why(fake: FakeOpenAI) -> None:
    fake.set_default("500")
    engine, canned = _engine(fake)
    verdict = await engine.classify("The app crashes on start")
    assert canned.calls == 1
    assert verdict.kind == "question"
    assert engine.name == "offline (llm unavailable: HTTP 500)"
    assert verdict.reasoning.startswith("LLM unavailable (HTTP 500); the offline engine answered.")
    assert verdict.reasoning.endswith("Canned verdict.")
    assert fake.models_called == ["model-a"] * 3
    assert engine.stats().as_dict() == {
        "breaker_state": "closed",
        "llm_calls": 1,
        "llm_failures": 1,
        "fallbacks": 1,
        "last_failure_reason": "HTTP 500",
    }


async def test_timeout_falls_back_with_the_reason(fake: FakeOpenAI) -> None:
    fake.set_default("timeout")
    engine, _ = _engine(fake)
    verdict = await engine.classify("anything")
    assert "LLM unavailable (timeout)" in verdict.reasoning
    assert engine.name == "offline (llm unavailable: timeout)"


async def test_draft_spec_falls_back_too(fake: FakeOpenAI) -> None:
    engine, canned = _engine(fake)
    fake.set_default("malformed")
    spec = await engine.draft_spec("Login crashes", _bug(), labels=LABELS)
    assert spec.title == "Canned title"
    assert canned.calls == 1
    assert engine.name == "offline (llm unavailable: invalid output)"


async def test_breaker_opens_after_five_failures_then_trials_after_cooldown(
    fake: FakeOpenAI,
) -> None:
    clock = ManualClock()
    engine, canned = _engine(fake, clock)
    fake.set_default("500")
    for _ in range(5):
        await engine.classify("anything")
    assert engine.breaker_state == "open"
    requests_before = len(fake.requests)

    verdict = await engine.classify("The app crashes on start")
    assert len(fake.requests) == requests_before, "no LLM request while the breaker is open"
    assert verdict.reasoning.startswith("LLM unavailable (circuit open)")
    assert engine.name == "offline (llm unavailable: circuit open)"
    assert engine.stats().fallbacks == 6
    assert engine.stats().llm_calls == 5

    clock.now += 30
    assert engine.breaker_state == "half_open"
    fake.set_default("ok")
    verdict = await engine.classify("The app crashes on start")
    assert verdict.kind == "bug"
    assert engine.name == "llm:model-a"
    assert engine.breaker_state == "closed"
    assert len(fake.requests) == requests_before + 1
    assert canned.calls == 6


async def test_failed_trial_reopens_the_breaker(fake: FakeOpenAI) -> None:
    clock = ManualClock()
    engine, _ = _engine(fake, clock)
    fake.set_default("500")
    for _ in range(5):
        await engine.classify("anything")
    clock.now += 30
    await engine.classify("anything")
    assert engine.breaker_state == "open"
    assert engine.stats().llm_calls == 6
    assert engine.name == "offline (llm unavailable: HTTP 500)"


async def test_name_is_per_task(fake: FakeOpenAI) -> None:
    engine, _ = _engine(fake)

    async def classify_and_name(behaviour: str) -> str:
        fake.script([behaviour] * (1 if behaviour == "ok" else 3))
        await engine.classify("The app crashes on start")
        return engine.name

    ok_name = await asyncio.create_task(classify_and_name("ok"))
    failed_name = await asyncio.create_task(classify_and_name("500"))
    assert ok_name == "llm:model-a"
    assert failed_name == "offline (llm unavailable: HTTP 500)"
    assert engine.name == "llm:model-a", "this task made no call; the preferred engine shows"


def _bug() -> Classification:
    return Classification(
        kind="bug", severity="high", confidence=0.9, actionable=True, reasoning="crash"
    )


async def test_answers_outside_the_schema_do_not_open_the_breaker(fake: FakeOpenAI) -> None:
    engine, canned = _engine(fake)
    fake.set_default("malformed")
    for _ in range(8):
        await engine.classify("The app crashes on start")
    assert engine.breaker_state == "closed", "the server answered; only its answers were bad"
    assert canned.calls == 8
    assert engine.stats().llm_failures == 8
    assert engine.name == "offline (llm unavailable: invalid output)"
    fake.set_default("ok")
    verdict = await engine.classify("The app crashes on start")
    assert verdict.kind == "bug" and engine.name == "llm:model-a"


async def test_server_failures_still_open_the_breaker_between_bad_answers(
    fake: FakeOpenAI,
) -> None:
    engine, _ = _engine(fake)
    for _ in range(5):
        fake.script(["500", "500", "500", "malformed", "malformed"])
        await engine.classify("anything")
        await engine.classify("anything")
    assert engine.breaker_state == "open"


class DownEngine(CannedEngine):
    """A primary that always fails with `reason`."""

    def __init__(self, reason: str, *, name: str = "llm:model-a") -> None:
        super().__init__()
        self.reason = reason
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    async def classify(
        self, text: str, *, kind_hint: str | None = None, guild_id: int | None = None
    ) -> Classification:
        raise LLMUnavailableError(self.reason)


async def test_engine_names_are_bounded_for_the_database(fake: FakeOpenAI) -> None:
    model = "org/" + "very-long-model-id-" * 20
    llm = LLMEngine(LLMConfig(api_key="sk-test", base_url=fake.url, models=[model]))
    assert len(llm.name) == ENGINE_NAME_MAX and llm.name.startswith("llm:org/very-long")
    reason = "; ".join(["function_calling/json_schema/json_mode/prompt unsupported (HTTP 400)"] * 4)
    engine = FallbackEngine(DownEngine(reason), CannedEngine())
    await engine.classify("anything")
    assert engine.name.startswith("offline (llm unavailable: function_calling/")
    assert len(engine.name) == ENGINE_NAME_MAX
