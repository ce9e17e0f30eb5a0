"""GitHub-flavoured Markdown hygiene: code stays byte for byte, prose acts on nobody.

Text quoted from reporters, an LLM or a maintainer's edit goes into public GitHub issues.
Outside code, GitHub turns `#12`, `GH-12`, `owner/repo#12` and issue URLs into
cross-references, `@name` into notifications, and `<…>` into HTML (an HTML comment can
hide text, such as a forged item marker). `github_safe` finds the code first (fenced and
indented blocks, code spans) and leaves it alone, then defuses the rest so that it still
reads the same: an invisible word joiner after `#` and `@`, HTML-like text and issue URLs
shown as code, character references and stray backticks escaped.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass

WORD_JOINER = "\u2060"

_LINE = re.compile(r"[^\n]*\n|[^\n]+$")
_FENCE_OPEN = re.compile(r"^( {0,3})(`{3,}|~{3,})([^\n]*)\n?$")
_INDENTED = re.compile(r"^(?: {4}| {0,3}\t)")
_LIST_ITEM = re.compile(r"^ {0,3}(?:[-+*]|\d{1,9}[.)])(?:[ \t]|\n|$)")
#: A plain paragraph line: not blank, and nothing at its start that could open a block.
_PLAIN = re.compile(r"^ {0,3}(?![#>=|*_+<-]|\d{1,9}[.)]|[ \t]*\n?$)")
_BACKTICKS = re.compile(r"`+")
_ESCAPE_OR_BACKTICK = re.compile(r"\\.|`", re.DOTALL)
_ENTITY = re.compile(r"&(?=#\d{1,7};|#[xX][0-9a-fA-F]{1,6};|[A-Za-z][A-Za-z0-9]{1,31};)")
_COMMENT_OPEN = re.compile(r"<!--")
_ISSUE_PATH = r"/[^/\s]+/[^/\s]+/(?:issues|pull|pulls|discussions)/\d+"
_ISSUE_URL = re.compile(rf"(?:https?://|www\.)[^/\s<>`]+{_ISSUE_PATH}", re.IGNORECASE)
_ISSUE_LINK = re.compile(
    rf"\[([^\[\]\n]*)\]\(\s*<?((?:https?://|www\.)[^/\s<>`]+{_ISSUE_PATH}[^\s)<>`]*)>?"
    r"(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'))?\s*\)",
    re.IGNORECASE,
)
_URL = re.compile(r"(?:https?://|www\.)([^/\s<>`?#]+)[^\s<>`]*", re.IGNORECASE)
_HTML_LIKE = re.compile(r"[^\s<>`]*<[A-Za-z/!?](?:[^<>`\n]*>|[^\s<>`]*)[^\s<`]*")
_REFERENCE_HASH = re.compile(r"#(?=\d)")
_GH_PREFIX = re.compile(r"(?<![A-Za-z0-9_])(GH-)(?=\d)", re.IGNORECASE)
_MENTION_AT = re.compile(r"(?<![A-Za-z0-9_])@(?=[A-Za-z0-9])")


@dataclass(frozen=True, slots=True)
class _Piece:
    """A run of text: `verbatim` ones (code, plain links) are passed through unchanged."""

    text: str
    verbatim: bool


def _lines(text: str) -> list[str]:
    return _LINE.findall(text)


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip(" \t\n")
    indent = len(line) - len(line.lstrip(" "))
    return indent <= 3 and stripped.startswith(fence) and set(stripped) == {fence[0]}


@dataclass(frozen=True, slots=True)
class _Blocks:
    """Text cut into code blocks and prose, and what the cut found."""

    pieces: list[_Piece]
    open_fence: str | None
    """The fence still open at the end of the text, if any."""
    fenced: bool
    """Whether any fenced code block was found."""


def _blocks(text: str) -> _Blocks:
    """Fenced and indented code blocks (verbatim) and the prose between them.

    An indented block counts as code only after a blank line and where no list came
    before it (it could be a list item's text); anything in doubt is prose.
    """
    pieces: list[_Piece] = []
    prose: list[str] = []
    code: list[str] = []
    fence: str | None = None
    fenced = seen_list = False
    previous_blank = True

    def flush(into_code: bool) -> None:
        source = code if into_code else prose
        if source:
            pieces.append(_Piece("".join(source), verbatim=into_code))
            source.clear()

    for line in _lines(text):
        blank = not line.strip(" \t\n")  # CommonMark's blank: spaces and tabs only
        if fence is not None:
            code.append(line)
            if _closes(line, fence):
                fence = None
            continue
        opened = _FENCE_OPEN.match(line)
        if opened and not (opened.group(2)[0] == "`" and "`" in opened.group(3)):
            flush(into_code=False)
            fence, fenced = opened.group(2), True
            code.append(line)
            continue
        seen_list = seen_list or bool(_LIST_ITEM.match(line))
        indented = bool(_INDENTED.match(line)) and not blank and not seen_list
        if (indented and (previous_blank or code)) or (code and blank):
            flush(into_code=False)
            code.append(line)
            continue
        flush(into_code=True)
        prose.append(line)
        previous_blank = blank
    flush(into_code=True)
    flush(into_code=False)
    return _Blocks(pieces, fence, fenced)


def _segments(prose: str) -> list[str]:
    """Prose cut where a code span cannot continue: only plain lines run on together."""
    segments: list[list[str]] = []
    previous_plain = False
    for line in _lines(prose):
        plain = bool(_PLAIN.match(line))
        if not (plain and previous_plain and segments):
            segments.append([])
        segments[-1].append(line)
        previous_plain = plain
    return ["".join(lines) for lines in segments]


def _spans_in(text: str) -> list[_Piece]:
    """Code spans (verbatim) and the text around them, as CommonMark pairs backtick runs."""
    runs = [(m.start(), m.end()) for m in _BACKTICKS.finditer(text)]
    by_length: dict[int, list[int]] = {}
    for index, (start, end) in enumerate(runs):
        by_length.setdefault(end - start, []).append(index)
    pieces: list[_Piece] = []
    kept = index = 0
    while index < len(runs):
        start, end = runs[index]
        before = start
        while before > kept and text[before - 1] == "\\":
            before -= 1
        start += (start - before) % 2  # a backslash escapes the run's first backtick
        same = by_length.get(end - start, [])
        closer = bisect.bisect_right(same, index)
        if end == start or closer == len(same):
            index += 1
            continue
        close_end = runs[same[closer]][1]
        pieces += [_Piece(text[kept:start], False), _Piece(text[start:close_end], True)]
        kept, index = close_end, same[closer] + 1
    pieces.append(_Piece(text[kept:], False))
    return [piece for piece in pieces if piece.text]


def _code_spans(prose: str) -> list[_Piece]:
    """Split prose into code spans (verbatim) and the text around them."""
    return [piece for segment in _segments(prose) for piece in _spans_in(segment)]


def code_span(text: str) -> str:
    """`text` as an inline code span that shows it exactly (one line)."""
    text = " ".join(text.splitlines())
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    edge = text[:1] + text[-1:]
    pad = " " if "`" in edge or (text.startswith(" ") and text.endswith(" ")) else ""
    return f"{fence}{pad}{text}{pad}{fence}"


_Carve = Callable[[re.Match[str]], list[_Piece] | None]


def _carve(pieces: list[_Piece], pattern: re.Pattern[str], replace: _Carve) -> list[_Piece]:
    """Replace each match of `pattern` in the prose pieces by what `replace` makes of it.

    `replace` returns the pieces standing for the match, or None to leave it as prose.
    """
    result: list[_Piece] = []
    for piece in pieces:
        if piece.verbatim:
            result.append(piece)
            continue
        last = 0
        for match in pattern.finditer(piece.text):
            made = replace(match)
            if made is None:
                continue
            result += [_Piece(piece.text[last : match.start()], False), *made]
            last = match.end()
        result.append(_Piece(piece.text[last:], False))
    return [piece for piece in result if piece.text]


def _as_code(match: re.Match[str]) -> list[_Piece]:
    """HTML-like text or an issue URL, shown as code."""
    return [_Piece(code_span(match.group(0)), True)]


def _issue_link(match: re.Match[str]) -> list[_Piece]:
    """`[text](issue URL)` as `text (URL as code)`: a link would cross-reference."""
    url = _Piece(code_span(match.group(2)), True)
    return [_Piece(match.group(1) + " (", False), url, _Piece(")", False)]


def _valid_domain(domain: str) -> bool:
    """GFM autolinks a domain with a period and no `_` in its last two labels."""
    labels = domain.split(".")
    return len(labels) > 1 and all(labels) and not any("_" in label for label in labels[-2:])


def _plain_link(match: re.Match[str]) -> list[_Piece] | None:
    """A URL GitHub links as it is stays verbatim (its `#` and `@` do nothing there)."""
    if not _valid_domain(match.group(1).split(":")[0]):
        return None
    return [_Piece(match.group(0), True)]


def _defuse_text(text: str) -> str:
    """Defuse what acts on GitHub in plain text (no code, no tags, no links left in it)."""
    text = _ESCAPE_OR_BACKTICK.sub(lambda m: m.group(0) if len(m.group(0)) > 1 else "\\`", text)
    text = _REFERENCE_HASH.sub("#" + WORD_JOINER, text)
    text = _GH_PREFIX.sub(r"\1" + WORD_JOINER, text)
    return _MENTION_AT.sub("@" + WORD_JOINER, text)


def _join(pieces: list[_Piece]) -> str:
    """Concatenate, keeping a generated code span from merging with a backtick or backslash."""
    out: list[str] = []
    for piece in pieces:
        if out and out[-1][-1:] in ("`", "\\") and piece.text.startswith("`"):
            out.append(WORD_JOINER)
        out.append(piece.text)
    return "".join(out)


def _defuse_prose(prose: str) -> str:
    pieces = _code_spans(prose)
    plain = [
        _Piece(_COMMENT_OPEN.sub("&lt;!--", _ENTITY.sub("&amp;", p.text)), False)
        if not p.verbatim
        else p
        for p in pieces
    ]
    plain = _carve(plain, _ISSUE_LINK, _issue_link)
    plain = _carve(plain, _ISSUE_URL, _as_code)
    plain = _carve(plain, _HTML_LIKE, _as_code)
    plain = _carve(plain, _URL, _plain_link)
    return _join([p if p.verbatim else _Piece(_defuse_text(p.text), False) for p in plain])


def _normalised(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def github_safe(text: str) -> str:
    """`text` ready to quote in a GitHub issue or comment.

    Code (fenced and indented blocks, code spans) is kept byte for byte and a fence left
    open is closed. Outside code: HTML comments (closed or not) are escaped, HTML-like
    text (`List<String>`, `<img …>`) and issue URLs are shown as code, `#12`, `GH-12`,
    `owner/repo#12` and `@name` get an invisible word joiner so they neither reference
    nor notify, character references and unmatched backticks are escaped.
    """
    blocks = _blocks(_normalised(text))
    out = "".join(p.text if p.verbatim else _defuse_prose(p.text) for p in blocks.pieces)
    if blocks.open_fence is not None:
        out += ("" if out.endswith("\n") else "\n") + blocks.open_fence
    return out


def has_fenced_code(text: str) -> bool:
    """True when the text holds a fenced code block."""
    return _blocks(_normalised(text)).fenced


def github_length(text: str) -> int:
    """Length as GitHub counts it against its limits (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def _cut_point(text: str, keep: int) -> int:
    """Where to cut `text` to keep at most `keep` characters: a line end, else a space."""
    line_end = text.rfind("\n", 0, keep)
    if line_end >= keep // 2:
        return line_end
    space = text.rfind(" ", 0, keep)
    return space if space >= keep // 2 else keep


def safe_within(text: str, limit: int) -> tuple[str, bool]:
    """`github_safe(text)` cut to fit `limit`, and whether it had to be cut.

    The cut is made in the original text (at a line end, else a space) and the hygiene
    runs on what is kept, so a cut never leaves half a code span or an open fence.
    """
    safe = github_safe(text)
    keep = len(text)
    cut = False
    while github_length(safe) > limit and keep > 0:
        keep = _cut_point(text, max(0, keep - max(github_length(safe) - limit, 1)))
        safe, cut = github_safe(text[:keep].rstrip()), True
    return safe, cut
