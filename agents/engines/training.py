"""Fits the offline classifier from labelled issues (needs scikit-learn, a dev dependency)."""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from agents.engines.base import KINDS
from agents.engines.classifier import CHATTER, EmbeddingClassifier, head_features
from agents.engines.lexical import (
    BUCKETS,
    count_rows,
    document_frequency_idf,
    tfidf_from_counts,
)
from agents.engines.prototypes import CHATTER_EXAMPLES, KIND_EXAMPLES
from agents.engines.short_text import (
    DESCRIPTIONS,
    REVIEW_KINDS,
    ShortTextPrior,
    fit_short_prior,
)
from agents.engines.text_prep import embedding_text

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
Encoder = Callable[[Sequence[str]], FloatArray]

DATA_FILE = "nlbse24_issues_train.csv"
#: Hand-labelled app reviews (CLAP) the chat path's bug/feature prior learns from.
REVIEWS_FILE = "app_reviews_clap_dev.jsonl"


@dataclass(frozen=True)
class TrainingConfig:
    """Hyper-parameters of the shipped pipeline, chosen by cross-validation on the issues."""

    long_embedding_c: float = 2.0
    embedding_c: float = 1.0
    lexical_c: float = 20.0
    lexical_mix: float = 0.65
    prototype_weight: float = 10.0
    top_k: int = 5
    sim_scale: float = 5.0
    short_blend: float = 0.4
    temperature: float = 0.05
    # Chat messages (not issue-shaped) shorter than this go to the chat head, where a
    # message needs a question's form to be judged a question.
    short_chars: int = 600
    question_damping: float = 0.1
    # Weight of each hand-written example beside one labelled review in the chat path's prior.
    review_example_weight: float = 3.0
    # Issues almost never sit this much closer to praise than to a task (see the script).
    chatter_margin: float = 0.05


@dataclass(frozen=True)
class IssueSet:
    """Labelled issues with their two text views and embeddings."""

    full_texts: list[str]
    titles: list[str]
    labels: npt.NDArray[np.int64]
    full_vectors: FloatArray
    title_vectors: FloatArray

    def subset(self, index: npt.NDArray[np.int64]) -> IssueSet:
        """The issues at `index`."""
        return IssueSet(
            full_texts=[self.full_texts[i] for i in index],
            titles=[self.titles[i] for i in index],
            labels=self.labels[index],
            full_vectors=self.full_vectors[index],
            title_vectors=self.title_vectors[index],
        )


def default_data_dir() -> Path:
    """`<repo root>/../shared/data`."""
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def read_issues(data_dir: Path) -> tuple[list[str], list[str], list[str]]:
    """Read the NLBSE'24 training issues.

    Args:
        data_dir: Folder holding `nlbse24_issues_train.csv`.

    Returns:
        `(full_texts, titles, labels)` where a full text is the title, a blank line and the body.
    """
    csv.field_size_limit(1 << 30)
    with (data_dir / DATA_FILE).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    full = [f"{row['title']}\n\n{row['body']}".strip() for row in rows]
    return full, [row["title"] for row in rows], [row["label"] for row in rows]


def read_reviews(data_dir: Path) -> list[dict[str, str]]:
    """The labelled app reviews: `{"id", "app", "text", "category"}` per review."""
    with (data_dir / REVIEWS_FILE).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def fit_review_prior(
    vectors: FloatArray,
    categories: Sequence[str],
    encode: Encoder,
    prototypes: dict[str, FloatArray],
    config: TrainingConfig | None = None,
) -> ShortTextPrior:
    """The chat path's prior, fitted on the reviews whose category is a kind, and the examples.

    Args:
        vectors: Embeddings of the reviews (as `embedding_text` prepares them).
        categories: The reviews' categories; those not BUG or FEATURE are left out.
        encode: The same model's encoder, for the label descriptions.
        prototypes: Output of `embed_prototypes`: its bug and feature examples join in.
        config: Hyper-parameters (`review_example_weight`); the shipped defaults if omitted.
    """
    config = config or TrainingConfig()
    rows = [i for i, category in enumerate(categories) if category in REVIEW_KINDS]
    examples = [prototypes["bug"], prototypes["feature"]]
    kinds = [REVIEW_KINDS[categories[i]] for i in rows]
    kinds += ["bug"] * len(examples[0]) + ["feature"] * len(examples[1])
    weights = [1.0] * len(rows) + [config.review_example_weight] * (len(kinds) - len(rows))
    return fit_short_prior(
        np.vstack([vectors[rows], *examples]).astype(np.float32),
        kinds,
        encode(list(DESCRIPTIONS)),
        weights=weights,
    )


