"""The prompts' messages: user text delimited as data, correction examples, allowed labels."""

from __future__ import annotations

import re
from collections.abc import Sequence

from agents.engines.base import KINDS, Classification
from agents.engines.corrections import CorrectionMatch
from agents.triage import prompts

Message = tuple[str, str]
"""(role, text) of one chat message."""

_DATA_TAG = re.compile(
    rf"<(\s*/?\s*(?:{prompts.FEEDBACK_TAG}|{prompts.ALLOWED_LABELS_TAG}"
    rf"|{prompts.CORRECTIONS_TAG}|example)\b[^>]*)>",
    re.IGNORECASE,
)
MAX_FEEDBACK_CHARS = 12000
MAX_EXAMPLE_CHARS = 600
MAX_LABELS = 10


def delimit_feedback(text: str) -> str:
    """Escape anything in user text that could close or open one of the prompt's data blocks.

    Args:
        text: Raw feedback text.

    Returns:
        The text with `<feedback>`-like tags turned into `&lt;feedback&gt;`, trimmed to
        `MAX_FEEDBACK_CHARS`.
    """
    escaped = _DATA_TAG.sub(lambda m: f"&lt;{m.group(1)}&gt;", text)
    return escaped[:MAX_FEEDBACK_CHARS]


def corrections_block(examples: Sequence[CorrectionMatch]) -> str:
    """The few-shot block of maintainer corrections ('' without examples)."""
    if not examples:
        return ""
    lines = [
        prompts.CORRECTION_EXAMPLE.format(
            kind=example.kind or "unknown",
            severity=example.severity or "unknown",
            rejected="true" if example.rejected else "false",
            text=delimit_feedback(" ".join(example.text.split())[:MAX_EXAMPLE_CHARS]),
        )
        for example in examples
    ]
    return prompts.CORRECTIONS_BLOCK.format(examples="\n".join(lines))


def classification_messages(
    text: str, kind_hint: str | None, examples: Sequence[CorrectionMatch] = ()
) -> list[Message]:
    """System and user messages for a classification call (with correction examples)."""
    hint = prompts.KIND_HINT_LINE.format(kind_hint=kind_hint) if kind_hint in KINDS else ""
    user = prompts.CLASSIFY_USER_TEMPLATE.format(
        corrections_block=corrections_block(examples),
        kind_hint_line=hint,
        feedback=delimit_feedback(text),
    )
    return [("system", prompts.CLASSIFY_SYSTEM_PROMPT), ("user", user)]


def spec_messages(
    text: str, classification: Classification, labels: Sequence[str]
) -> list[Message]:
    """System and user messages for a spec-drafting call."""
    allowed = ", ".join(delimit_feedback(label) for label in labels)
    user = prompts.SPEC_USER_TEMPLATE.format(
        kind=classification.kind,
        severity=classification.severity,
        allowed_labels=allowed,
        feedback=delimit_feedback(text),
    )
    return [("system", prompts.SPEC_SYSTEM_PROMPT), ("user", user)]


def filter_labels(proposed: Sequence[str], allowed: Sequence[str]) -> list[str]:
    """Keep proposed labels that are allowed (case-insensitive), in the allowed spelling.

    Args:
        proposed: Labels the model chose.
        allowed: The only labels the spec may carry.

    Returns:
        At most `MAX_LABELS` allowed labels, without duplicates.
    """
    by_key = {label.strip().lower(): label for label in allowed}
    kept: list[str] = []
    for label in proposed:
        match = by_key.get(label.strip().lower())
        if match is not None and match not in kept:
            kept.append(match)
    return kept[:MAX_LABELS]
