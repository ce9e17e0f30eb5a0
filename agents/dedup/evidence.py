"""The verdict for a ranked candidate list, and the reason a maintainer reads beside it.

A high score alone makes a candidate only `possible_duplicate`: on a busy tracker many
reports of *other* problems in the same area score as high as the real duplicate. The
`duplicate` verdict needs a second, independent signal: the candidate's title terms
appear in the query (what the report is about, not just the area's vocabulary) and the
best candidate stands clear of the runner-up. Chosen by `benchmarks/dedup_eval.py`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from agents.dedup.scoring import _STOPWORDS
from agents.dedup.types import Thresholds, Verdict

#: Share of the candidate title's terms that must appear in the query.
MIN_TITLE_OVERLAP = 0.5
#: Shared title terms needed at least (one common word is not evidence).
MIN_SHARED_TERMS = 2
#: Lead of the best candidate's score over the runner-up's.
MIN_MARGIN = 0.04
#: Terms shown in a reason.
_SHOWN_TERMS = 4

_WORD = re.compile(r"[a-z0-9]{2,}")
_SUFFIXES = ("ing", "ed", "es", "s", "ly", "er")


@dataclass(frozen=True)
class Candidate:
    """What the verdict reads of one ranked candidate."""

    title: str
    score: float


@dataclass(frozen=True)
class Evidence:
    """A verdict with the reason behind it, and the signals it came from."""

    verdict: Verdict
    reason: str
    shared_terms: tuple[str, ...] = ()
    title_overlap: float = 0.0
    margin: float = 0.0


def _stem(word: str) -> str:
    """A crude stem: "exporting", "exported" and "exports" all become "export"."""
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def terms(text: str) -> dict[str, str]:
    """Content words of `text` by stem (the first spelling seen is kept for display)."""
    found: dict[str, str] = {}
    for word in _WORD.findall(text.lower()):
        if word not in _STOPWORDS:
            found.setdefault(_stem(word), word)
    return found


def title_overlap(query: str, title: str) -> tuple[tuple[str, ...], float]:
    """The title's terms found in the query, and their share of the title's terms."""
    title_terms = terms(title)
    if not title_terms:
        return (), 0.0
    query_terms = terms(query)
    shared = tuple(word for stem, word in title_terms.items() if stem in query_terms)
    return shared, len(shared) / len(title_terms)


def judge(query: str, ranked: Sequence[Candidate], thresholds: Thresholds) -> Evidence:
    """`duplicate`, `possible_duplicate` or `new` for candidates ranked best first.

    Args:
        query: The feedback or report text.
        ranked: Candidates, best score first.
        thresholds: Score cut-offs.

    Returns:
        The verdict with a one-line reason for the review embed.
    """
    if not ranked:
        return Evidence("new", "nothing indexed is similar")
    best = ranked[0]
    if best.score < thresholds.possible:
        return Evidence("new", f"best match scores {best.score:.2f}, below {thresholds.possible}")
    margin = best.score - ranked[1].score if len(ranked) > 1 else best.score
    shared, overlap = title_overlap(query, best.title)

    def evidence(verdict: Verdict, reason: str) -> Evidence:
        return Evidence(verdict, reason, shared, overlap, margin)

    if best.score < thresholds.duplicate:
        return evidence(
            "possible_duplicate",
            f"similar (score {best.score:.2f}) but below the duplicate threshold "
            f"{thresholds.duplicate}",
        )
    words = ", ".join(f'"{w}"' for w in shared[:_SHOWN_TERMS])
    if len(shared) < MIN_SHARED_TERMS or overlap < MIN_TITLE_OVERLAP:
        said = f"only {words} of its title" if shared else "none of its title's words"
        return evidence("possible_duplicate", f"score {best.score:.2f}, but the text shares {said}")
    if margin < MIN_MARGIN:
        return evidence(
            "possible_duplicate",
            f"score {best.score:.2f} and title words {words} shared, but the next candidate "
            f"is as close (lead {margin:.2f})",
        )
    return evidence(
        "duplicate",
        f"score {best.score:.2f}, {len(shared)} of its title's words shared ({words}), "
        f"{margin:.2f} ahead of the next candidate",
    )
