"""Offline triage engine: length-routed embedding + TF-IDF classifier, severity cues, templates."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np

from agents.engines.base import KINDS, SEVERITIES, Classification, Kind, Spec
from agents.engines.classifier import EmbeddingClassifier, KindVerdict
from agents.engines.corrections import CorrectionMatch, CorrectionMemory
from agents.engines.severity import SeverityVerdict, assess_severity
from agents.engines.spec_template import draft_spec
from agents.engines.text_prep import embedding_text
from storage.embeddings import Embedder

log = logging.getLogger(__name__)

_REASONING_MAX = 2000


def _reasoning(verdict: KindVerdict, severity: SeverityVerdict, hint: Kind | None) -> str:
    ranked = sorted(verdict.probabilities.items(), key=lambda item: item[1], reverse=True)
    runner_up, runner_up_p = ranked[1]
    parts = []
    if hint is not None:
        parts.append(f"The reporter marked this as a {hint}.")
    parts.append(
        f"Nearest label is {verdict.kind} (p={verdict.confidence:.2f}), ahead of {runner_up} "
        f"(p={runner_up_p:.2f}) by a margin of {verdict.margin:.2f}; the closest reference "
        f'example is "{verdict.nearest_example}" (similarity {verdict.nearest_similarity:.2f}).'
    )
    if severity.cues:
        parts.append(f"Severity {severity.severity} from cue words: {', '.join(severity.cues)}.")
    else:
        parts.append(f"Severity {severity.severity}: no crash, data-loss or security cues found.")
    if verdict.actionable:
        cue = f' (cue: "{verdict.task_cue}")' if verdict.task_cue else ""
        parts.append(f"Actionable: it reads as a problem, request or question{cue}.")
    else:
        parts.append(
            "Not actionable: it reads as praise or chatter "
            f"(similarity to praise {verdict.chatter_similarity:.2f} vs. "
            f"{verdict.task_similarity:.2f} to any task) and has no problem or request words."
        )
    return " ".join(parts)[:_REASONING_MAX]


def apply_correction(verdict: Classification, match: CorrectionMatch) -> Classification:
    """The verdict after a close maintainer correction: its kind and severity win.

    Args:
        verdict: What the shipped classifier said.
        match: The nearest example, at or above the memory's threshold.

    Returns:
        The corrected verdict; a rejected example only adds a note to the reasoning.
    """
    who = f"item #{match.item_id}" if match.item_id is not None else "an earlier item"
    if match.rejected:
        note = f"A maintainer rejected the very similar {who} (similarity {match.similarity:.2f}). "
        return verdict.model_copy(update={"reasoning": (note + verdict.reasoning)[:_REASONING_MAX]})
    kind = match.kind if match.kind in KINDS else verdict.kind
    severity = match.severity if match.severity in SEVERITIES else verdict.severity
    note = (
        f"Like {who} corrected by a maintainer (similarity {match.similarity:.2f}): "
        f"{kind}, severity {severity}. "
    )
    return verdict.model_copy(
        update={
            "kind": kind,
            "severity": severity,
            "confidence": round(max(verdict.confidence, match.similarity), 4),
            "reasoning": (note + verdict.reasoning)[:_REASONING_MAX],
        }
    )


class OfflineEngine:
    """A `TriageEngine` that needs no network: the shipped classifier plus templates."""

    def __init__(
        self,
        embedder: Embedder,
        *,
        artifact: Path | None = None,
        corrections: CorrectionMemory | None = None,
    ) -> None:
        """Create the engine.

        Args:
            embedder: Shared sentence embedder.
            artifact: Classifier artifact; the shipped one when omitted.
            corrections: The guilds' maintainer corrections; a close enough one decides the
                kind and severity ahead of the shipped classifier.
        """
        self._embedder = embedder
        self._classifier = EmbeddingClassifier.load(artifact)
        self.corrections = corrections

    @property
    def name(self) -> str:
        """The engine name shown to maintainers."""
        return "offline"

    def _verdicts(
        self, texts: Sequence[str], vectors: np.ndarray, hints: Sequence[str | None]
    ) -> list[Classification]:
        verdicts = self._classifier.predict(vectors.astype(np.float32), list(texts))
        results = []
        for text, verdict, raw_hint in zip(texts, verdicts, hints, strict=True):
            hint: Kind | None = raw_hint if raw_hint in KINDS else None
            kind: Kind = hint or verdict.kind
            confidence = verdict.confidence
            if hint is not None:
                confidence = 0.5 + 0.5 * verdict.probabilities[hint]
            severity = assess_severity(text, kind)
            results.append(
                Classification(
                    kind=kind,
                    severity=severity.severity,
                    confidence=round(min(max(confidence, 0.0), 1.0), 4),
                    actionable=verdict.actionable,
                    reasoning=_reasoning(verdict, severity, hint),
                )
            )
        return results

    def classify_batch(
        self, texts: Sequence[str], *, kind_hints: Sequence[str | None] | None = None
    ) -> list[Classification]:
        """Classify many texts synchronously (CLI and benchmarks); blocks the calling thread.

        Args:
            texts: Feedback texts.
            kind_hints: Optional kind stated by each reporter.

        Returns:
            One classification per text, in order.
        """
        if not texts:
            return []
        hints = list(kind_hints) if kind_hints is not None else [None] * len(texts)
        vectors = self._embedder.encode([embedding_text(t) for t in texts])
        return self._verdicts(texts, vectors, hints)

    async def classify(
        self, text: str, *, kind_hint: str | None = None, guild_id: int | None = None
    ) -> Classification:
        """Classify one feedback text; the model and the scoring run off the event loop.

        Args:
            text: Normalised feedback text.
            kind_hint: Kind stated by the reporter, adopted when it is a known kind.
            guild_id: The guild the feedback came from, whose corrections apply.

        Returns:
            The classification; when a maintainer corrected a close enough item of the
            guild, its kind and severity win and the reasoning says so.
        """
        vector = await self._embedder.embed(embedding_text(text))
        loop = asyncio.get_running_loop()
        results = await loop.run_in_executor(
            None, self._verdicts, [text], np.asarray(vector)[None, :], [kind_hint]
        )
        verdict = results[0]
        if self.corrections is None:
            return verdict
        try:
            matches = await self.corrections.nearest_to_vector(guild_id, np.asarray(vector), k=1)
        except Exception:
            log.warning("could not read the correction memory", exc_info=True)
            return verdict
        if not matches or matches[0].similarity < self.corrections.threshold:
            return verdict
        return apply_correction(verdict, matches[0])

    async def draft_spec(
        self, text: str, classification: Classification, *, labels: list[str]
    ) -> Spec:
        """Draft an issue from templates, using only `labels`.

        Args:
            text: Normalised feedback text.
            classification: The verdict from `classify`.
            labels: The only labels the spec may use.

        Returns:
            The drafted spec.
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            None, partial(draft_spec, text, classification, labels=list(labels))
        )
