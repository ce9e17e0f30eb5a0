"""The answer to an Edit made on a draft that changed after its modal was opened.

Nothing was saved, so the maintainer is told why, by whom when the decision log says (a
mention that pings nobody), and gets back what they typed to paste into a new Edit: in the
message when it fits, else as a Markdown file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import discord

from cogs._modals import text_value
from cogs.approvals._draft import MESSAGE_LIMIT, send_private

#: The Edit modal's one-line inputs, by custom_id, as they are named in the answer.
_LINE_INPUTS = (
    ("title", "Title"),
    ("labels", "Labels"),
    ("kind", "Kind"),
    ("severity", "Severity"),
)
_BACKTICKS = re.compile(r"`+")


def typed_text(submitted: Mapping[str, str | list[str]]) -> str:
    """What was typed in the Edit modal: the one-line inputs, then the body ("" when empty)."""
    lines = [
        f"{label}: {value}"
        for name, label in _LINE_INPUTS
        if (value := text_value(submitted, name).strip())
    ]
    body = text_value(submitted, "body").strip()
    if body:
        lines += ["", "Body:", body] if lines else ["Body:", body]
    return "\n".join(lines)


def changed_by(decision: Mapping[str, Any] | None, *, viewer_id: int) -> str | None:
    """Who made the Edit that changed the draft, as the answer names them (None: unknown)."""
    if decision is None:
        return None
    actor_id = decision.get("actor_id")
    if actor_id == viewer_id:
        return "you, in another Edit"
    if isinstance(actor_id, int):
        return f"<@{actor_id}>"
    actor = str(decision.get("actor") or "").strip()
    return actor or None


def stale_notice(item_id: int, who: str | None) -> str:
    """Why nothing was saved, and what to do."""
    by = f" by {who}" if who else ""
    return (
        f"The draft of feedback #{item_id} was changed{by} since you opened Edit; "
        "nothing was saved. Open Edit again to edit the current draft."
    )


def fenced(text: str) -> str:
    """`text` in a code block whose fence no backtick run inside it can close."""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}"


def stale_answer(item_id: int, who: str | None, typed: str) -> tuple[str, tuple[str, str] | None]:
    """The message, and the file (name, text) holding what was typed when it does not fit."""
    notice = stale_notice(item_id, who)
    if not typed:
        return notice, None
    inline = f"{notice}\nWhat you typed, to paste again:\n{fenced(typed)}"
    if len(inline) <= MESSAGE_LIMIT:
        return inline, None
    attached = f"{notice}\nWhat you typed is attached ({len(typed):,} characters), to paste again."
    return attached, (f"edit-{item_id}.md", typed)


async def answer_stale_edit(
    interaction: discord.Interaction,
    *,
    item_id: int,
    submitted: Mapping[str, str | list[str]],
    decision: Mapping[str, Any] | None,
) -> None:
    """Tell the maintainer nothing was saved, and give them back what they typed."""
    who = changed_by(decision, viewer_id=interaction.user.id)
    text, attachment = stale_answer(item_id, who, typed_text(submitted))
    await send_private(interaction, text, attachment=attachment)
