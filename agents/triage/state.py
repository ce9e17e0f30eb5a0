"""State of one feedback item's run through the triage graph (plain, serialisable data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

from agents.dedup.scoring import DEFAULT_DUPLICATE_THRESHOLD, DEFAULT_POSSIBLE_THRESHOLD
from agents.engines.base import Kind, Severity

Action = Literal["approve", "reject", "edit", "duplicate", "retry", "expire", "details", "confirm"]
#: What happens when the reporter confirms that an open issue is their problem.
DuplicateConfirm = Literal["auto_link", "review", "off"]


class Decision(BaseModel):
    """A maintainer's (or the scheduler's) decision on an item awaiting review.

    `details` is the reporter's answer to the graph's questions (`body`), or the scheduler
    giving up on waiting for one (`body` None). `confirm` is the reporter's answer to "is it
    the same problem as this issue?" (`reason` `same` or `different`; None: no answer in time).
    """

    action: Action
    actor: str = Field(max_length=200, description="Who decided, e.g. `ana (1234)`.")
    actor_id: int | None = None
    reason: str | None = Field(default=None, max_length=1000)
    title: str | None = Field(default=None, max_length=256)
    body: str | None = Field(default=None, max_length=20000)
    labels: list[str] | None = None
    issue_number: int | None = Field(default=None, ge=1)
    kind: Kind | None = None
    severity: Severity | None = None
    draft_revision: int | None = Field(default=None, ge=0)
    """An Edit's: the revision of the draft it was made on; it saves only while the draft is
    still at it (None: an Edit modal opened before revisions existed, saved as it comes)."""


class Policy(BaseModel):
    """Per-guild settings captured when triage starts."""

    repo: str | None = None
    duplicate_threshold: float = DEFAULT_DUPLICATE_THRESHOLD
    possible_duplicate_threshold: float = DEFAULT_POSSIBLE_THRESHOLD
    review_confidence: float = 0.55
    label_map: dict[str, str] = Field(default_factory=dict)
    comment_on_duplicates: bool = True
    guild_id: int | None = None
    ask_for_details: bool = True
    """Ask the reporter, in a thread, for what a bug report lacks."""
    duplicate_confirm: DuplicateConfirm = "off"
    """Ask the reporter whether a strongly matching open issue is theirs; `auto_link` links
    it on a yes without review, `review` still posts the review with the answer."""


@dataclass(kw_only=True)
class InputState:
    """What intake hands to the graph."""

    item_id: int
    """Primary key of the feedback item; also the graph's thread id."""
    text: str
    """The feedback text as received."""
    kind_hint: str | None = None
    """The reporter's own guess (bug / feature / question), if they gave one."""
    title: str | None = None
    """The reporter's own title (a forum post's): the issue title unless a maintainer edits it."""
    labels: list[str] = field(default_factory=list)
    """GitHub labels the reporter's forum tags map to, added to the drafted ones."""
    force_actionable: bool = False
    """Set when a maintainer sends an item to triage explicitly."""
    can_ask_details: bool = False
    """The item is a channel message, so the reporter can be asked in a thread on it."""
    attachment_text: str = ""
    """A bounded excerpt of the message's text files, read by the classifier after the text."""
    policy: dict[str, Any] = field(default_factory=dict)
    """`Policy` as a dict: repository, thresholds, label mapping."""
    decision_seq: int = 0
    """Position in the item's decision log of the last decision taken (0: none yet); a run
    started afresh begins after every decision logged before it."""


@dataclass(kw_only=True)
class TriageState(InputState):
    """Everything the graph learns and decides about one item."""

    normalized: str = ""
    """Text with invisible characters and Discord markup reduced to plain words."""
    kind: str | None = None
    severity: str | None = None
    confidence: float | None = None
    actionable: bool | None = None
    reasoning: str | None = None
    engine: str | None = None
    needs_review: bool = False
    """True when the engine was unsure: a maintainer should read the reasoning."""
    duplicates: dict[str, Any] | None = None
    """`DuplicateResult` as a dict."""
    spec: dict[str, Any] | None = None
    """`Spec` as a dict, after any maintainer edits."""
    decision: dict[str, Any] | None = None
    """The latest `Decision` as a dict."""
    outcome: str | None = None
    """Final status once the graph ends: filed, rejected, duplicate, expired, not_actionable."""
    error: str | None = None
    details_questions: list[str] = field(default_factory=list)
    """Questions put to the reporter about a bug report that lacked details."""
    details_asked: bool = False
    details_incomplete: bool = False
    """The reporter did not answer in time; the item goes to review as it is."""
    same_issue_answer: str | None = None
    """The reporter's answer about the matching open issue: `same`, `different` or None."""
