"""The shipped classifier artifact: numpy-only inference, round trip, question form."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from agents.engines.classifier import ARTIFACT_PATH, EmbeddingClassifier, is_question_form
from agents.engines.text_prep import issue_shaped
from storage.embeddings import Embedder

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_artifact_is_small() -> None:
    assert ARTIFACT_PATH.stat().st_size < 2 * 1024 * 1024


def test_inference_needs_only_numpy() -> None:
    script = (
        "import sys, numpy as np\n"
        "from agents.engines.classifier import EmbeddingClassifier\n"
        "c = EmbeddingClassifier.load()\n"
        "v = np.random.default_rng(0).normal(size=(2, 384)).astype('float32')\n"
        "v /= np.linalg.norm(v, axis=1, keepdims=True)\n"
        "print(len(c.predict(v, ['a', 'b'])))\n"
        "bad = [m for m in ('sklearn', 'scipy', 'torch', 'sentence_transformers') "
        "if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2"


def test_save_load_round_trip(tmp_path: Path, embedder: Embedder) -> None:
    original = EmbeddingClassifier.load()
    copy_path = tmp_path / "head.npz"
    original.save(copy_path)
    copy = EmbeddingClassifier.load(copy_path)
    texts = ["pls add dark mode", "crash on start", "how do I log out?", "x " * 400]
    vectors = embedder.encode(texts)
    first = original.kind_probabilities(vectors, texts)
    second = copy.kind_probabilities(vectors, texts)
    np.testing.assert_allclose(first, second, atol=1e-3)
    np.testing.assert_allclose(first.sum(axis=1), 1.0, atol=1e-5)


def test_predict_reports_evidence(embedder: Embedder) -> None:
    classifier = EmbeddingClassifier.load()
    texts = ["the app crashes every time I open it", "thanks, great app!"]
    crash, thanks = classifier.predict(embedder.encode(texts), texts)
    assert crash.kind == "bug"
    assert crash.nearest_example in classifier.prototype_texts["bug"]
    assert 0 <= crash.margin <= crash.confidence <= 1
    assert crash.actionable and crash.task_cue is not None
    assert not thanks.actionable and thanks.task_cue is None
    assert thanks.chatter_similarity > thanks.task_similarity


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("how do I change my username?", True),
        ("Is there a way to export", True),
        ("where are the settings", True),
        ("pls add dark mode", False),
        ("app crashes on login", False),
        ("why does it ask for my location?", True),
        ("why can't I log in anymore?", False),
        ("What's the point of syncing if my notes vanish?", False),
        ("? nice and good app", False),
        ("does it work on linux ?", True),
    ],
)
def test_question_form(text: str, question: bool) -> None:
    assert is_question_form(text) is question


def test_form_and_length_route_between_heads(embedder: Embedder) -> None:
    classifier = EmbeddingClassifier.load()
    chat = "the export button does nothing"
    issue = "Export button does nothing\n\nClicking Export in the report editor has no effect."
    long_chat = chat + ". " + "It happens on every page of the report editor and in every tab. " * 9
    assert len(issue) < len(long_chat) and len(chat) < classifier.short_chars <= len(long_chat)
    assert classifier.is_chat(chat)
    assert not classifier.is_chat(issue) and not classifier.is_chat(long_chat)
    texts = [chat, issue, long_chat]
    vectors = embedder.encode(texts)
    probs = classifier.kind_probabilities(vectors, texts)
    without_lexical = EmbeddingClassifier.load()
    without_lexical.lexical_weights = np.zeros_like(without_lexical.lexical_weights)
    changed = without_lexical.kind_probabilities(vectors, texts)
    np.testing.assert_allclose(probs[0], changed[0], atol=1e-6)
    assert not np.allclose(probs[1], changed[1], atol=1e-3)
    assert not np.allclose(probs[2], changed[2], atol=1e-3)


@pytest.mark.parametrize(
    ("text", "shaped"),
    [
        ("Crash on login\n\nThe app closes when I press Sign in.", True),
        ("the app crashes when I log in", False),
        ("Crash on login\n\n   ", False),
        ("hi\nthe app crashes\n\nsince today", False),
        ("x" * 300 + "\n\nbody", False),
    ],
)
def test_issue_shaped(text: str, shaped: bool) -> None:
    assert issue_shaped(text) is shaped
