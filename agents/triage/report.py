"""The report text the graph triages: the reporter's title and words, then replies as context."""

from __future__ import annotations

REPLIES_HEADING = "Replies in the post:"


def report_text(title: str | None, text: str, context: str | None) -> str:
    """Title, text and the replies section, separated by blank lines (empty parts left out)."""
    parts = [part.strip() for part in (title or "", text) if part and part.strip()]
    if context and context.strip():
        parts.append(f"{REPLIES_HEADING}\n{context.strip()}")
    return "\n\n".join(parts)


def with_replies(report: str, context: str | None) -> str:
    """`report` with its replies section replaced by `context` (replies that came in since)."""
    head = report.split(f"\n\n{REPLIES_HEADING}\n", 1)[0]
    return report_text(None, head, context)
