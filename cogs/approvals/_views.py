"""Review buttons (dynamic items that survive restarts) and the Reject, Edit, Duplicate modals."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import discord

from agents.text import truncate
from agents.triage.fingerprint import FINGERPRINT_REGEX
from cogs._handlers import cog_or_apology
from cogs._modals import text_value
from cogs.approvals._draft import FULL_DRAFT, TEXT_INPUT_LIMIT, body_too_long_to_edit
from cogs.approvals._embeds import best_candidate_number, spec_text
from storage.models import FeedbackItem, ItemStatus

log = logging.getLogger(__name__)

ACTIONS = ("approve", "reject", "edit", "duplicate", "retry", FULL_DRAFT)
MODAL_ACTIONS = frozenset({"reject", "edit", "duplicate"})
#: Buttons that file the draft: their ids carry the fingerprint of what their message showed.
FILING_ACTIONS = frozenset({"approve", "retry"})
CUSTOM_ID_PREFIX = "approvals"
MODAL_TIMEOUT_SECONDS = 900

_BUTTON_LOOKS: dict[str, tuple[str, discord.ButtonStyle, str]] = {
    "approve": ("Approve", discord.ButtonStyle.success, "✅"),
    "reject": ("Reject", discord.ButtonStyle.danger, "✖️"),
    "edit": ("Edit", discord.ButtonStyle.secondary, "✏️"),
    "duplicate": ("Duplicate", discord.ButtonStyle.secondary, "🔁"),
    "retry": ("Retry", discord.ButtonStyle.primary, "🔄"),
    FULL_DRAFT: ("Full draft", discord.ButtonStyle.secondary, "📄"),
}
#: The Edit modal's body input when the drafted body is longer than it holds (label <= 45).
KEPT_BODY_LABEL = "Body: too long to edit here, kept as is"
KEPT_BODY_HINT = (
    "The body is {chars:,} characters (see Full draft). "
    "Leave empty to keep it; text here replaces it."
)
_ID_PART = re.compile(
    rf"^(?P<action>[a-z]+):(?P<item_id>\d{{1,19}})(?::(?P<fingerprint>{FINGERPRINT_REGEX}))?$"
)
#: A modal's id: a button's, then (an Edit's) the draft revision it was opened on (it fits
#: the 32-bit column, so a forged id is compared, never refused by the database).
_MODAL_ID_PART = re.compile(
    r"^(?P<action>[a-z]+):(?P<item_id>\d{1,19})(?::r(?P<revision>\d{1,9}))?$"
)


class ButtonId(NamedTuple):
    """What a review button's custom_id says (all None when it is not one we made)."""

    action: str | None
    item_id: int | None
    fingerprint: str | None = None
    """An Approve's or Retry's: what filing would write as its message showed (None: older)."""


@dataclass(frozen=True, slots=True)
class ModalTarget:
    """What a submitted review modal is for, read from its custom_id."""

    action: str
    item_id: int
    draft_revision: int | None = None
    """The draft revision an Edit modal was opened on (None: a modal from before revisions)."""


class ReviewHandler(Protocol):
    """What the buttons call (implemented by the approvals cog)."""

    async def on_button(
        self,
        interaction: discord.Interaction,
        action: str | None,
        item_id: int | None,
        fingerprint: str | None = None,
    ) -> None:
        """A review button was clicked; `action`/`item_id` are None for unreadable ids.

        `fingerprint` is that of the draft the button was shown with (None on older ones).
        """
        ...


def custom_id_for(action: str, item_id: int, fingerprint: str | None = None) -> str:
    """`approvals:<action>:<item id>`, then `:<fingerprint>` when given (at most 52 chars)."""
    base = f"{CUSTOM_ID_PREFIX}:{action}:{item_id}"
    return f"{base}:{fingerprint}" if fingerprint else base


def parse_custom_id(custom_id: str) -> ButtonId:
    """What a review button's id says; all None when it is not one we made."""
    rest = custom_id.removeprefix(f"{CUSTOM_ID_PREFIX}:")
    match = _ID_PART.match(rest)
    if match is None or match["action"] not in ACTIONS:
        return ButtonId(None, None)
    return ButtonId(match["action"], int(match["item_id"]), match["fingerprint"])


def modal_custom_id_for(action: str, item_id: int, draft_revision: int | None = None) -> str:
    """`approvals:<action>:<item id>`, then `:r<draft revision>` when given (at most 45 chars)."""
    base = custom_id_for(action, item_id)
    return base if draft_revision is None else f"{base}:r{draft_revision}"


