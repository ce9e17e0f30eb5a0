"""Scores for duplicate candidates: dense cosine, re-ranked with a lexical TF-IDF cosine."""

from __future__ import annotations

import enum
import functools
import math
import re
from collections import Counter
from collections.abc import Sequence

from agents.dedup.types import Thresholds

#: Weight of the dense (embedding) similarity in the hybrid score; the rest is lexical.
DENSE_WEIGHT = 0.6
#: Dense nearest neighbours re-ranked per query; also the sample the lexical IDF comes from.
CANDIDATE_POOL = 50
#: Default cut-offs for the hybrid score, calibrated by `benchmarks/dedup_eval.py` with the
#: shipped embedding model (adapter included). A score at or above the duplicate threshold
#: is necessary for a `duplicate` verdict, not sufficient: `agents.dedup.evidence` also asks
#: for shared title words and a lead over the runner-up. At 0.40 no unrelated app review
#: reaches a possible duplicate. Recalibrate whenever the adapter is retrained.
DEFAULT_DUPLICATE_THRESHOLD = 0.50
DEFAULT_POSSIBLE_THRESHOLD = 0.40
DEFAULT_THRESHOLDS = Thresholds(
    duplicate=DEFAULT_DUPLICATE_THRESHOLD, possible=DEFAULT_POSSIBLE_THRESHOLD
)

#: Characters of a text the lexical score reads (what the embedder reads too); the tail of
#: a very long report is mostly logs and only costs tokenising time.
LEXICAL_CHARS = 4000
#: Texts whose term frequencies are kept between queries (candidates recur across queries).
#: About 6 KiB each: enough for the candidates of the items in flight.
_COUNTS_CACHE = 512

_TOKEN = re.compile(r"[a-z0-9]{2,}")
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


@functools.lru_cache(maxsize=_COUNTS_CACHE)
def log_term_frequencies(text: str) -> dict[str, float]:
    """`1 + ln(count)` per lower-cased word of `text`'s first `LEXICAL_CHARS` characters.

    Stop words and single characters are left out. The dict is cached and shared: read-only.
    """
    counts = Counter(_TOKEN.findall(text[:LEXICAL_CHARS].lower()))
    return {term: 1.0 + math.log(n) for term, n in counts.items() if term not in _STOPWORDS}


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
    query_tf = log_term_frequencies(query)
    if not query_tf or not candidates:
        return [0.0] * len(candidates)
    candidate_tfs = [log_term_frequencies(text) for text in candidates]
    document_frequency: Counter[str] = Counter(query_tf.keys())
    for tf in candidate_tfs:
        document_frequency.update(tf.keys())
    total = len(candidates) + 1
    idf = {term: math.log((total + 1) / (df + 1)) + 1.0 for term, df in document_frequency.items()}
    query_weights = {term: w * idf[term] for term, w in query_tf.items()}
    query_norm = math.sqrt(sum(w * w for w in query_weights.values()))
    scores = []
    for tf in candidate_tfs:
        norm = math.sqrt(sum((w * idf[term]) ** 2 for term, w in tf.items())) * query_norm
        shared = query_weights.keys() & tf.keys()
        dot = sum(query_weights[term] * tf[term] * idf[term] for term in shared)
        scores.append(min(1.0, max(0.0, dot / norm)) if norm else 0.0)
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
