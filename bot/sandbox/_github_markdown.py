"""What GitHub would do with a Markdown body: the references, mentions and images it makes.

GitHub turns `#12`, `GH-12`, `owner/repo#12` and issue or pull request URLs into
cross-references (a timeline entry on the other issue), `@name` into a notification, and
`![](url)` or `<img>` into an image its viewers load. None of that happens inside code
(fenced or indented blocks, code spans) or HTML comments, and character references such
as `&#64;` count as the character they stand for. This reading errs on the side of
finding too much, so a test that sees nothing can trust it.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_INDENTED = re.compile(r"^(?: {4}|\t)")
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(?:(?!\n[ \t]*\n).)+?(?<!`)\1(?!`)", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)
_MENTION = re.compile(r"(?<![A-Za-z0-9_])@([A-Za-z0-9][A-Za-z0-9-]*(?:/[A-Za-z0-9_.-]+)?)")
_LOCAL_REF = re.compile(r"(?<![A-Za-z0-9_])#(\d+)")
_REPO_REF = re.compile(r"([A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+)#(\d+)")
_GH_REF = re.compile(r"(?<![A-Za-z0-9_])GH-(\d+)", re.IGNORECASE)
_URL_REF = re.compile(
    r"(?:https?://|www\.)[^\s/<>]+/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)/"
    r"(?:issues|pull|pulls|discussions)/(\d+)",
    re.IGNORECASE,
)
_IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]*)|<img\b[^>]*>", re.IGNORECASE)
_QUOTE = re.compile(r"^ {0,3}> ?")
_LIST_ITEM = re.compile(r"^ {0,3}(?:[-+*]|\d{1,9}[.)])(?:\s|$)")


@dataclass(frozen=True)
class Effects:
    """What rendering one body does on GitHub."""

    references: list[str] = field(default_factory=list)
    """Issues it cross-references, as `owner/repo#N` (`#N` of the body's own repository)."""
    mentions: list[str] = field(default_factory=list)
    """Logins (or `org/team`) it notifies."""
    images: list[str] = field(default_factory=list)
    """Images it shows."""


def _quote_depth(line: str) -> tuple[int, str]:
    """How many blockquote markers open the line, and the rest of it."""
    depth = 0
    while (marker := _QUOTE.match(line)) is not None:
        depth, line = depth + 1, line[marker.end() :]
    return depth, line


def _without_block_code(body: str) -> str:
    """The body with fenced and indented code blocks blanked out (also inside quotes).

    A fence ends at its closing fence, or where its blockquote ends.
    """
    kept: list[str] = []
    fence: tuple[str, int] | None = None
    previous_blank = True
    in_list = False
    for line in body.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        depth, content = _quote_depth(line)
        if fence is not None and depth == fence[1]:
            stripped = content.strip(" \t")
            indent = len(content) - len(content.lstrip(" "))
            closing = stripped.startswith(fence[0]) and set(stripped) == {fence[0][0]}
            if closing and indent <= 3:
                fence = None
            kept.append("")
            continue
        fence = None
        opened = _FENCE_OPEN.match(content)
        if opened and not (opened.group(1)[0] == "`" and "`" in opened.group(2)):
            fence = (opened.group(1), depth)
            kept.append("")
            continue
        in_list = in_list or bool(_LIST_ITEM.match(content))
        indented_code = bool(_INDENTED.match(content)) and previous_blank and not in_list
        blank = not content.strip(" \t")
        kept.append("" if indented_code and not blank else line)
        if not (indented_code and not blank):
            previous_blank = blank
    return "\n".join(kept)


def effects(body: str | None, *, repo: str) -> Effects:
    """The references, mentions and images GitHub would make from `body` in `repo`."""
    text = _without_block_code(body or "")
    text = _COMMENT.sub(" ", text)
    # An escaped backtick opens no code span (read everywhere: more findings, never fewer).
    text = _ESCAPED.sub(lambda m: "\\'" if m.group(1) == "`" else m.group(0), text)
    text = _CODE_SPAN.sub(" ", text)
    text = html.unescape(text)
    references = [f"{m.group(1)}#{m.group(2)}" for m in _REPO_REF.finditer(text)]
    references += [f"{repo}#{m.group(1)}" for m in _LOCAL_REF.finditer(text)]
    references += [f"{repo}#{m.group(1)}" for m in _GH_REF.finditer(text)]
    references += [f"{m.group(1)}/{m.group(2)}#{m.group(3)}" for m in _URL_REF.finditer(text)]
    return Effects(
        references=references,
        mentions=[m.group(1) for m in _MENTION.finditer(text)],
        images=[m.group(0) for m in _IMAGE.finditer(text)],
    )


@dataclass(frozen=True)
class Rendered:
    """What GitHub made of one body written through the API (an issue, an edit, a comment)."""

    where: str
    body: str
    effects: Effects


class RenderedBodies:
    """Every body the fake was given, read as GitHub renders it; mixed into `FakeGitHub`."""

    def __init__(self) -> None:
        self.rendered: list[Rendered] = []

    def render(self, where: str, repo: str, body: str | None) -> None:
        """Record what `body`, written in `repo`, does on GitHub."""
        self.rendered.append(Rendered(where, body or "", effects(body, repo=repo.lower())))

    def effects_total(self) -> Effects:
        """Every cross-reference, mention and image of every recorded body, together."""
        return Effects(
            references=[r for each in self.rendered for r in each.effects.references],
            mentions=[m for each in self.rendered for m in each.effects.mentions],
            images=[i for each in self.rendered for i in each.effects.images],
        )
