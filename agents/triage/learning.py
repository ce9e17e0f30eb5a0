"""Keep maintainer corrections (edits and rejections) as labelled examples for the engines."""

from __future__ import annotations

import logging
from typing import Any

from agents.engines.base import KINDS, SEVERITIES
from agents.triage.context import TriageContext
from agents.triage.state import Decision, Policy, TriageState

log = logging.getLogger(__name__)


def implied_kind(labels: list[str] | None, label_map: dict[str, str]) -> str | None:
    """The one kind the labels stand for through the label mapping (None: none or several).

    Args:
        labels: Labels the maintainer chose.
        label_map: Kind -> GitHub label.
    """
    if not labels:
        return None
    by_label = {label.casefold(): kind for kind, label in label_map.items() if kind in KINDS}
    kinds = {by_label[label.casefold()] for label in labels if label.casefold() in by_label}
    return kinds.pop() if len(kinds) == 1 else None


def corrected_verdict(state: TriageState, decision: Decision, policy: Policy) -> dict[str, Any]:
    """Kind and severity after an edit: as chosen, else implied by the new labels, else as is."""
    kind = decision.kind or implied_kind(decision.labels, policy.label_map) or state.kind
    severity = decision.severity or state.severity
    return {
        "kind": kind if kind in KINDS else state.kind,
        "severity": severity if severity in SEVERITIES else state.severity,
    }


async def remember(
    ctx: TriageContext,
    state: TriageState,
    policy: Policy,
    *,
    kind: str | None,
    severity: str | None,
    spec: dict[str, Any] | None,
    rejected: bool,
) -> None:
    """Store the correction as an example; a storage failure is logged, never raised."""
    if ctx.corrections is None:
        return
    spec = spec or {}
    try:
        await ctx.corrections.record(
            guild_id=policy.guild_id,
            item_id=state.item_id,
            text=state.normalized or state.text,
            kind=kind,
            severity=severity,
            title=str(spec.get("title") or "") or None,
            labels=[str(label) for label in spec.get("labels") or []],
            rejected=rejected,
        )
    except Exception:
        log.warning("could not keep the correction of item %s", state.item_id, exc_info=True)