def parse_modal_custom_id(custom_id: str) -> ModalTarget | None:
    """What a review modal's id names, or None when it is not one we made."""
    match = _MODAL_ID_PART.match(custom_id.removeprefix(f"{CUSTOM_ID_PREFIX}:"))
    if match is None or match["action"] not in MODAL_ACTIONS:
        return None
    revision = match["revision"]
    return ModalTarget(
        match["action"], int(match["item_id"]), int(revision) if revision is not None else None
    )


class ReviewButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"{CUSTOM_ID_PREFIX}:(?P<rest>.*)",
):
    """One review action on one item; everything it needs lives in its custom_id."""

    def __init__(
        self,
        action: str,
        item_id: int,
        *,
        fingerprint: str | None = None,
        custom_id: str | None = None,
    ) -> None:
        label, style, emoji = _BUTTON_LOOKS.get(action, ("?", discord.ButtonStyle.secondary, "❔"))
        super().__init__(
            discord.ui.Button(
                label=label,
                style=style,
                emoji=emoji,
                custom_id=custom_id or custom_id_for(action, item_id, fingerprint),
            )
        )
        self.action: str | None = action if action in ACTIONS else None
        self.item_id: int | None = item_id if self.action else None
        self.fingerprint = fingerprint if self.action else None

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ReviewButton:
        """Rebuild the button from a clicked component (after a restart too)."""
        custom_id = str(getattr(item, "custom_id", "") or "")
        action, item_id, fingerprint = parse_custom_id(custom_id)
        button = cls(
            action or "unknown", item_id or 0, fingerprint=fingerprint, custom_id=custom_id
        )
        button.action, button.item_id, button.fingerprint = action, item_id, fingerprint
        return button

    async def callback(self, interaction: discord.Interaction) -> None:
        """Hand the click to the approvals cog."""
        handler: ReviewHandler | None = await cog_or_apology(
            interaction, "Approvals", "Reviews are"
        )
        if handler is not None:
            await handler.on_button(interaction, self.action, self.item_id, self.fingerprint)


def review_view(
    item: FeedbackItem, *, full_draft: bool = False, fingerprint: str | None = None
) -> discord.ui.View | None:
    """The buttons a review message shows in the item's current status (None: no buttons).

    `full_draft` adds the "Full draft" button, for a draft the embed shows only in part;
    `fingerprint` (of what filing would write) goes into the ids of the buttons that file.
    """
    assert item.id is not None
    view = discord.ui.View(timeout=None)
    actions: tuple[str, ...] = ()
    if item.status == ItemStatus.AWAITING_REVIEW:
        actions = ("approve", "reject", "edit", "duplicate")
    elif item.status == ItemStatus.FAILED:
        actions = ("retry", "edit", "reject")
    if actions:
        for action in actions + ((FULL_DRAFT,) if full_draft else ()):
            shown = fingerprint if action in FILING_ACTIONS else None
            view.add_item(ReviewButton(action, item.id, fingerprint=shown))
        return view
    if item.issue_url and item.issue_url.startswith(("http://", "https://")):
        label = f"Open issue #{item.issue_number}" if item.issue_number else "Open issue"
        view.add_item(discord.ui.Button(label=label, url=item.issue_url))
        return view
    return None


