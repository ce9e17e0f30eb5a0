"""How many distinct Discord users reported what one GitHub issue tracks."""

from __future__ import annotations

from dataclasses import dataclass

from cogs.approvals._embeds import best_candidate_number
from storage.items import ItemRepository
from storage.models import FeedbackItem, ItemStatus

LINKED_STATUSES = frozenset({ItemStatus.FILED, ItemStatus.DUPLICATE})
OPEN_STATUSES = (ItemStatus.AWAITING_REVIEW, ItemStatus.FAILED)


@dataclass(frozen=True, slots=True)
class ReporterCount:
    """Distinct reporters of one issue (this item's reporter included)."""

    issue_number: int
    reporters: int


def _author_key(item: FeedbackItem) -> str:
    return f"user:{item.author_id}" if item.author_id is not None else f"item:{item.id}"


def issue_of(item: FeedbackItem) -> int | None:
    """The issue the item is linked to, or the best duplicate candidate while it waits."""
    if item.status in LINKED_STATUSES:
        return item.issue_number
    verdict = (item.duplicates or {}).get("verdict")
    if verdict in ("duplicate", "possible_duplicate"):
        return best_candidate_number(item)
    return None


async def count_reporters(items: ItemRepository, item: FeedbackItem) -> ReporterCount | None:
    """Distinct reporters of the issue the item points at (None when it points at none).

    Counts the authors of items filed as or linked to the issue, of open items whose
    duplicate verdict's best match is the issue, and the item's own author.

    Args:
        items: The item repository.
        item: The item whose review message is rendered.
    """
    number = issue_of(item)
    if number is None or not item.repo:
        return None
    authors = {_author_key(item)}
    for other in await items.find_by_issue(repo=item.repo, issue_number=number):
        if other.status in LINKED_STATUSES:
            authors.add(_author_key(other))
    for other in await items.list_by_status(OPEN_STATUSES):
        verdict = (other.duplicates or {}).get("verdict")
        if (
            other.repo == item.repo
            and verdict == "duplicate"
            and best_candidate_number(other) == number
        ):
            authors.add(_author_key(other))
    return ReporterCount(issue_number=number, reporters=len(authors))
