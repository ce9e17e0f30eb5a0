"""A feedback message's files: text files read and kept, the others named.

Intake stores them with the item (`FeedbackItem.attachments`, these records as dicts); the
classifier reads a bounded excerpt of the text files after the message; the filed issue
shows each text file byte for byte in a fenced block inside `<details>`, and names the
other files with a link to the Discord message (Discord's file links expire, so none is
written on GitHub).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from agents.markdown import code_span, github_length

#: File name endings read as text whatever their declared content type.
TEXT_SUFFIXES = (".txt", ".log", ".json", ".jsonl", ".ndjson", ".md", ".csv", ".yaml", ".yml")
#: Content types besides `text/*` read as text.
TEXT_TYPES = ("application/json", "application/x-ndjson", "application/yaml")
#: The most of the text files the classifier reads after the message.
CLASSIFIER_LIMIT = 2_000
#: Below this much room a text file is only named, not shown.
_MIN_SHOWN = 400
_BACKTICK_RUN = re.compile(r"`+")


@dataclass(frozen=True)
class Attachment:
    """One file of a feedback message as stored with its item."""

    filename: str
    content_type: str | None = None
    size: int = 0
    """The size Discord declared (not trusted when reading)."""
    text: str | None = None
    """The file's text (UTF-8, undecodable bytes replaced) when it is a text file that was read."""
    truncated: bool = False
    """Only the first bytes, up to the cap, were read."""
    unreadable: bool = False
    """A text file whose download failed."""

    def stored(self) -> dict[str, Any]:
        """The record as kept in the database."""
        return asdict(self)

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> Attachment:
        """A record read back from the database (unknown keys are ignored)."""
        return cls(
            filename=str(data.get("filename") or "file"),
            content_type=data.get("content_type"),
            size=int(data.get("size") or 0),
            text=data.get("text"),
            truncated=bool(data.get("truncated")),
            unreadable=bool(data.get("unreadable")),
        )


def is_text_file(filename: str, content_type: str | None) -> bool:
    """Whether a file is read as text: `text/*`, JSON or YAML, or a log-like name."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media.startswith("text/") or media in TEXT_TYPES:
        return True
    return filename.lower().endswith(TEXT_SUFFIXES)


def attachments_of(stored: Iterable[dict[str, Any]] | None) -> list[Attachment]:
    """The records of an item's `attachments` column."""
    return [Attachment.from_stored(data) for data in stored or ()]


def classifier_excerpt(attachments: Sequence[Attachment], *, limit: int = CLASSIFIER_LIMIT) -> str:
    """The start of each text file, named, at most `limit` characters of file text in all."""
    parts: list[str] = []
    room = limit
    for attachment in attachments:
        if attachment.text is None or room <= 0:
            continue
        excerpt = attachment.text[:room].strip()
        room -= len(excerpt)
        if excerpt:
            parts.append(f"Attached {attachment.filename}:\n{excerpt}")
    return "\n\n".join(parts)


def _fenced(text: str) -> str:
    """`text` as a fenced code block that no line of it can close."""
    longest = max((len(run) for run in _BACKTICK_RUN.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    ending = "" if text.endswith("\n") else "\n"
    return f"{fence}\n{text}{ending}{fence}"


def _on_discord(jump_url: str | None) -> str:
    return f"[on Discord]({jump_url})" if jump_url else "on Discord"


def _shown(attachment: Attachment, text: str, *, cut: bool, jump_url: str | None) -> str:
    name = html.escape(attachment.filename)
    notes = []
    if attachment.truncated or cut:
        notes.append(
            f"_Only the start of the file is shown; the whole file is {_on_discord(jump_url)}._"
        )
    note = "\n\n" + " ".join(notes) if notes else ""
    return f"<details><summary><code>{name}</code></summary>\n\n{_fenced(text)}\n\n</details>{note}"


def _text_block(attachment: Attachment, room: int, jump_url: str | None) -> str | None:
    """The file in `<details>`, cut at a line to fit `room`; None when it cannot fit."""
    assert attachment.text is not None
    text = attachment.text
    block = _shown(attachment, text, cut=False, jump_url=jump_url)
    while github_length(block) > room:
        if room < _MIN_SHOWN or not text:
            return None
        keep = max(0, len(text) - (github_length(block) - room) - 1)
        line_end = text.rfind("\n", 0, keep)
        text = text[: line_end + 1 if line_end > keep // 2 else keep]
        block = _shown(attachment, text, cut=True, jump_url=jump_url)
    return block


def attachments_section(
    attachments: Sequence[Attachment], *, limit: int, jump_url: str | None
) -> str:
    """The issue's "Attachments" section within `limit` (GitHub's length), or "" when none.

    Text files are shown byte for byte; the others, and text files that could not be read
    or do not fit, are named with a link to the Discord message.
    """
    if not attachments:
        return ""
    heading = "### Attachments"
    listed: list[str] = []
    shown: list[str] = []
    room = limit - github_length(heading) - 2
    for attachment in attachments:
        name = code_span(" ".join(attachment.filename.split()) or "file")
        if attachment.unreadable:
            listed.append(f"- {name}: could not be read; it is {_on_discord(jump_url)}")
            continue
        if attachment.text is None:
            kind = f", {code_span(attachment.content_type)}" if attachment.content_type else ""
            listed.append(f"- {name} ({_size(attachment.size)}{kind}): {_on_discord(jump_url)}")
            continue
        block = _text_block(attachment, room - 200 * (len(attachments) + 1), jump_url)
        if block is None:
            listed.append(f"- {name}: too long to show here; it is {_on_discord(jump_url)}")
            continue
        shown.append(block)
        room -= github_length(block) + 2
    parts = [heading, *shown]
    if listed:
        parts.append("\n".join(listed))
    return "\n\n".join(parts)


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"
