"""Text normalisation shared by classifier training and inference."""

from __future__ import annotations

import functools
import re
import unicodedata

_FENCED_CODE = re.compile(r"```(.*?)(```|$)", re.DOTALL)
_HTML_COMMENT = re.compile(r"<!--(.*?)(-->|$)", re.DOTALL)
_HTML_TAG = re.compile(r"</?[a-zA-Z][^>]{0,200}>")
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"https?://\S+|www\.\S+")
_INLINE_CODE = re.compile(r"`([^`\n]{0,80})`")
_HEADING_MARK = re.compile(r"^\s{0,3}#{1,6}\s*", re.MULTILINE)
_CHECKBOX = re.compile(r"^\s*[-*]\s*\[[ xX]\]\s*", re.MULTILINE)
_EMPHASIS = re.compile(r"[*_]{2,}")
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_CONTROL = re.compile(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u200b-\u200f\u202a-\u202e]")

#: Characters of cleaned text handed to the embedder (the model reads ~256 word pieces).
MAX_EMBED_CHARS = 1200
#: A first line longer than this is a paragraph, not a title.
_MAX_TITLE = 200


def clean_text(text: str) -> str:
    """Strip markdown, code blocks, links and control characters; keep readable prose.

    Args:
        text: Raw feedback or issue text.

    Returns:
        The prose with single spaces inside lines and single blank lines between paragraphs.
    """
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub("", text)
    text = _HTML_COMMENT.sub(" ", text)
    text = _FENCED_CODE.sub(" ", text)
    text = _MD_IMAGE.sub(" ", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _URL.sub(" ", text)
    text = _HTML_TAG.sub(" ", text)
    text = _INLINE_CODE.sub(r"\1", text)
    text = _HEADING_MARK.sub("", text)
    text = _CHECKBOX.sub("", text)
    text = _EMPHASIS.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _BLANK_LINES.sub("\n\n", text)
    return "\n".join(line.strip() for line in text.strip().splitlines())


def dropped_markup(text: str) -> tuple[str, str]:
    """What `clean_text` drops as markup: the code of fenced blocks and the HTML comments.

    Both still tell something about an issue: a stack trace or a snippet in the code, and
    which issue template was used in the comments that templates leave behind.

    Args:
        text: Raw feedback or issue text.

    Returns:
        `(code, comments)`, each the contents of its blocks joined by newlines.
    """
    comments = "\n".join(match.group(1) for match in _HTML_COMMENT.finditer(text))
    code = "\n".join(
        match.group(1) for match in _FENCED_CODE.finditer(_HTML_COMMENT.sub(" ", text))
    )
    return code, comments


@functools.lru_cache(maxsize=1024)
def embedding_text(text: str) -> str:
    """The cleaned, length-capped form of `text` that the classifier embeds.

    Args:
        text: Raw feedback or issue text.

    Returns:
        Cleaned text of at most `MAX_EMBED_CHARS` characters, on one line (cached: the
        classifier, the duplicate query and the index write each ask for it).
    """
    cleaned = clean_text(text).replace("\n", " ")
    return _SPACES.sub(" ", cleaned)[:MAX_EMBED_CHARS].strip()


def issue_shaped(text: str) -> bool:
    """True for a title line, a blank line and a body: how issues are written.

    GitHub issues, `/feedback` with details and the CLI's title/body records arrive in this
    form; a chat message (one paragraph, however long) does not.

    Args:
        text: Raw feedback or issue text.

    Returns:
        Whether `text` has a one-line title followed by a body.
    """
    title, blank, body = text.strip().partition("\n\n")
    return bool(blank) and bool(body.strip()) and "\n" not in title and len(title) <= _MAX_TITLE


def sentences(text: str) -> list[str]:
    """Split cleaned text into sentences and lines, dropping empty pieces.

    Args:
        text: Text, ideally already passed through `clean_text`.

    Returns:
        The non-empty sentences in order.
    """
    return [piece.strip() for piece in _SENTENCE_END.split(text) if piece and piece.strip()]


def first_sentence(text: str, *, min_chars: int = 12) -> str:
    """The first sentence of `text` that has at least `min_chars` characters.

    Args:
        text: Raw or cleaned text.
        min_chars: Shorter pieces (headings such as "Bug") are skipped.

    Returns:
        That sentence, or the whole cleaned text when none is long enough.
    """
    cleaned = clean_text(text)
    for piece in sentences(cleaned):
        if len(piece) >= min_chars:
            return piece
    return cleaned.replace("\n", " ")
