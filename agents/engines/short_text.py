"""Bug or feature for a short chat message: a head fitted on app reviews, and label descriptions.

Heads fitted on GitHub issues read a one-line complaint ("keeps crashing when I scroll")
less surely than a model that compares the message with one sentence per kind. The chat
path therefore splits its bug/feature mass by a weighted geometric mean of a logistic head
fitted on hand-labelled app reviews (CLAP) and the hand-written examples of
`agents/engines/prototypes.py` (`scripts/train_classifier.py`), and the similarity to
`DESCRIPTIONS`; chosen by `benchmarks/triage_eval.py` on folds grouped by app.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]

#: One sentence per kind, in `("bug", "feature")` order.
DESCRIPTIONS: tuple[str, str] = (
    "a bug report: something is broken, crashes, errors, does not work",
    "a feature request: please add, would be nice, new functionality, suggestion",
)
#: Labelled review categories the head learns from, and the kind each stands for.
REVIEW_KINDS: dict[str, str] = {"BUG": "bug", "FEATURE": "feature"}


@dataclass(frozen=True)
class ShortTextPrior:
    """Bug-versus-feature probabilities for chat messages."""

    review_weights: FloatArray
    review_bias: float
    descriptions: FloatArray
    review_mix: float = 0.7
    description_mix: float = 0.3
    temperature: float = 0.02

    def bug_feature(self, vectors: FloatArray) -> FloatArray:
        """Probabilities of (bug, feature) per unit-length embedding, shape (n, 2)."""
        feature_logit = vectors @ self.review_weights + self.review_bias
        review_log = -np.logaddexp(0.0, np.stack([feature_logit, -feature_logit], axis=1))
        similarity = vectors @ self.descriptions.T / self.temperature
        description_log = similarity - np.logaddexp.reduce(similarity, axis=1, keepdims=True)
        mixed = self.review_mix * review_log + self.description_mix * description_log
        mixed -= mixed.max(axis=1, keepdims=True)
        probabilities = np.exp(mixed)
        return (probabilities / probabilities.sum(axis=1, keepdims=True)).astype(np.float32)

    def arrays(self) -> dict[str, npt.NDArray[np.generic]]:
        """The prior as named arrays for the classifier artifact."""
        return {
            "prior_review_weights": self.review_weights.astype(np.float32),
            "prior_review_bias": np.array(self.review_bias, dtype=np.float32),
            "prior_descriptions": self.descriptions.astype(np.float32),
            "prior_mix": np.array([self.review_mix, self.description_mix], dtype=np.float32),
            "prior_temperature": np.array(self.temperature, dtype=np.float32),
        }

    @classmethod
    def from_arrays(cls, data: Mapping[str, Any]) -> ShortTextPrior | None:
        """The prior stored in an artifact (an `np.load` result), or None for older artifacts."""
        if "prior_review_weights" not in data:
            return None
        mix = data["prior_mix"]
        return cls(
            review_weights=data["prior_review_weights"].astype(np.float32),
            review_bias=float(data["prior_review_bias"]),
            descriptions=data["prior_descriptions"].astype(np.float32),
            review_mix=float(mix[0]),
            description_mix=float(mix[1]),
            temperature=float(data["prior_temperature"]),
        )


def fit_short_prior(
    vectors: FloatArray,
    kinds: Sequence[str],
    descriptions: FloatArray,
    *,
    weights: Sequence[float] | None = None,
    c: float = 2.0,
) -> ShortTextPrior:
    """Fit the review head on embedded messages labelled `bug` or `feature`.

    Args:
        vectors: Unit-length embeddings of the messages.
        kinds: `bug` or `feature` per message.
        descriptions: Embeddings of `DESCRIPTIONS`, shape (2, d).
        weights: Sample weight per message (default 1 each).
        c: Inverse regularisation strength of the logistic head.

    Returns:
        The prior with the shipped mixing weights.
    """
    from sklearn.linear_model import LogisticRegression

    targets = np.array([kind == "feature" for kind in kinds], dtype=np.int64)
    head = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
    head.fit(vectors, targets, sample_weight=None if weights is None else np.asarray(weights))
    return ShortTextPrior(
        review_weights=head.coef_[0].astype(np.float32),
        review_bias=float(head.intercept_[0]),
        descriptions=descriptions.astype(np.float32),
    )
