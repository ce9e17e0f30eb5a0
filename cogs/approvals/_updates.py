"""Closing the loop: tell reporters when the issue tracking their feedback changes on GitHub.

After every sync run the notifier looks at the issues that were closed (as completed, not
planned or duplicate), reopened, or that carry the configured update label (GITHUB_UPDATE_LABEL,
"released" by default), finds the items filed as or linked to them, and tells each reporter once
per change. The audit trail holds one `issue_update_notified` event per item and change key, so a
re-sync or a restart never repeats a notice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agents.text import truncate
from storage.models import FeedbackItem, ItemStatus

if TYPE_CHECKING:
    from bot.sync import StateChange, SyncStats
    from cogs.approvals._notify import ReviewNotifier

log = logging.getLogger(__name__)

NOTIFIED_ACTION = "issue_update_notified"
LINKED_STATUSES = frozenset({ItemStatus.FILED, ItemStatus.DUPLICATE})


@dataclass(frozen=True, slots=True)
class IssueUpdate:
    """One change of one issue that reporters hear about."""

    number: int
    change: str
    """`completed`, `not_planned`, `duplicate`, `reopened` or `label`."""
    key: str
    """Unique per change of this issue (with the close time, or the label name)."""
    label: str | None = None
    state: str | None = None


def updates_from(stats: SyncStats, update_label: str | None) -> list[IssueUpdate]:
    """The reportable changes in one sync run.

    Args:
        stats: What the sync run saw.
        update_label: The label whose presence on an issue is news (None: labels are ignored).

    Returns:
        State changes first, then issues carrying the label, in issue order.
    """
    updates = [_state_update(change) for change in stats.state_changes]
    if update_label:
        wanted = update_label.casefold()
        for number, labels in sorted(stats.labels.items()):
            match = next((lab for lab in labels if lab.casefold() == wanted), None)
            if match is not None:
                updates.append(
                    IssueUpdate(number, "label", f"label:{wanted}", label=match, state=None)
                )
    return updates


def _state_update(change: StateChange) -> IssueUpdate:
    stamp = change.at.isoformat(timespec="seconds") if change.at is not None else "unknown"
    if change.state == "open":
        return IssueUpdate(change.number, "reopened", f"reopened@{stamp}", state="open")
    reason = (change.state_reason or "completed").lower()
    kind = reason if reason in ("completed", "not_planned", "duplicate") else "completed"
    return IssueUpdate(change.number, kind, f"closed:{kind}@{stamp}", state="closed")


def update_message(item: FeedbackItem, update: IssueUpdate) -> str:
    """What the reporter reads (plain text, the link in angle brackets so it does not embed)."""
    where = f"<{item.issue_url}>" if item.issue_url else f"issue #{update.number}"
    lead = "Update on your feedback: the issue tracking it"
    if update.change == "completed":
        return f"🎉 {lead} ({where}) was closed as completed."
    if update.change == "not_planned":
        return f"{lead} ({where}) was closed as not planned."
    if update.change == "duplicate":
        return f"{lead} ({where}) was closed as a duplicate of another issue."
    if update.change == "reopened":
        return f"{lead} ({where}) was reopened."
    label = truncate(update.label or "", 50).replace("`", "'")
    return f"🚀 {lead} ({where}) is now labelled `{label}`."


class IssueUpdateNotifier:
    """Listens to finished sync runs and tells the reporters of affected items, once each."""

    def __init__(self, review: ReviewNotifier) -> None:
        self.review = review

    async def synced(self, stats: SyncStats) -> None:
        """Tell reporters about the changes of one sync run (a `SyncListeners` listener)."""
        services = self.review.services
        updates = updates_from(stats, services.settings.github.update_label)
        if not updates:
            return
        numbers = {update.number for update in updates}
        linked = await services.items.find_by_issues(repo=stats.repo, numbers=numbers)
        by_issue: dict[int, list[FeedbackItem]] = {}
        for item in linked:
            if item.status in LINKED_STATUSES and item.issue_number is not None:
                by_issue.setdefault(item.issue_number, []).append(item)
        sent = 0
        for update in updates:
            for item in by_issue.get(update.number, []):
                if item.id is None or not self.review.services.runner.owns_guild(item.guild_id):
                    continue
                if update.state is not None and item.issue_state != update.state:
                    await self._record_state(item.id, update.state)
                sent += await self.tell(item.id, stats.repo, update)
        if sent:
            log.info("told %d reporter(s) about issue changes in %s", sent, stats.repo)

    async def _record_state(self, item_id: int, state: str) -> None:
        await self.review.services.items.update_fields(item_id=item_id, issue_state=state)
        try:
            await self.review.refresh(item_id)
        except Exception:
            log.info("could not refresh the review message of item %s", item_id)

    async def tell(self, item_id: int, repo: str, update: IssueUpdate) -> bool:
        """Send one update to the item's reporter unless already sent; True when sent now."""
        services = self.review.services
        item = await services.items.get(item_id)
        if item is None:
            return False
        settings = await services.guild_settings.resolve(item.guild_id)
        if not settings.notify_reporter:
            return False
        key = f"{repo}#{update.number}:{update.key}"
        async with self.review.lock(item_id):
            events = await services.items.events(item_id)
            done = {(e.details or {}).get("key") for e in events if e.action == NOTIFIED_ACTION}
            if key in done:
                return False
            where = await self.review.send_to_reporter(item, update_message(item, update))
            if where is None:
                return False
            await services.items.record_event(
                item_id=item_id,
                actor="bot",
                action=NOTIFIED_ACTION,
                details={"key": key, "change": update.change, "via": where},
            )
        return True
