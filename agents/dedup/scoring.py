"""Scores for duplicate candidates: dense cosine, re-ranked with a lexical TF-IDF cosine."""

from __future__ import annotations

import enum
import math
import re
from collections import Counter
from collections.abc import Sequence

from agents.dedup.types import Thresholds, Verdict

#: Weight of the dense (embedding) similarity in the hybrid score; the rest is lexical.
DENSE_WEIGHT = 0.6
#: Dense nearest neighbours re-ranked per query; also the sample the lexical IDF comes from.
CANDIDATE_POOL = 50
#: Default cut-offs for the hybrid score, calibrated by `benchmarks/dedup_eval.py`: at 0.55
#: about 2% of OpenOffice duplicate queries get a top match that is not their master
#: (target < 5%); at 0.40 about half of the queries surface their master as a possible duplicate.
DEFAULT_DUPLICATE_THRESHOLD = 0.55
DEFAULT_POSSIBLE_THRESHOLD = 0.40
DEFAULT_THRESHOLDS = Thresholds(
    duplicate=DEFAULT_DUPLICATE_THRESHOLD, possible=DEFAULT_POSSIBLE_THRESHOLD
)

_TOKEN = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    {
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "for",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "with",
        "as",
        "at",
        "by",
        "from",
        "i",
        "you",
        "we",
        "he",
        "she",
        "they",
        "not",
        "no",
        "do",
        "does",
        "did",
        "doing",
        "have",
        "has",
        "had",
        "but",
        "if",
        "then",
        "so",
        "can",
        "will",
        "would",
        "should",
        "could",
        "my",
        "your",
        "our",
        "their",
        "me",
        "us",
        "them",
        "there",
        "here",
        "what",
        "which",
        "who",
        "when",
        "where",
        "why",
        "how",
        "all",
        "any",
        "some",
        "just",
        "also",
        "very",
        "too",
        "into",
        "out",
        "up",
        "about",
        "than",
        "more",
        "most",
        "such",
        "only",
        "own",
        "same",
        "other",
        "again",
        "further",
        "once",
        "am",
        "get",
        "got",
    }
)


class Scoring(enum.StrEnum):
    """How candidates are ranked."""

    DENSE = "dense"
    HYBRID = "hybrid"


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens, stop words and single characters dropped."""
    return [t for t in _TOKEN.findall(text.lower()) if len(t) > 1 and t not in _STOPWORDS]


def _weighted(counts: Counter[str], idf: dict[str, float]) -> dict[str, float]:
    weights = {term: (1.0 + math.log(n)) * idf[term] for term, n in counts.items()}
    norm = math.sqrt(sum(w * w for w in weights.values()))
    return {term: w / norm for term, w in weights.items()} if norm else {}


def lexical_similarities(query: str, candidates: Sequence[str]) -> list[float]:
    """TF-IDF cosine of `query` with each candidate, each in [0, 1].

    Term frequencies are sublinear and the IDF is estimated from the query and its
    candidates, so a term every candidate shares (the product's name, "crash") counts
    little, and no index over the whole collection is needed.

    Args:
        query: The query text.
        candidates: Texts of the dense nearest neighbours.

    Returns:
        One similarity per candidate, in order.
    """
    query_counts = Counter(tokenize(query))
    if not query_counts or not candidates:
        return [0.0] * len(candidates)
    candidate_counts = [Counter(tokenize(text)) for text in candidates]
    document_frequency: Counter[str] = Counter(query_counts.keys())
    for counts in candidate_counts:
        document_frequency.update(counts.keys())
    total = len(candidates) + 1
    idf = {term: math.log((total + 1) / (df + 1)) + 1.0 for term, df in document_frequency.items()}
    query_vector = _weighted(query_counts, idf)
    scores = []
    for counts in candidate_counts:
        vector = _weighted(counts, idf)
        if len(vector) < len(query_vector):
            dot = sum(w * query_vector.get(t, 0.0) for t, w in vector.items())
        else:
            dot = sum(w * vector.get(t, 0.0) for t, w in query_vector.items())
        scores.append(min(1.0, max(0.0, dot)))
    return scores


def combined_scores(
    query: str,
    dense: Sequence[float],
    candidates: Sequence[str],
    *,
    scoring: Scoring = Scoring.HYBRID,
    dense_weight: float = DENSE_WEIGHT,
) -> list[float]:
    """Final scores in [0, 1] for candidates with dense cosine similarities `dense`.

    Args:
        query: The query text.
        dense: Cosine similarity of each candidate's embedding with the query's.
        candidates: The candidates' texts, same order.
        scoring: `dense` (cosine clipped at 0) or `hybrid` (weighted with the lexical score).
        dense_weight: Share of the dense similarity in the hybrid score.

    Returns:
        One score per candidate, in order.
    """
    clipped = [min(1.0, max(0.0, float(s))) for s in dense]
    if scoring is Scoring.DENSE:
        return clipped
    lexical = lexical_similarities(query, candidates)
    return [
        dense_weight * d + (1.0 - dense_weight) * lex
        for d, lex in zip(clipped, lexical, strict=True)
    ]


def verdict_for(score: float | None, thresholds: Thresholds) -> Verdict:
    """`duplicate`, `possible_duplicate` or `new` for the best candidate's score."""
    if score is None:
        return "new"
    if score >= thresholds.duplicate:
        return "duplicate"
    if score >= thresholds.possible:
        return "possible_duplicate"
    return "new"
