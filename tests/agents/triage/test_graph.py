"""The triage graph end to end: offline engine, real chromadb, fake GitHub, both databases.

Durability is checked the hard way: the graph, runner and checkpointer are thrown away and
rebuilt on the same files (or PostgreSQL database) between the pause and the decision.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import update

from agents.triage.ports import ItemEvent
from agents.triage.render import item_marker
from agents.triage.state import Decision
from bot.sandbox.fake_github import FakeGitHub
from storage.embeddings import Embedder
from storage.models import FeedbackItem, ItemStatus
from storage.outbox import (
    DUPLICATE_COMMENT,
    REPORTER_NOTICE,
    REVIEW_UPDATE,
    OutboxRepository,
)
from tests.agents.triage._harness import (
    REPO,
    FlakyNotifier,
    Harness,
    harness,
    new_item,
    poll,
)


async def test_item_pauses_for_review_and_files_once_after_restart(
    db_url: str, tmp_path: Path, embedder: Embedder, github: FakeGitHub
) -> None:
    async with harness(db_url, tmp_path, embedder, github) as h:
        item_id = await new_item(h)
        await h.runner.run(item_id)
        item = await h.items.get(item_id)
        assert item is not None and item.status == ItemStatus.AWAITING_REVIEW
        assert item.kind == "bug" and item.spec and len(item.spec["title"]) <= 80
        assert set(item.spec["labels"]) <= {"bug", "enhancement", "question"}
        assert (item_id, "awaiting_review") in h.notifier.events
        nodes = [e.action for e in await h.items.events(item_id) if e.action.startswith("node:")]
        assert nodes == [
            "node:normalise",
            "node:classify",
            "node:find_duplicates",
            "node:draft_spec",
            "node:publish_review",
        ]

    async with harness(db_url, tmp_path, embedder, github) as h:
        result = await h.runner.decide(
            item_id, Decision(action="approve", actor="maintainer"), wait=True
        )
        assert result.accepted
        again = await h.runner.decide(item_id, Decision(action="approve", actor="other"), wait=True)
        assert not again.accepted and "filed" in again.message
        item = await h.items.get(item_id)
        assert item is not None and item.status == ItemStatus.FILED and item.flow_done
        issues = github.issues_in(REPO)
        assert len(issues) == 1
        assert item_marker(item_id) in issues[0].body
        assert item.issue_number == issues[0].number
        assert (item_id, "filed") in h.notifier.events


async def test_kill_before_the_first_checkpoint_triages_the_item_from_the_start(
    db_url: str, tmp_path: Path, embedder: Embedder, github: FakeGitHub
) -> None:
    async with harness(db_url, tmp_path, embedder, github) as h:
        item_id = await new_item(h)
        # What a process leaves when it dies after `normalise` moved the item and before the
        # run's first checkpoint reached the database: the item in triage, no checkpoint.
        moved = await h.items.transition(
            item_id=item_id, to=ItemStatus.TRIAGING, actor="graph", expected=[ItemStatus.RECEIVED]
        )
        assert moved is not None

    async with harness(db_url, tmp_path, embedder, github) as h:
        assert await h.runner.resume_pending() == 1
        await h.runner.drain(grace_seconds=30)
        item = await h.items.get(item_id)
        assert item is not None and item.status == ItemStatus.AWAITING_REVIEW
        assert (item_id, "awaiting_review") in h.notifier.events


async def test_crash_while_filing_finds_the_issue_instead_of_creating_another(
    db_url: str, tmp_path: Path, embedder: Embedder, github: FakeGitHub
) -> None:
    async with harness(db_url, tmp_path, embedder, github) as h:
        item_id = await new_item(h)
        await h.runner.run(item_id)
        github.delay_next(f"POST /repos/{REPO}/issues", seconds=3)
        decided = asyncio.create_task(
            h.runner.decide(item_id, Decision(action="approve", actor="m"), wait=True)
        )
        for _ in range(200):
            await asyncio.sleep(0.02)
            if github.requests_to("POST", f"/repos/{REPO}/issues"):
                break
        decided.cancel()  # the process dies while GitHub is still answering
        await asyncio.gather(decided, return_exceptions=True)
        await asyncio.sleep(3.2)  # GitHub finished creating the issue anyway
        item = await h.items.get(item_id)
        assert item is not None and item.status == ItemStatus.FILING

    async with harness(db_url, tmp_path, embedder, github) as h:
        assert await h.runner.resume_pending() == 1
        await h.runner.drain(grace_seconds=30)
        item = await h.items.get(item_id)
        assert item is not None and item.status == ItemStatus.FILED
        assert len(github.issues_in(REPO)) == 1


async def test_praise_is_stored_as_not_actionable(
    db_url: str, tmp_path: Path, embedder: Embedder, github: FakeGitHub
) -> None:
    async with harness(db_url, tmp_path, embedder, github) as h:
        item_id = await new_item(h, text="love this app, thank you so much!")
        await h.runner.run(item_id)
        item = await h.items.get(item_id)
        assert item is not None and item.status == ItemStatus.NOT_ACTIONABLE
        assert item.actionable is False and item.flow_done and item.reasoning
        assert h.notifier.events == [(item_id, "not_actionable")]


async def test_edit_then_approve_files_the_edited_spec(
    db_url: str, tmp_path: Path, embedder: Embedder, github: FakeGitHub
) -> None:
    async with harness(db_url, tmp_path, embedder, github) as h:
        item_id = await new_item(h)
        await h.runner.run(item_id)
        edit = Decision(
            action="edit", actor="m", title="Settings crash on Android 14", labels=["bug"]
        )
        assert (await h.runner.decide(item_id, edit, wait=True)).accepted
        item = await h.items.get(item_id)
        assert item is not None and item.status == ItemStatus.AWAITING_REVIEW
        assert item.spec and item.spec["title"] == "Settings crash on Android 14"
        await h.runner.decide(item_id, Decision(action="approve", actor="m"), wait=True)
        issues = github.issues_in(REPO)
        assert [i.title for i in issues] == ["Settings crash on Android 14"]


async def test_reject_and_duplicate_finish_the_item(
    db_url: str, tmp_path: Path, embedder: Embedder, github: FakeGitHub
) -> None:
    existing = github.add_issue(REPO, title="Crash in settings", body="It crashes.")
    async with harness(db_url, tmp_path, embedder, github) as h:
        first = await new_item(h, key="message:1")
        second = await new_item(h, text="pls add dark mode", key="message:2")
        await asyncio.gather(h.runner.run(first), h.runner.run(second))
        dup = Decision(action="duplicate", actor="m", issue_number=existing.number)
        assert (await h.runner.decide(first, dup, wait=True)).accepted
        reject = Decision(action="reject", actor="m", reason="out of scope")
        assert (await h.runner.decide(second, reject, wait=True)).accepted
        one, two = await h.items.get(first), await h.items.get(second)
        assert (
            one is not None
            and one.status == ItemStatus.DUPLICATE
            and one.issue_number == existing.number
        )
        assert two is not None and two.status == ItemStatus.REJECTED and two.flow_done
        # The comment is owed in the outbox, written with flow_done; the bot delivers it.
        owed = await OutboxRepository(h.items.db).pending(item_id=first)
        assert [row.kind for row in owed] == [DUPLICATE_COMMENT, REVIEW_UPDATE, REPORTER_NOTICE]
        assert owed[0].payload["issue"] == existing.number
        assert f"<!-- iterateswarm:item:{first} -->" in owed[0].payload["body"]
        assert [row.kind for row in await OutboxRepository(h.items.db).pending(item_id=second)] == [
            REVIEW_UPDATE,
            REPORTER_NOTICE,
        ]
        assert len(github.issues_in(REPO)) == 1
        missing = Decision(action="duplicate", actor="m", issue_number=9999)
        third = await new_item(h, text="the app freezes on the login screen", key="message:3")
        await h.runner.run(third)
        refused = await h.runner.decide(third, missing, wait=True)
        assert not refused.accepted and "does not exist" in refused.message


async def test_concurrent_approvals_file_one_issue(
    db_url: str, tmp_path: Path, embedder: Embedder, github: FakeGitHub
) -> None:
    async with harness(db_url, tmp_path, embedder, github) as h:
        item_id = await new_item(h)
        await h.runner.run(item_id)
        results = await asyncio.gather(
            *(
                h.runner.decide(item_id, Decision(action="approve", actor=f"m{i}"), wait=True)
                for i in range(8)
            )
        )
        assert sum(r.accepted for r in results) == 1
        assert len(github.issues_in(REPO)) == 1


async def test_github_outage_leaves_item_failed_then_retry_files(
    db_url: str, tmp_path: Path, embedder: Embedder, github: FakeGitHub
) -> None:
    async with harness(db_url, tmp_path, embedder, github) as h:
        item_id = await new_item(h)
        await h.runner.run(item_id)
        route = f"POST /repos/{REPO}/issues"
        github.fail_next(route, status=502, times=2)  # as many as the client's attempts
        await h.runner.decide(item_id, Decision(action="approve", actor="m"), wait=True)
        item = await h.items.get(item_id)
        assert item is not None and item.status == ItemStatus.FAILED
        assert (item_id, "failed") in h.notifier.events
        assert github.pending_faults(route) == 0 and not github.issues_in(REPO)
        assert (
            await h.runner.decide(item_id, Decision(action="retry", actor="m"), wait=True)
        ).accepted
        item = await h.items.get(item_id)
        assert item is not None and item.status == ItemStatus.FILED
        assert len(github.issues_in(REPO)) == 1


async def test_failed_run_is_retried_soon_and_then_left_to_reconcile(
    db_url: str, tmp_path: Path, embedder: Embedder, github: FakeGitHub
) -> None:
    notifier = FlakyNotifier(failures=2)
    async with harness(db_url, tmp_path, embedder, github, notifier) as h:
        item_id = await new_item(h)
        h.runner.submit(item_id)
        await poll(lambda: _has_event(h, item_id, "awaiting_review"))
        await poll(lambda: _idle(h))  # the node records its outcome after notifying
        runs = [e for e in await h.items.events(item_id) if e.action == "node:publish_review"]
        assert [(e.details or {}).get("outcome") for e in runs] == ["error", "error", "ok"]

        other = await new_item(h, key="message:2")
        notifier.failures = 3  # one more than the runner's quick retries
        h.runner.submit(other)
        await poll(lambda: _failed_runs(h, other, 3))
        await poll(lambda: _idle(h))
        assert (other, "awaiting_review") not in notifier.events
        assert await h.runner.reconcile(older_than=0) == 1
        await poll(lambda: _has_event(h, other, "awaiting_review"))


async def _has_event(h: Harness, item_id: int, event: ItemEvent) -> bool:
    return (item_id, event) in h.notifier.events


async def _idle(h: Harness) -> bool:
    return h.runner.in_flight == 0 and h.runner.held == 0


async def _failed_runs(h: Harness, item_id: int, count: int) -> bool:
    events = await h.items.events(item_id)
    failed = [e for e in events if (e.details or {}).get("outcome") == "error"]
    return len(failed) >= count


async def test_thin_bug_report_waits_for_details_across_a_restart(
    db_url: str, tmp_path: Path, embedder: Embedder, github: FakeGitHub
) -> None:
    thin = "the app crashes all the time"
    async with harness(db_url, tmp_path, embedder, github) as h:
        item_id = await new_item(h, text=thin, message_id=555)
        await h.runner.run(item_id)
        item = await h.items.get(item_id)
        assert item is not None and item.status == ItemStatus.AWAITING_DETAILS
        assert h.notifier.events == [(item_id, "details_requested")]
        asked = [e for e in await h.items.events(item_id) if e.to_status == "awaiting_details"]
        assert 1 <= len(asked[0].details["questions"]) <= 3  # type: ignore[index]

    async with harness(db_url, tmp_path, embedder, github) as h:
        answer = Decision(
            action="details", actor="ana", body="1. open settings 2. tap export. On v2.1, Android"
        )
        assert (await h.runner.decide(item_id, answer, wait=True)).accepted
        item = await h.items.get(item_id)
        assert item is not None and item.status == ItemStatus.AWAITING_REVIEW
        assert h.notifier.events == [(item_id, "awaiting_review")]
        approve = Decision(action="approve", actor="m")
        assert (await h.runner.decide(item_id, approve, wait=True)).accepted
        (issue,) = github.issues_in(REPO)
        assert "> the app crashes all the time" in (issue.body or "")
        assert "1. open settings 2. tap export. On v2.1, Android" in (issue.body or "")


async def test_unanswered_details_go_to_review_marked_incomplete(
    db_url: str, tmp_path: Path, embedder: Embedder, github: FakeGitHub
) -> None:
    async with harness(db_url, tmp_path, embedder, github) as h:
        item_id = await new_item(h, text="login is broken", message_id=556)
        await h.runner.run(item_id)
        timeout = Decision(action="details", actor="scheduler", reason="no answer in time")
        assert (await h.runner.decide(item_id, timeout, wait=True)).accepted
        item = await h.items.get(item_id)
        assert item is not None and item.status == ItemStatus.AWAITING_REVIEW
        assert item.needs_review and "incomplete" in (item.reasoning or "")
        late = Decision(action="details", actor="ana", body="too late")
        assert not (await h.runner.decide(item_id, late, wait=True)).accepted


async def test_an_item_left_approved_without_its_decision_is_filed_by_reconcile(
    db_url: str, tmp_path: Path, embedder: Embedder, github: FakeGitHub
) -> None:
    async with harness(db_url, tmp_path, embedder, github) as h:
        item_id = await new_item(h)
        await h.runner.run(item_id)
        # What an earlier version left behind: approved, the graph paused for a decision,
        # the Approve erased from the item and never logged.
        moved = await h.items.transition(
            item_id=item_id,
            to=ItemStatus.APPROVED,
            actor="m",
            expected=[ItemStatus.AWAITING_REVIEW],
        )
        assert moved is not None
        await h.items.update_fields(item_id=item_id, decision=None)

        assert await h.runner.reconcile(older_than=0) == 1
        await h.runner.run(item_id)  # waits for the run reconcile started, if still going
        item = await h.items.get(item_id)
        assert item is not None and item.status == ItemStatus.FILED
        assert len(github.issues_in(REPO)) == 1
        assert await h.runner.reconcile(older_than=0) == 0


async def test_a_retriaged_item_whose_checkpoints_were_pruned_asks_again(
    db_url: str, tmp_path: Path, embedder: Embedder, github: FakeGitHub
) -> None:
    async with harness(db_url, tmp_path, embedder, github) as h:
        item_id = await new_item(h, text="the app crashes all the time", message_id=557)
        await h.runner.run(item_id)
        answer = Decision(action="details", actor="ana", body="1. open settings 2. tap export")
        assert (await h.runner.decide(item_id, answer, wait=True)).accepted
        item = await h.items.get(item_id)
        assert item is not None and item.status == ItemStatus.AWAITING_REVIEW

        # Retention pruned the finished thread; a maintainer then sends the item to triage again.
        saver = h.runner.graph.checkpointer
        assert saver is not None
        await saver.adelete_thread(str(item_id))
        table = FeedbackItem.__table__  # type: ignore[attr-defined]
        reset = update(table).where(table.c.id == item_id).values(status=ItemStatus.RECEIVED)
        await h.items.db.write(lambda conn: conn.execute(reset))
        await h.runner.run(item_id)
        await h.runner.run(item_id)  # a later run (reconcile) takes no answer given before

        item = await h.items.get(item_id)
        assert item is not None and item.status == ItemStatus.AWAITING_DETAILS, item.status
        config = {"configurable": {"thread_id": str(item_id)}}
        snapshot = await h.runner.graph.aget_state(config)  # type: ignore[arg-type]
        assert snapshot.next == ("await_details",), snapshot.next
        assert "1. open settings" not in snapshot.values["text"]
