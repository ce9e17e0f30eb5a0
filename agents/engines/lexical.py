"""Hashed TF-IDF features (word 1-2grams; title, code and template words; char 3-5grams)."""

from __future__ import annotations

import functools
import math
import re
import zlib
from array import array
from collections import Counter
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from agents.engines.text_prep import clean_text, dropped_markup

#: Hash buckets per block; word n-grams fill the first block, character n-grams the second.
BLOCK_BUCKETS = 1 << 17
#: Total feature width.
BUCKETS = 2 * BLOCK_BUCKETS
CHAR_NGRAMS = (3, 4, 5)
_MAX_CHARS = 6000
_TOKEN = re.compile(
    r"[a-z][a-z0-9_']{0,24}|[0-9]{1,4}|\?|[^\sa-z0-9_'.,;:!?()\[\]{}\"<>/\\|`~@#$%^&*+=-]"
)
#: Prefix of the words of a multi-line text's first line (an issue's title).
TITLE_PREFIX = "t:"
#: Prefixes of the words of fenced code and of HTML comments (which `clean_text` drops).
CODE_PREFIX = "c:"
COMMENT_PREFIX = "h:"
_IDENTIFIER = re.compile(r"[a-z][a-z0-9_']{1,24}")

CsrParts = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float32]]


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens of cleaned text (CJK and other scripts one char each).

    Args:
        text: Raw text.

    Returns:
        The tokens in order.
    """
    return _TOKEN.findall(clean_text(text[:_MAX_CHARS]).lower())


def _bucket(gram: str) -> int:
    # crc32 is stable across processes, unlike the built-in (salted) hash().
    return zlib.crc32(gram.encode("utf-8")) % BLOCK_BUCKETS


def _sublinear(counts: Counter[int], offset: int) -> dict[int, float]:
    return {offset + bucket: 1.0 + math.log(count) for bucket, count in counts.items()}


def hashed_counts(text: str) -> tuple[dict[int, float], dict[int, float]]:
    """Sublinear term frequencies of the word block and the character block.

    Words, word bigrams, (for multi-line texts) the first line's words marked as title
    words, and the words of fenced code and HTML comments, each marked as such, hash into
    `[0, BLOCK_BUCKETS)`; character 3-5grams of each whitespace-separated
    token, padded with a space on both sides, hash into `[BLOCK_BUCKETS, BUCKETS)`.

    Args:
        text: Raw text.

    Returns:
        `(word_block, char_block)`, each bucket -> 1 + log(count).
    """
    cleaned = clean_text(text[:_MAX_CHARS]).lower()
    words = _TOKEN.findall(cleaned)
    word_counts: Counter[int] = Counter(_bucket(w) for w in words)
    word_counts.update(_bucket(f"{a} {b}") for a, b in pairwise(words))
    first_line, newline, _ = cleaned.partition("\n")
    if newline:
        word_counts.update(_bucket(TITLE_PREFIX + w) for w in _TOKEN.findall(first_line))
    code, comments = dropped_markup(text[:_MAX_CHARS].lower())
    word_counts.update(_bucket(CODE_PREFIX + w) for w in _IDENTIFIER.findall(code))
    word_counts.update(_bucket(COMMENT_PREFIX + w) for w in _IDENTIFIER.findall(comments))
    char_counts: Counter[int] = Counter()
    for word, count in Counter(cleaned.split()).items():
        for bucket in _char_buckets(word):
            char_counts[bucket] += count
    return _sublinear(word_counts, 0), _sublinear(char_counts, BLOCK_BUCKETS)


@functools.lru_cache(maxsize=1 << 13)
def _char_buckets(word: str) -> array[int]:
    """Buckets of the character n-grams of `word` padded with a space on both sides.

    Cached: words repeat across texts, and hashing their n-grams is most of the cost. The
    8,192 most recent words (a channel's vocabulary is Zipfian), as arrays of 4-byte buckets,
    not tuples of ints: a full cache holds about 3.5 MiB.
    """
    padded = f" {word} "
    return array(
        "I",
        (
            _bucket(padded[start : start + n])
            for n in CHAR_NGRAMS
            for start in range(max(len(padded) - n + 1, 0))
        ),
    )


def count_rows(texts: list[str]) -> CsrParts:
    """Sublinear term frequencies of `texts` in CSR form, before IDF weighting.

    Args:
        texts: Raw texts.

    Returns:
        `(indptr, indices, values)` for a (len(texts), BUCKETS) sparse matrix.
    """
    indptr = [0]
    indices: list[int] = []
    values: list[float] = []
    for text in texts:
        for block in hashed_counts(text):
            indices.extend(block.keys())
            values.extend(block.values())
        indptr.append(len(indices))
    return (
        np.asarray(indptr, dtype=np.int64),
        np.asarray(indices, dtype=np.int64),
        np.asarray(values, dtype=np.float32),
    )


def tfidf_from_counts(counts: CsrParts, idf: npt.NDArray[np.float32]) -> CsrParts:
    """Apply IDF and L2-normalise each block of each row separately.

    Args:
        counts: Output of `count_rows`.
        idf: Inverse document frequency per bucket, shape (BUCKETS,).

    Returns:
        `(indptr, indices, values)` of the TF-IDF rows.
    """
    indptr, indices, values = counts
    weighted = values * idf[indices]
    for row in range(len(indptr) - 1):
        start, end = int(indptr[row]), int(indptr[row + 1])
        if end == start:
            continue
        piece = weighted[start:end]
        for in_block in (indices[start:end] < BLOCK_BUCKETS, indices[start:end] >= BLOCK_BUCKETS):
            norm = float(np.linalg.norm(piece[in_block]))
            if norm > 0:
                piece[in_block] /= norm
    return indptr, indices, weighted.astype(np.float32)


def tfidf_rows(texts: list[str], idf: npt.NDArray[np.float32]) -> CsrParts:
    """TF-IDF rows of `texts` in CSR form (indptr, indices, values).

    Args:
        texts: Raw texts.
        idf: Inverse document frequency per bucket, shape (BUCKETS,).

    Returns:
        `(indptr, indices, values)` for a (len(texts), BUCKETS) sparse matrix.
    """
    return tfidf_from_counts(count_rows(texts), idf)


def document_frequency_idf(counts: CsrParts) -> npt.NDArray[np.float32]:
    """Smoothed inverse document frequency per bucket, as scikit-learn computes it.

    Args:
        counts: Output of `count_rows` for the training texts.

    Returns:
        Array of shape (BUCKETS,).
    """
    indptr, indices, _ = counts
    documents = len(indptr) - 1
    df = np.bincount(indices, minlength=BUCKETS).astype(np.float64)
    return (np.log((1 + documents) / (1 + df)) + 1).astype(np.float32)


def linear_scores(
    texts: list[str],
    idf: npt.NDArray[np.float32],
    weights: npt.NDArray[np.float32],
    bias: npt.NDArray[np.float32],
) -> npt.NDArray[np.float32]:
    """Logits of a linear model over TF-IDF features, shape (len(texts), n_classes).

    Args:
        texts: Raw texts.
        idf: Inverse document frequency per bucket.
        weights: Shape (n_classes, BUCKETS).
        bias: Shape (n_classes,).

    Returns:
        The logits.
    """
    indptr, indices, values = tfidf_rows(texts, idf)
    out = np.tile(bias.astype(np.float32), (len(texts), 1))
    for row in range(len(texts)):
        start, end = indptr[row], indptr[row + 1]
        if end > start:
            out[row] += weights[:, indices[start:end]] @ values[start:end]
    return out