class _DecisionModal(discord.ui.Modal):
    """Base for the review modals. Submits are handled by the cog from the interaction alone
    (`cogs._modals`): the custom_id says which action on which item (and an Edit's, on which
    revision of the draft), so a submit after a restart, or before discord.py has stored the
    modal, is answered like any other.
    """

    action: str

    def __init__(self, *, title: str, item_id: int, draft_revision: int | None = None) -> None:
        super().__init__(
            title=title,
            timeout=MODAL_TIMEOUT_SECONDS,
            custom_id=modal_custom_id_for(self.action, item_id, draft_revision),
        )
        self.item_id = item_id

    def values(self, submitted: Mapping[str, str | list[str]]) -> dict[str, Any]:
        """The decision's fields from the submitted inputs."""
        raise NotImplementedError

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Nothing here: the approvals cog answers every review modal submit."""


class RejectModal(_DecisionModal):
    """Reject with an optional reason shown to the reporter."""

    action = "reject"

    def __init__(self, *, item_id: int) -> None:
        super().__init__(title=f"Reject feedback #{item_id}", item_id=item_id)
        self.reason: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="Reason (optional, shown to the reporter)",
            style=discord.TextStyle.paragraph,
            required=False,
            max_length=1000,
            custom_id="reason",
        )
        self.add_item(self.reason)

    def values(self, submitted: Mapping[str, str | list[str]]) -> dict[str, Any]:
        """`reason`, None when left empty."""
        return {"reason": text_value(submitted, "reason").strip() or None}


class EditModal(_DecisionModal):
    """Change the drafted title, body, labels, kind and severity before approving.

    Its custom_id carries the draft's revision: the edit saves only while the draft is still
    the one the modal was filled with.
    """

    action = "edit"

    def __init__(self, *, item: FeedbackItem) -> None:
        assert item.id is not None
        super().__init__(
            title=f"Edit feedback #{item.id}", item_id=item.id, draft_revision=item.draft_revision
        )
        spec = item.spec or {}
        self.original_title = truncate(str(spec.get("title") or ""), 256)
        self.body_kept = body_too_long_to_edit(item)
        self.original_body = "" if self.body_kept else spec_text(spec)
        self.original_labels = ", ".join(str(label) for label in spec.get("labels") or [])
        self.issue_title: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="Title",
            default=self.original_title or None,
            max_length=256,
            required=True,
            custom_id="title",
        )
        self.body: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label=KEPT_BODY_LABEL if self.body_kept else "Body (markdown)",
            placeholder=KEPT_BODY_HINT.format(chars=len(spec_text(spec)))
            if self.body_kept
            else None,
            style=discord.TextStyle.paragraph,
            default=self.original_body or None,
            max_length=TEXT_INPUT_LIMIT,
            required=False,
            custom_id="body",
        )
        self.labels: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="Labels (comma-separated)",
            default=truncate(self.original_labels, 400) or None,
            max_length=400,
            required=False,
            custom_id="labels",
        )
        self.original_kind = item.kind or ""
        self.original_severity = item.severity or ""
        self.kind: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="Kind (bug, feature or question)",
            default=self.original_kind or None,
            max_length=20,
            required=False,
            custom_id="kind",
        )
        self.severity: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="Severity (low, medium, high or critical)",
            default=self.original_severity or None,
            max_length=20,
            required=False,
            custom_id="severity",
        )
        for field in (self.issue_title, self.body, self.labels, self.kind, self.severity):
            self.add_item(field)

    def values(self, submitted: Mapping[str, str | list[str]]) -> dict[str, Any]:
        """Only what changed: untouched inputs are left out so the structured draft survives.

        An input missing from the submit, or a title or body left empty, counts as untouched.
        """
        changed: dict[str, Any] = {}
        title = text_value(submitted, "title").strip()
        if title and title != self.original_title:
            changed["title"] = title
        if "body" in submitted:
            # An empty body is never taken: the modal may have been opened on a draft too long
            # to show (its body input left empty) and be read now against a shorter one.
            body = text_value(submitted, "body").strip()
            if body and body != self.original_body.strip():
                changed["body"] = body
        if "labels" in submitted:
            labels = text_value(submitted, "labels").strip()
            if labels != self.original_labels:
                changed["labels"] = [part.strip() for part in labels.split(",") if part.strip()]
        for name, original in (("kind", self.original_kind), ("severity", self.original_severity)):
            value = text_value(submitted, name).strip().lower()
            if value and value != original:
                changed[name] = value
        return changed


class DuplicateModal(_DecisionModal):
    """Link the item to an existing issue by number."""

    action = "duplicate"

    def __init__(self, *, item: FeedbackItem) -> None:
        assert item.id is not None
        super().__init__(title=f"Feedback #{item.id} is a duplicate", item_id=item.id)
        best = best_candidate_number(item)
        self.number: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="Number of the existing issue",
            placeholder="e.g. 42",
            default=str(best) if best is not None else None,
            max_length=12,
            required=True,
            custom_id="issue_number",
        )
        self.add_item(self.number)

    def values(self, submitted: Mapping[str, str | list[str]]) -> dict[str, Any]:
        """`issue_number` (None when it is not a positive number)."""
        text = text_value(submitted, "issue_number").strip().lstrip("#")
        return {"issue_number": int(text) if text.isdigit() and int(text) > 0 else None}


def decision_modal(action: str, item: FeedbackItem) -> _DecisionModal:
    """The modal that collects what `action` needs for `item`."""
    assert item.id is not None
    if action == "reject":
        return RejectModal(item_id=item.id)
    if action == "edit":
        return EditModal(item=item)
    if action == "duplicate":
        return DuplicateModal(item=item)
    raise ValueError(f"{action!r} has no modal")
