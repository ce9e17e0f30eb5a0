"""Fitting the classifier: reproducible, and it learns from the issues it is given."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agents.engines.training import embed_issues, embed_prototypes, fit_classifier, read_issues
from storage.embeddings import Embedder


def test_fit_is_reproducible_and_learns(shared_data: Path, embedder: Embedder) -> None:
    full, titles, labels = read_issues(shared_data)
    assert len(full) == 1500
    assert sorted(set(labels)) == ["bug", "feature", "question"]
    pick = [
        i
        for kind in ("bug", "feature", "question")
        for i in [j for j, label in enumerate(labels) if label == kind][:20]
    ]
    issues = embed_issues(
        [full[i][:600] for i in pick],
        [titles[i] for i in pick],
        [labels[i] for i in pick],
        embedder.encode,
    )
    prototypes = embed_prototypes(embedder.encode)
    first = fit_classifier(issues, prototypes)
    second = fit_classifier(issues, prototypes)
    np.testing.assert_array_equal(first.weights, second.weights)
    np.testing.assert_array_equal(first.lexical_weights, second.lexical_weights)
    probs = first.kind_probabilities(issues.full_vectors, issues.full_texts)
    accuracy = float(np.mean(probs.argmax(axis=1) == issues.labels))
    assert accuracy > 0.8
