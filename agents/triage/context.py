"""Run-time dependencies of the triage graph, passed as LangGraph `context`."""

from __future__ import annotations

from dataclasses import dataclass, field

from agents.dedup.types import DuplicateFinder
from agents.engines.base import TriageEngine
from agents.engines.corrections import CorrectionMemory
from agents.triage.filing_retry import FilingRetryPolicy
from agents.triage.ports import IssueFiler, ItemNotifier
from storage.items import ItemRepository


@dataclass(kw_only=True)
class TriageContext:
    """The I/O a node may do: all of it goes through these objects."""

    items: ItemRepository
    engine: TriageEngine
    notifier: ItemNotifier
    dedup: DuplicateFinder | None = None
    filer: IssueFiler | None = None
    default_labels: list[str] = field(default_factory=list)
    """Labels to offer when the repository's own cannot be read."""
    corrections: CorrectionMemory | None = None
    """Where maintainer edits and rejections are kept as labelled examples."""
    filing_retry: FilingRetryPolicy = field(default_factory=FilingRetryPolicy)
    """When a filing that failed for a passing reason is retried by itself."""
