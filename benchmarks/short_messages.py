"""Short app reviews with clean labels (CLAP): the engine by folds grouped by app, and a reference.

Imported by `triage_eval.py`. The review head of the chat path (`agents/engines/short_text.py`)
is fitted on the training folds' reviews only, so no app's reviews are both learnt and scored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from agents.engines.classifier import EmbeddingClassifier
from agents.engines.short_text import DESCRIPTIONS, REVIEW_KINDS
from agents.engines.text_prep import embedding_text
from agents.engines.training import fit_review_prior, read_reviews

TARGET_F1 = 0.90
MAX_PROBLEMS_HIDDEN = 0.03
MIN_OTHER_HIDDEN = 0.60

Encoder = Callable[[Sequence[str]], npt.NDArray[np.float32]]


@dataclass(frozen=True)
class Reviews:
    """The CLAP reviews, embedded."""

    texts: list[str]
    apps: npt.NDArray[np.str_]
    categories: npt.NDArray[np.str_]
    vectors: npt.NDArray[np.float32]

    @property
    def kind_rows(self) -> npt.NDArray[np.bool_]:
        """Reviews whose category is a kind (BUG or FEATURE)."""
        return np.isin(self.categories, list(REVIEW_KINDS))

    @property
    def kinds(self) -> npt.NDArray[np.str_]:
        """`bug`/`feature` for kind rows, the category elsewhere."""
        return np.array([REVIEW_KINDS.get(c, c) for c in self.categories])


def embedded_reviews(data_dir: Path, encode: Encoder) -> Reviews:
    """Read and embed the CLAP reviews (as the engine embeds a message)."""
    rows = read_reviews(data_dir)
    texts = [row["text"] for row in rows]
    return Reviews(
        texts=texts,
        apps=np.array([row["app"] for row in rows]),
        categories=np.array([row["category"] for row in rows]),
        vectors=encode([embedding_text(text) for text in texts]),
    )


def _macro_f1(truth: Sequence[str], predicted: Sequence[str]) -> float:
    from sklearn.metrics import f1_score

    labels = ["bug", "feature"]
    return float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0))


def zero_shot_f1(reviews: Reviews, encode: Encoder) -> float:
    """The reference: bug/feature by the nearer of one description sentence per kind."""
    descriptions = encode(list(DESCRIPTIONS))
    zero_shot = np.array(["bug", "feature"])[(reviews.vectors @ descriptions.T).argmax(axis=1)]
    return _macro_f1(reviews.kinds[reviews.kind_rows], zero_shot[reviews.kind_rows])


def evaluate_reviews(
    classifier: EmbeddingClassifier, reviews: Reviews, encode: Encoder, folds: int
) -> bool:
    """Print bug/feature macro-F1 by app folds, actionable shares and the zero-shot reference.

    Returns:
        Whether the targets hold.
    """
    from sklearn.model_selection import GroupKFold

    kinds = np.empty(len(reviews.texts), dtype=object)
    actionable = np.zeros(len(reviews.texts), dtype=bool)
    fold_scores = []
    kind_rows = reviews.kind_rows
    for train, test in GroupKFold(n_splits=folds).split(reviews.vectors, groups=reviews.apps):
        prior = fit_review_prior(
            reviews.vectors[train],
            list(reviews.categories[train]),
            encode,
            classifier.prototypes,
        )
        fold = classifier.with_short_prior(prior)
        verdicts = fold.predict(reviews.vectors[test], [reviews.texts[i] for i in test])
        kinds[test] = [v.kind for v in verdicts]
        actionable[test] = [v.actionable for v in verdicts]
        scored = test[kind_rows[test]]
        fold_scores.append(_macro_f1(reviews.kinds[scored], kinds[scored]))
    truth = reviews.kinds[kind_rows]
    engine = _macro_f1(truth, kinds[kind_rows])
    reference = zero_shot_f1(reviews, encode)
    heads_only = classifier.with_short_prior(None).predict(reviews.vectors, reviews.texts)
    without = _macro_f1(truth, np.array([v.kind for v in heads_only])[kind_rows])
    other = reviews.categories == "OTHER"
    problems_hidden = float(np.mean(~actionable[~other]))
    other_hidden = float(np.mean(~actionable[other]))
    listed = ", ".join(f"{score:.3f}" for score in fold_scores)
    print(
        f"\n(f) CLAP app reviews, {kind_rows.sum()} BUG/FEATURE of {len(reviews.texts)} reviews "
        f"of {len(set(reviews.apps))} apps, {folds} folds grouped by app:"
    )
    print(
        f"  bug/feature macro-F1 {engine:.3f} (folds {listed}); `question` answered for "
        f"{np.mean(kinds[kind_rows] == 'question'):.1%}"
    )
    print(
        f"  reference: zero-shot similarity to one sentence per kind {reference:.3f}; "
        f"the issue-trained heads alone {without:.3f}"
    )
    print(
        f"  problem reports (all but OTHER) marked not actionable: {problems_hidden:.1%} "
        f"(target <= {MAX_PROBLEMS_HIDDEN:.0%}); OTHER marked not actionable: "
        f"{other_hidden:.1%} of {other.sum()} (target >= {MIN_OTHER_HIDDEN:.0%})"
    )
    ok = (
        engine >= TARGET_F1
        and problems_hidden <= MAX_PROBLEMS_HIDDEN
        and other_hidden >= MIN_OTHER_HIDDEN
    )
    print(f"  -> {'PASS' if ok else 'FAIL'}")
    return ok
