"""Filing an approved item on GitHub exactly once, whatever became of earlier attempts."""

from __future__ import annotations

import logging
from datetime import datetime

from agents.triage.context import TriageContext
from agents.triage.ports import IssueRef
from storage.models import AuditEvent, FeedbackItem, ItemStatus

log = logging.getLogger(__name__)

#: Audit action written (and committed) before every create request: after a restart, a
#: Retry or a failure, its presence says GitHub may already hold the issue.
CREATE_ATTEMPT = "github_create_attempt"


def _first_filing(events: list[AuditEvent], item: FeedbackItem) -> datetime:
    """When the item first went to `filing` (its creation time if the trail does not say)."""
    for event in events:
        if event.to_status == ItemStatus.FILING:
            return event.at
    return item.created_at


async def file_once(
    ctx: TriageContext,
    *,
    item: FeedbackItem,
    repo: str,
    title: str,
    body: str,
    labels: list[str],
    resumed: bool,
) -> IssueRef:
    """The item's issue: found on GitHub if an earlier attempt may have filed it, else created.

    Only a clean first attempt creates without looking. Any earlier create attempt on
    record (a Retry after a timeout or a 5xx, a restart), or a run that finds the item
    already `filing` (`resumed`: the process died mid-way), looks for the bot's own issue
    carrying the item's marker first; when that look-up fails, nothing is created.

    Raises:
        Exception: Whatever the filer raises; the caller records the item as failed.
    """
    assert ctx.filer is not None and item.id is not None
    events = await ctx.items.events(item.id)
    attempts = [event for event in events if event.action == CREATE_ATTEMPT]
    if attempts or resumed:
        since = attempts[0].at if attempts else _first_filing(events, item)
        found = await ctx.filer.find_filed_issue(repo=repo, item_id=item.id, since=since)
        if found is not None:
            log.info("item %s was already filed as %s#%d", item.id, repo, found.number)
            return found
    await ctx.items.record_event(
        item_id=item.id,
        actor="graph",
        action=CREATE_ATTEMPT,
        details={"repo": repo, "attempt": len(attempts) + 1},
    )
    return await ctx.filer.create_issue(
        repo=repo, title=title, body=body, labels=labels, item_id=item.id
    )
