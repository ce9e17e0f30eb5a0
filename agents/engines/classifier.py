"""Kind, confidence and actionability from embeddings and hashed TF-IDF, numpy-only at runtime."""

from __future__ import annotations

import copy
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from agents.engines.base import KINDS, Kind
from agents.engines.lexical import linear_scores
from agents.engines.severity import has_problem_cue
from agents.engines.short_text import ShortTextPrior
from agents.engines.text_prep import embedding_text, issue_shaped

log = logging.getLogger(__name__)

ARTIFACT_PATH = Path(__file__).with_name("classifier_head.npz")
CHATTER = "chatter"

FloatArray = npt.NDArray[np.float32]

# Words that mean "there is something to do here"; any of them keeps a message actionable.
# A question mark counts after a word: a lone leading "?" is often an emoji lost in transit.
_QUESTION_MARK = r"(?:(?<=\w)|(?<=\w\s))\?"
_TASK_CUE = re.compile(
    _QUESTION_MARK
    + r"|\b(not|n't|no longer|never|without|cannot|can'?t|cant|won'?t|doesn'?t|isn'?t|didn'?t"
    r"|bug\w*|error\w*|crash\w*|broken|break\w*|fail\w*|fix\w*|issue|problem|wrong|freez\w*"
    r"|stuck|slow|lag\w*|glitch\w*|stopped|missing|lost|disappear\w*|add|adding|please|pls|plz"
    r"|wish|would|could|should|need|needs|want|option|feature|support|allow|request|suggest\w*"
    r"|how|why|where|what|when|which|but|however|except|only if)\b",
    re.IGNORECASE,
)
# A short message is only a question when it is phrased as one.
_QUESTION_FORM = re.compile(
    _QUESTION_MARK
    + r"|^\W*(how|what|why|where|when|which|who|is there|are there|is it|is this|can i|could i"
    r"|can we|can you tell|do i|do you|does|any (idea|way)|question|help)\b",
    re.IGNORECASE,
)


# "Why can't I log in?" reports a problem: a why-question about something that does not work.
_COMPLAINT_QUESTION = re.compile(
    r"\bwhy\b[^.!?\n]{0,80}?(\bnot\b|n'?t\b|\bcannot\b|\bno\b|\bnever\b|\banymore\b)"
    r"|\bwhat'?s the point\b",
    re.IGNORECASE,
)


def is_question_form(text: str) -> bool:
    """True when `text` is phrased as a question (question mark or interrogative opening).

    A why-question about something that does not work ("why can't I log in?") is a
    complaint, not a question.

    Args:
        text: The feedback text.

    Returns:
        Whether it reads as a question.
    """
    return bool(_QUESTION_FORM.search(text)) and not _COMPLAINT_QUESTION.search(text)


def similarity_features(
    vectors: FloatArray, prototypes: dict[str, FloatArray], names: tuple[str, ...], top_k: int
) -> FloatArray:
    """Mean cosine similarity of each vector to its `top_k` nearest prototypes of each name.

    Args:
        vectors: Unit-length embeddings, shape (n, d).
        prototypes: Unit-length prototype embeddings per name, each shape (m, d).
        names: Which prototype groups to score, in column order.
        top_k: How many nearest prototypes to average.

    Returns:
        Array of shape (n, len(names)).
    """
    columns = []
    for name in names:
        sims = vectors @ prototypes[name].T
        k = min(top_k, sims.shape[1])
        columns.append(np.sort(sims, axis=1)[:, -k:].mean(axis=1))
    return np.stack(columns, axis=1).astype(np.float32)


def head_features(
    vectors: FloatArray, prototypes: dict[str, FloatArray], *, top_k: int, sim_scale: float
) -> FloatArray:
    """The classifier head's input: the embedding plus scaled label-similarity features.

    Args:
        vectors: Unit-length embeddings, shape (n, d).
        prototypes: Label prototype embeddings per kind.
        top_k: Neighbours averaged per label.
        sim_scale: Multiplier that keeps the similarity columns on the weights' scale.

    Returns:
        Array of shape (n, d + len(KINDS)).
    """
    sims = similarity_features(vectors, prototypes, KINDS, top_k)
    return np.hstack([vectors, sim_scale * sims]).astype(np.float32)


def _softmax(logits: FloatArray) -> FloatArray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    probabilities: FloatArray = (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)
    return probabilities


def _geometric_mix(first: FloatArray, second: FloatArray, weight: float) -> FloatArray:
    """Weighted geometric mean of two probability arrays (unnormalised)."""
    mixed: FloatArray = np.exp(
        (1 - weight) * np.log(first + 1e-6) + weight * np.log(second + 1e-6)
    ).astype(np.float32)
    return mixed


