"""What every triage engine returns, and the interface the graph calls."""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel, Field

from storage.models import ENGINE_NAME_MAX

Kind = Literal["bug", "feature", "question"]
Severity = Literal["low", "medium", "high", "critical"]

KINDS: tuple[Kind, ...] = ("bug", "feature", "question")
SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high", "critical")


__all__ = ["ENGINE_NAME_MAX", "KINDS", "SEVERITIES", "Classification", "Spec", "TriageEngine"]


def bounded_engine_name(name: str) -> str:
    """`name` cut to `ENGINE_NAME_MAX` characters, marked with an ellipsis when cut."""
    return name if len(name) <= ENGINE_NAME_MAX else name[: ENGINE_NAME_MAX - 1] + "…"


class Classification(BaseModel):
    """The engine's verdict on one feedback item."""

    kind: Kind
    severity: Severity
    confidence: float = Field(ge=0, le=1, description="How sure the engine is of `kind`.")
    actionable: bool = Field(
        description="False for praise, thanks, +1 and chatter; true whenever a problem, "
        "request or question is present, even beside praise."
    )
    reasoning: str = Field(max_length=2000, description="One paragraph: why this verdict.")


class Spec(BaseModel):
    """A drafted GitHub issue."""

    title: str = Field(min_length=3, max_length=80)
    description: str = Field(max_length=20000)
    steps_to_reproduce: list[str] = Field(default_factory=list, max_length=20)
    expected_behavior: str | None = Field(default=None, max_length=4000)
    actual_behavior: str | None = Field(default=None, max_length=4000)
    acceptance_criteria: list[str] = Field(default_factory=list, max_length=20)
    labels: list[str] = Field(default_factory=list, max_length=10)
    confidence: float = Field(ge=0, le=1)


class TriageEngine(Protocol):
    """Classifies feedback and drafts a spec; implemented by the offline and LLM engines."""

    @property
    def name(self) -> str:
        """Shown to maintainers, e.g. `offline` or `llm:gpt-4o-mini`."""
        ...

    async def classify(
        self, text: str, *, kind_hint: str | None = None, guild_id: int | None = None
    ) -> Classification:
        """Classify one normalised feedback text (`guild_id`: whose corrections apply)."""
        ...

    async def draft_spec(
        self, text: str, classification: Classification, *, labels: list[str]
    ) -> Spec:
        """Draft an issue; `labels` are the only labels the spec may use."""
        ...
