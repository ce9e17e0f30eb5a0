"""Results of a duplicate search, shared by the graph, the bot and the CLI."""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel, Field

Verdict = Literal["duplicate", "possible_duplicate", "new"]


class DuplicateMatch(BaseModel):
    """One candidate, best first in `DuplicateResult.matches`."""

    id: str = Field(description="Document id: `issue:<number>` or `feedback:<item id>`.")
    score: float = Field(ge=0, le=1)
    title: str = ""
    url: str | None = None
    number: int | None = Field(default=None, description="GitHub issue number, for issues.")
    state: str | None = Field(default=None, description="`open` or `closed`, for issues.")


class DuplicateResult(BaseModel):
    """The verdict for one query and the evidence behind it."""

    verdict: Verdict
    matches: list[DuplicateMatch] = Field(default_factory=list)
    reason: str = Field(default="", description="Why this verdict, in one line, for maintainers.")


class Thresholds(BaseModel):
    """Score cut-offs; per guild, defaulting to the settings."""

    duplicate: float = Field(ge=0, le=1)
    possible: float = Field(ge=0, le=1)


class DuplicateFinder(Protocol):
    """What the triage graph needs from the index."""

    async def find(
        self,
        text: str,
        *,
        repo: str,
        exclude_id: str | None = None,
        thresholds: Thresholds | None = None,
        k: int = 5,
    ) -> DuplicateResult:
        """Best candidates for `text` in `repo`'s index, with a verdict."""
        ...

    async def add_feedback(
        self, *, item_id: int, text: str, repo: str, url: str | None = None
    ) -> None:
        """Index a feedback item so later feedback can match it."""
        ...

    async def add_issue(
        self,
        *,
        repo: str,
        number: int,
        title: str,
        body: str,
        url: str,
        state: str,
        labels: list[str],
    ) -> None:
        """Index (or update) one GitHub issue."""
        ...
