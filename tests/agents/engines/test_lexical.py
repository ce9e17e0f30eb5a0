"""Hashed TF-IDF features: stable buckets across processes and per-block normalisation."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np

from agents.engines.lexical import (
    BLOCK_BUCKETS,
    BUCKETS,
    CODE_PREFIX,
    COMMENT_PREFIX,
    _bucket,
    _char_buckets,
    count_rows,
    document_frequency_idf,
    hashed_counts,
    tfidf_rows,
)

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_buckets_are_stable_across_processes() -> None:
    script = (
        "from agents.engines.lexical import hashed_counts\n"
        "words, chars = hashed_counts('the app crashes on login')\n"
        "print(sorted(words)[:5], sorted(chars)[:5])\n"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(runs) == 1
    words, chars = hashed_counts("the app crashes on login")
    assert runs.pop().strip() == f"{sorted(words)[:5]} {sorted(chars)[:5]}"


def test_word_and_char_blocks_are_separate_and_unit_length() -> None:
    words, chars = hashed_counts("App crashes, app crashes again")
    assert words and chars
    assert all(0 <= b < BLOCK_BUCKETS for b in words)
    assert all(BLOCK_BUCKETS <= b < BUCKETS for b in chars)
    texts = ["App crashes, app crashes again", "please add dark mode", ""]
    idf = document_frequency_idf(count_rows(texts))
    indptr, indices, values = tfidf_rows(texts, idf)
    for row in range(2):
        piece = slice(indptr[row], indptr[row + 1])
        in_words = indices[piece] < BLOCK_BUCKETS
        assert np.isclose(np.linalg.norm(values[piece][in_words]), 1.0)
        assert np.isclose(np.linalg.norm(values[piece][~in_words]), 1.0)
    assert indptr[3] == indptr[2]


def test_rare_terms_weigh_more() -> None:
    texts = ["crash crash", "crash dark mode", "crash login"]
    idf = document_frequency_idf(count_rows(texts))
    (crash_bucket,) = [b for b in hashed_counts("crash")[0]]
    (dark_bucket,) = [b for b in hashed_counts("dark")[0]]
    assert idf[dark_bucket] > idf[crash_bucket]


def test_code_and_template_comments_count_as_their_own_words() -> None:
    issue = (
        "Editor freezes\n\n<!-- Describe the bug -->\nIt hangs.\n\n"
        "```\nTraceback (most recent call last):\n  ValueError\n```"
    )
    prose = "Editor freezes\n\nIt hangs."
    words, _ = hashed_counts(issue)
    prose_words, _ = hashed_counts(prose)
    assert _bucket(CODE_PREFIX + "traceback") in words
    assert _bucket(COMMENT_PREFIX + "bug") in words
    assert _bucket("traceback") not in words  # code is not read as prose
    assert set(prose_words) < set(words)


def test_the_word_cache_stays_small_when_full() -> None:
    """A full cache of character n-gram buckets costs a few hundred bytes a word, a few MiB."""
    words = [f"w{n:05d}feedback" for n in range(5000)]
    _char_buckets.cache_clear()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for word in words:
            hashed_counts(word)
        per_word = (tracemalloc.get_traced_memory()[0] - before) / len(words)
    finally:
        tracemalloc.stop()
        _char_buckets.cache_clear()
    assert per_word < 600, per_word  # a tuple of ints cost about 1,760
    full = (_char_buckets.cache_info().maxsize or 0) * per_word
    assert full < 4 * 2**20, f"a full cache holds {full / 2**20:.1f} MiB"
