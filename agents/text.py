"""Text hygiene shared by the graph and the renderers (GitHub Markdown: `agents.markdown`)."""

from __future__ import annotations

import re
import unicodedata

MAX_ANALYSED_CHARS = 20_000

_INVISIBLE = dict.fromkeys(
    [
        0x200B,
        0x200C,
        0x200D,
        0x2060,
        0xFEFF,
        0x00AD,
        *range(0x202A, 0x202F),  # bidi embeddings and overrides
        *range(0x2066, 0x206A),  # bidi isolates
    ]
)
_USER_MENTION = re.compile(r"<@!?(\d{15,21})>")
_ROLE_MENTION = re.compile(r"<@&(\d{15,21})>")
_CHANNEL_MENTION = re.compile(r"<#(\d{15,21})>")
_CUSTOM_EMOJI = re.compile(r"<a?:(\w{1,32}):\d{15,21}>")
_MASS_MENTION = re.compile(r"@(everyone|here)\b")
_SPACES = re.compile(r"[ \t\f\v]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_EMOJI_ONLY = re.compile(r"^[\W_]*$", re.UNICODE)


def normalize(text: str) -> str:
    """Plain words for the engines: Discord markup resolved, invisible characters removed."""
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _USER_MENTION.sub("@user", text)
    text = _ROLE_MENTION.sub("@role", text)
    text = _CHANNEL_MENTION.sub("#channel", text)
    text = _CUSTOM_EMOJI.sub(r":\1:", text)
    text = _MASS_MENTION.sub(r"\1", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    text = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    return text[:MAX_ANALYSED_CHARS]


def without_mentions_of(text: str, user_id: int | None) -> str:
    """`text` without Discord mentions of `user_id` (how the bot is addressed, not feedback)."""
    if user_id is None:
        return text
    return re.sub(rf"<@!?{user_id}>[ \t]*", "", text).strip()


def has_substance(text: str) -> bool:
    """False for empty, whitespace-only or emoji/punctuation-only text."""
    stripped = normalize(_CUSTOM_EMOJI.sub("", text))
    return bool(stripped) and not _EMOJI_ONLY.match(stripped)


def truncate(text: str, limit: int, *, suffix: str = "…") -> str:
    """Cut `text` to at most `limit` characters, marking the cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(suffix))].rstrip() + suffix
