"""GitHub Markdown hygiene: code byte for byte, prose that references and notifies nobody."""

from __future__ import annotations

import itertools
import time

import pytest

from agents.markdown import (
    WORD_JOINER,
    code_span,
    github_length,
    github_safe,
    has_fenced_code,
    safe_within,
)
from bot.sandbox._github_markdown import effects

REPO = "acme/widgets"
JAVA = '```java\n@Override\npublic void run() { log("#1 @x <b>"); }\n```'
HOSTILE = [
    "see #1, acme/widgets#2, other/repo#3, GH-4 and gh-5",
    "@someone @acme/core (@paren) .@dot \\@escaped `@unclosed",
    "https://github.com/acme/widgets/issues/1 www.github.com/a/b/pull/2 "
    '<https://github.com/a/b/issues/3> [x](https://github.com/a/b/pull/4 "t")',
    "&#64;entity &#x40;hex &commat;named &#35;6 &num;7",
    "<!-- hidden @x #8 --> <!-- never closed @y",
    "<details>\n`@x`\n</details>",
    "<div>\n\n`@x`",
    "`a\n<div>\n@c #9`",
    "- `a\nb @c`",
    "> `@q\n@r`",
    "```\n@in_fence #10\n```\n@after #11",
    "~~~\n@tilde\n~~~~\n@after",
    "``` a`b\n@not_a_fence\n```",
    "- item\n\n    @listed #12",
    "http://a_b.c_d/@x http://localhost/@y",
    "\u2028```\n@sep",
    "x\r```\r@cr\r```",
    "\u2028\n    @after_separator",
    "\u00a0\n    @after_nbsp",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_nothing_acts_on_github_after_hygiene(text: str) -> None:
    found = effects(github_safe(text), repo=REPO)
    assert found.references == [] and found.mentions == [], github_safe(text)


def test_combinations_of_hostile_pieces_stay_inert() -> None:
    for a, b in itertools.permutations(HOSTILE, 2):
        for glue in ("", " ", "\n", "\n\n"):
            safe = github_safe(a + glue + b)
            found = effects(safe, repo=REPO)
            assert found.references == [] and found.mentions == [], safe


def test_code_is_kept_byte_for_byte() -> None:
    text = f"Crash @x:\n\n{JAVA}\n\nand `@inline <b>` too\n\n    indented @code #5\n"
    safe = github_safe(text)
    assert JAVA in safe
    assert "`@inline <b>`" in safe
    assert "    indented @code #5" in safe
    assert "@" + WORD_JOINER + "x" in safe


def test_prose_reads_the_same_and_keeps_what_it_can_byte_for_byte() -> None:
    safe = github_safe("List<String> and <img src=x> at https://x.y/a#L2?q=@me, v1.2 #3")
    assert "`List<String>`" in safe and "`<img src=x>`" in safe
    assert "https://x.y/a#L2?q=@me," in safe, "a plain link keeps its anchor and query"
    assert safe.replace(WORD_JOINER, "").endswith("v1.2 #3")


def test_html_comments_are_escaped_not_dropped() -> None:
    safe = github_safe("a <!-- iterateswarm:item:4 --> b <!-- open")
    assert "<!--" not in safe
    assert safe == "a &lt;!-- iterateswarm:item:4 --> b &lt;!-- open"


def test_an_unclosed_fence_is_closed() -> None:
    assert github_safe("x\n```py\nprint(1)") == "x\n```py\nprint(1)\n```"
    assert github_safe("~~~~\n") == "~~~~\n~~~~"


def test_generated_code_spans_do_not_merge_with_backticks_or_backslashes() -> None:
    assert github_safe("x<b>`code`") == f"`x<b>`{WORD_JOINER}`code`"
    assert github_safe("C:\\ <b>") == "C:\\ `<b>`"
    safe = github_safe("stray ` then <i>")
    assert safe == "stray \\` then `<i>`"


def test_code_span_shows_any_text() -> None:
    assert code_span("a`b") == "``a`b``"
    assert code_span("`x`") == "`` `x` ``"
    assert code_span("two\nlines") == "`two lines`"


def test_fenced_code_is_detected() -> None:
    assert has_fenced_code("a\n```\nb\n```")
    assert not has_fenced_code("a ``` b") and not has_fenced_code("    ```\n")


def test_safe_within_cuts_before_the_hygiene() -> None:
    text = "intro\n```\n" + "@x line\n" * 50 + "```\n" + "tail " * 100
    safe, cut = safe_within(text, 120)
    assert cut and github_length(safe) <= 120
    assert safe.endswith("```"), "the cut fence is closed"
    assert safe_within("short", 100) == ("short", False)
    assert safe_within("x" * 50, 0) == ("", True)


def _best_seconds(text: str) -> float:
    """Shortest of three runs of `github_safe` (load on the machine only adds time)."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        github_safe(text)
        best = min(best, time.perf_counter() - started)
    return best


def test_pathological_backticks_take_linear_time() -> None:
    """Four times the backticks take about four times as long, not sixteen (quadratic)."""

    def backticks(n: int) -> str:
        return ("` " * 4 * n) + ("``" * n) + "@x"

    small, large = _best_seconds(backticks(2_500)), _best_seconds(backticks(10_000))
    assert large < 8 * small + 0.05, (small, large)
    assert effects(github_safe(backticks(5_000)), repo=REPO).mentions == []