@dataclass(frozen=True)
class KindVerdict:
    """One text's classification with the evidence behind it."""

    kind: Kind
    confidence: float
    probabilities: dict[str, float]
    margin: float
    nearest_example: str
    nearest_similarity: float
    chatter_similarity: float
    task_similarity: float
    actionable: bool
    task_cue: str | None


class EmbeddingClassifier:
    """An issue head (embedding + TF-IDF) and a chat head (embedding + prototypes).

    Which head reads a text depends on its form: issue-shaped text (title, blank line, body)
    and long messages go to the issue head, short chat messages to the chat head.
    """

    def __init__(
        self,
        *,
        weights: FloatArray,
        bias: FloatArray,
        short_weights: FloatArray,
        short_bias: FloatArray,
        prototypes: dict[str, FloatArray],
        prototype_texts: dict[str, list[str]],
        top_k: int,
        sim_scale: float,
        blend: float,
        temperature: float,
        chatter_margin: float,
        lexical_idf: FloatArray,
        lexical_weights: FloatArray,
        lexical_bias: FloatArray,
        lexical_mix: float,
        short_chars: int,
        question_damping: float,
        short_prior: ShortTextPrior | None = None,
    ) -> None:
        self.weights = weights
        self.bias = bias
        self.short_weights = short_weights
        self.short_bias = short_bias
        self.prototypes = prototypes
        self.prototype_texts = prototype_texts
        self.top_k = top_k
        self.sim_scale = sim_scale
        self.blend = blend
        self.temperature = temperature
        self.chatter_margin = chatter_margin
        self.lexical_idf = lexical_idf
        self.lexical_weights = lexical_weights
        self.lexical_bias = lexical_bias
        self.lexical_mix = lexical_mix
        self.short_chars = short_chars
        self.question_damping = question_damping
        self.short_prior = short_prior

    @classmethod
    def load(cls, path: Path | None = None) -> EmbeddingClassifier:
        """Load the shipped artifact (or another one written by `save`).

        Args:
            path: Artifact location; defaults to `classifier_head.npz` beside this module.

        Returns:
            The classifier.
        """
        with np.load(path or ARTIFACT_PATH, allow_pickle=False) as data:
            groups = (*KINDS, CHATTER)
            return cls(
                weights=data["weights"].astype(np.float32),
                bias=data["bias"].astype(np.float32),
                short_weights=data["short_weights"].astype(np.float32),
                short_bias=data["short_bias"].astype(np.float32),
                prototypes={g: data[f"proto_{g}"].astype(np.float32) for g in groups},
                prototype_texts={g: [str(t) for t in data[f"text_{g}"]] for g in groups},
                top_k=int(data["top_k"]),
                sim_scale=float(data["sim_scale"]),
                blend=float(data["blend"]),
                temperature=float(data["temperature"]),
                chatter_margin=float(data["chatter_margin"]),
                lexical_idf=data["lexical_idf"].astype(np.float32),
                lexical_weights=data["lexical_weights"].astype(np.float32),
                lexical_bias=data["lexical_bias"].astype(np.float32),
                lexical_mix=float(data["lexical_mix"]),
                short_chars=int(data["short_chars"]),
                question_damping=float(data["question_damping"]),
                short_prior=ShortTextPrior.from_arrays(data),
            )

    def save(self, path: Path) -> None:
        """Write the artifact (float16 prototypes keep it small).

        Args:
            path: Destination `.npz` file.
        """
        groups = (*KINDS, CHATTER)
        arrays: dict[str, npt.NDArray[np.generic]] = {
            "weights": self.weights.astype(np.float32),
            "bias": self.bias.astype(np.float32),
            "short_weights": self.short_weights.astype(np.float32),
            "short_bias": self.short_bias.astype(np.float32),
            "kinds": np.array(KINDS),
            "top_k": np.array(self.top_k),
            "sim_scale": np.array(self.sim_scale),
            "blend": np.array(self.blend),
            "temperature": np.array(self.temperature),
            "chatter_margin": np.array(self.chatter_margin),
            "lexical_idf": self.lexical_idf.astype(np.float16),
            "lexical_weights": self.lexical_weights.astype(np.float16),
            "lexical_bias": self.lexical_bias.astype(np.float32),
            "lexical_mix": np.array(self.lexical_mix),
            "short_chars": np.array(self.short_chars),
            "question_damping": np.array(self.question_damping),
        }
        for group in groups:
            arrays[f"proto_{group}"] = self.prototypes[group].astype(np.float16)
            arrays[f"text_{group}"] = np.array(self.prototype_texts[group])
        if self.short_prior is not None:
            arrays.update(self.short_prior.arrays())
        np.savez_compressed(path, **arrays)  # type: ignore[arg-type]

    def with_short_prior(self, prior: ShortTextPrior | None) -> EmbeddingClassifier:
        """A copy whose chat path splits bug from feature with `prior` (None: the heads alone)."""
        clone = copy.copy(self)
        clone.short_prior = prior
        return clone

    def is_chat(self, text: str) -> bool:
        """Whether the chat head reads `text` (shorter than `short_chars`, not issue-shaped)."""
        return len(embedding_text(text)) < self.short_chars and not issue_shaped(text)

    def kind_probabilities(self, vectors: FloatArray, texts: list[str]) -> FloatArray:
        """Probabilities over `KINDS` for each text, shape (n, 3).

        Issue-shaped and long texts blend the issue embedding head with the TF-IDF head.
        Chat messages use the chat embedding head (fitted on issues, titles and the
        hand-written examples) blended with similarity to the label prototypes, and lose
        most of the `question` mass unless phrased as a question: in a feedback channel a
        statement is a report or a request. With a `short_prior`, the rest of a chat
        message's mass is split between bug and feature by that prior.

        Args:
            vectors: Unit-length embeddings of `texts`, shape (n, d).
            texts: The texts.

        Returns:
            Rows that sum to one.
        """
        probs = np.zeros((len(texts), len(KINDS)), dtype=np.float32)
        if len(texts) == 0:
            return probs
        chat = np.array([self.is_chat(t) for t in texts])
        features = head_features(
            vectors, self.prototypes, top_k=self.top_k, sim_scale=self.sim_scale
        )
        issue_rows = np.flatnonzero(~chat)
        if len(issue_rows):
            embedding_head = _softmax(features[issue_rows] @ self.weights.T + self.bias)
            lexical_head = _softmax(
                linear_scores(
                    [texts[i] for i in issue_rows],
                    self.lexical_idf,
                    self.lexical_weights,
                    self.lexical_bias,
                )
            )
            probs[issue_rows] = _geometric_mix(embedding_head, lexical_head, self.lexical_mix)
        chat_rows = np.flatnonzero(chat)
        if len(chat_rows):
            chat_head = _softmax(features[chat_rows] @ self.short_weights.T + self.short_bias)
            sims = similarity_features(vectors[chat_rows], self.prototypes, KINDS, self.top_k)
            zero_shot = _softmax(sims / self.temperature)
            probs[chat_rows] = (1 - self.blend) * chat_head + self.blend * zero_shot
            question = KINDS.index("question")
            for row in chat_rows:
                if not is_question_form(texts[row]):
                    probs[row, question] *= self.question_damping
            if self.short_prior is not None:
                chat = probs[chat_rows]
                asked = chat[:, question] / chat.sum(axis=1)
                split = self.short_prior.bug_feature(vectors[chat_rows]) * (1 - asked)[:, None]
                probs[chat_rows, KINDS.index("bug")] = split[:, 0]
                probs[chat_rows, KINDS.index("feature")] = split[:, 1]
                probs[chat_rows, question] = asked
        probs /= probs.sum(axis=1, keepdims=True)
        return probs.astype(np.float32)

    def predict(self, vectors: FloatArray, texts: list[str]) -> list[KindVerdict]:
        """Classify a batch of embedded texts.

        Args:
            vectors: Unit-length embeddings of `texts`, shape (n, d).
            texts: The texts themselves (for cue words).

        Returns:
            One verdict per text, in order.
        """
        if len(texts) == 0:
            return []
        probabilities = self.kind_probabilities(vectors, texts)
        groups = (*KINDS, CHATTER)
        sims = similarity_features(vectors, self.prototypes, groups, self.top_k)
        verdicts = []
        for row, text in enumerate(texts):
            probs = probabilities[row]
            order = np.argsort(probs)[::-1]
            kind: Kind = KINDS[int(order[0])]
            nearest = self.prototypes[kind] @ vectors[row]
            best = int(np.argmax(nearest))
            chatter_sim = float(sims[row, len(KINDS)])
            task_sim = float(sims[row, : len(KINDS)].max())
            cue = self.task_cue(text)
            looks_like_chatter = chatter_sim - task_sim > self.chatter_margin
            actionable = bool(text.strip()) and (cue is not None or not looks_like_chatter)
            verdicts.append(
                KindVerdict(
                    kind=kind,
                    confidence=float(probs[order[0]]),
                    probabilities={k: float(p) for k, p in zip(KINDS, probs, strict=True)},
                    margin=float(probs[order[0]] - probs[order[1]]),
                    nearest_example=self.prototype_texts[kind][best],
                    nearest_similarity=float(nearest[best]),
                    chatter_similarity=chatter_sim,
                    task_similarity=task_sim,
                    actionable=actionable,
                    task_cue=cue,
                )
            )
        return verdicts

    @staticmethod
    def task_cue(text: str) -> str | None:
        """The first word showing a problem, request or question, if any.

        Args:
            text: The feedback text.

        Returns:
            The cue as written, or `None` for pure praise or chatter.
        """
        match = _TASK_CUE.search(text)
        if match:
            return match.group(0)
        if has_problem_cue(text):
            return "problem"
        return None