def embed_issues(
    full_texts: list[str], titles: list[str], labels: list[str], encode: Encoder
) -> IssueSet:
    """Embed both views of every issue.

    Args:
        full_texts: Title plus body per issue.
        titles: Title per issue.
        labels: Kind per issue.
        encode: Function returning unit-length embeddings.

    Returns:
        The embedded issue set.
    """
    return IssueSet(
        full_texts=full_texts,
        titles=titles,
        labels=np.array([KINDS.index(label) for label in labels], dtype=np.int64),
        full_vectors=encode([embedding_text(t) for t in full_texts]),
        title_vectors=encode([embedding_text(t) for t in titles]),
    )


def adapter_examples(
    full_texts: Sequence[str], titles: Sequence[str], labels: Sequence[int]
) -> tuple[list[str], list[int]]:
    """The texts the embedding adapter trains on: both views of every issue, as embedded."""
    texts = [embedding_text(t) for t in full_texts] + [embedding_text(t) for t in titles]
    return texts, [int(label) for label in labels] * 2


def embed_prototypes(encode: Encoder) -> dict[str, FloatArray]:
    """Embeddings of the hand-written examples per kind and for chatter."""
    groups = {**KIND_EXAMPLES, CHATTER: CHATTER_EXAMPLES}
    return {name: encode([embedding_text(t) for t in texts]) for name, texts in groups.items()}


def fit_classifier(
    issues: IssueSet,
    prototypes: dict[str, FloatArray],
    config: TrainingConfig | None = None,
    *,
    short_prior: ShortTextPrior | None = None,
) -> EmbeddingClassifier:
    """Fit the long head on full issues, the short head on issues, titles and examples, and TF-IDF.

    Args:
        issues: The (training part of the) embedded issues.
        prototypes: Output of `embed_prototypes`.
        config: Hyper-parameters; the shipped defaults when omitted.
        short_prior: Bug-versus-feature prior of the chat path (`fit_short_prior`), if any.

    Returns:
        The fitted classifier.
    """
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    config = config or TrainingConfig()
    example_labels = np.concatenate(
        [np.full(len(KIND_EXAMPLES[kind]), i) for i, kind in enumerate(KINDS)]
    )
    example_vectors = np.vstack([prototypes[kind] for kind in KINDS])

    def embedding_head(
        vectors: FloatArray, labels: npt.NDArray[np.int64], weight: FloatArray, c: float
    ) -> Any:
        features = head_features(
            vectors, prototypes, top_k=config.top_k, sim_scale=config.sim_scale
        )
        return LogisticRegression(C=c, max_iter=3000).fit(features, labels, sample_weight=weight)

    long_head = embedding_head(
        issues.full_vectors,
        issues.labels,
        np.ones(len(issues.labels), dtype=np.float32),
        config.long_embedding_c,
    )
    short_head = embedding_head(
        np.vstack([issues.full_vectors, issues.title_vectors, example_vectors]),
        np.concatenate([issues.labels, issues.labels, example_labels]),
        np.concatenate(
            [
                np.ones(2 * len(issues.labels), dtype=np.float32),
                np.full(len(example_labels), config.prototype_weight, dtype=np.float32),
            ]
        ),
        config.embedding_c,
    )

    counts = count_rows(issues.full_texts)
    idf = document_frequency_idf(counts)
    indptr, indices, values = tfidf_from_counts(counts, idf)
    matrix = csr_matrix((values, indices, indptr), shape=(len(issues.full_texts), BUCKETS))
    lexical_head = LogisticRegression(C=config.lexical_c, max_iter=3000)
    lexical_head.fit(matrix, issues.labels)

    return EmbeddingClassifier(
        weights=long_head.coef_.astype(np.float32),
        bias=long_head.intercept_.astype(np.float32),
        short_weights=short_head.coef_.astype(np.float32),
        short_bias=short_head.intercept_.astype(np.float32),
        prototypes=prototypes,
        prototype_texts={
            **{kind: list(KIND_EXAMPLES[kind]) for kind in KINDS},
            CHATTER: list(CHATTER_EXAMPLES),
        },
        top_k=config.top_k,
        sim_scale=config.sim_scale,
        blend=config.short_blend,
        temperature=config.temperature,
        chatter_margin=config.chatter_margin,
        lexical_idf=idf,
        lexical_weights=lexical_head.coef_.astype(np.float32),
        lexical_bias=lexical_head.intercept_.astype(np.float32),
        lexical_mix=config.lexical_mix,
        short_chars=config.short_chars,
        question_damping=config.question_damping,
        short_prior=short_prior,
    )
