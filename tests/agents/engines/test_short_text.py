"""Short chat messages through the real model: the chat path's bug/feature prior."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agents.engines.classifier import EmbeddingClassifier
from agents.engines.offline import OfflineEngine
from agents.engines.short_text import DESCRIPTIONS, ShortTextPrior, fit_short_prior
from storage.embeddings import Embedder


@pytest.fixture(scope="module")
def engine(embedder: Embedder) -> OfflineEngine:
    return OfflineEngine(embedder)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("keeps force closing whenever i open a video", "bug"),
        ("since the last update my widgets are all blank", "bug"),
        ("wont load my playlists anymore", "bug"),
        ("the sound is out of sync with the picture", "bug"),
        ("needs more levels", "feature"),
        ("would give 5 stars if you add a landscape mode", "feature"),
        ("hope u guys add cloud sync soon", "feature"),
        ("how do I move my notes to a new phone?", "question"),
    ],
)
async def test_app_review_style_messages_get_their_kind(
    engine: OfflineEngine, text: str, kind: str
) -> None:
    verdict = await engine.classify(text)
    assert verdict.kind == kind
    assert verdict.actionable


@pytest.mark.parametrize("text", ["best game ever!!", "? nice and good app", "love it 😍"])
async def test_praise_is_not_actionable(engine: OfflineEngine, text: str) -> None:
    verdict = await engine.classify(text)
    assert not verdict.actionable


async def test_love_it_but_it_crashes_is_an_actionable_bug(engine: OfflineEngine) -> None:
    verdict = await engine.classify("love it but it keeps crashing")
    assert (verdict.kind, verdict.actionable) == ("bug", True)


def test_shipped_artifact_carries_the_prior_and_it_round_trips(
    tmp_path: Path, embedder: Embedder
) -> None:
    shipped = EmbeddingClassifier.load()
    assert shipped.short_prior is not None
    shipped.save(tmp_path / "head.npz")
    again = EmbeddingClassifier.load(tmp_path / "head.npz")
    assert again.short_prior is not None
    texts = ["wont load my playlists anymore", "needs more levels"]
    vectors = embedder.encode(texts)
    np.testing.assert_allclose(
        shipped.short_prior.bug_feature(vectors), again.short_prior.bug_feature(vectors), atol=1e-3
    )
    without = EmbeddingClassifier.load(tmp_path / "head.npz").with_short_prior(None)
    without.save(tmp_path / "old.npz")
    assert EmbeddingClassifier.load(tmp_path / "old.npz").short_prior is None


def test_prior_learns_from_labelled_messages(embedder: Embedder) -> None:
    bugs = ["it crashes", "the screen freezes", "error when saving", "videos do not play"]
    features = ["please add dark mode", "add an export button", "more themes please"]
    vectors = embedder.encode(bugs + features)
    prior: ShortTextPrior = fit_short_prior(
        vectors, ["bug"] * len(bugs) + ["feature"] * len(features), embedder.encode(DESCRIPTIONS)
    )
    probabilities = prior.bug_feature(embedder.encode(["app closes by itself", "add a timer pls"]))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert probabilities[0, 0] > 0.5 and probabilities[1, 1] > 0.5
