"""Graph nodes: each takes the state, does one job through `runtime.context`, returns changes."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from agents.attachments import attachments_of
from agents.dedup.types import DuplicateResult, Thresholds
from agents.engines.base import Classification, Spec
from agents.text import normalize
from agents.triage.context import TriageContext
from agents.triage.details import questions_for
from agents.triage.filing import file_once
from agents.triage.learning import corrected_verdict, remember
from agents.triage.ports import ItemEvent
from agents.triage.render import duplicate_comment, issue_body
from agents.triage.report import with_replies
from agents.triage.state import Decision, Policy, TriageState
from bot.log import item_context
from storage.item_moves import DraftChange
from storage.models import FeedbackItem, ItemStatus
from storage.outbox import DUPLICATE_COMMENT, Owed, owed_on

log = logging.getLogger(__name__)

Node = Callable[[TriageState, Runtime[TriageContext]], Awaitable[dict[str, Any]]]


def audited(func: Node) -> Node:
    """Record an audit event for every run of the node: engine, duration, outcome."""

    @functools.wraps(func)
    async def wrapper(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
        started = time.perf_counter()
        with item_context(state.item_id):
            try:
                update = await func(state, runtime)
            except Exception as exc:
                await runtime.context.items.record_event(
                    item_id=state.item_id,
                    actor="graph",
                    action=f"node:{func.__name__}",
                    details={"outcome": "error", "error": f"{type(exc).__name__}: {exc}"[:500]},
                )
                raise
            details = {
                "outcome": "ok",
                "ms": round((time.perf_counter() - started) * 1000, 1),
                "engine": update.get("engine") or state.engine,
            }
            await runtime.context.items.record_event(
                item_id=state.item_id,
                actor="graph",
                action=f"node:{func.__name__}",
                details=details,
            )
            return update

    return wrapper


def _policy(state: TriageState) -> Policy:
    return Policy.model_validate(state.policy)


@audited
async def normalise(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
    """Mark the item as in triage and reduce its text to plain words."""
    await runtime.context.items.transition(
        item_id=state.item_id, to=ItemStatus.TRIAGING, actor="graph", expected=[ItemStatus.RECEIVED]
    )
    return {"normalized": normalize(state.text)}


@audited
async def classify(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
    """Kind, severity, confidence, actionable and reasoning from the engine."""
    engine = runtime.context.engine
    text = state.normalized
    if state.attachment_text:
        text = f"{text}\n\n{normalize(state.attachment_text)}"
    verdict: Classification = await engine.classify(
        text, kind_hint=state.kind_hint, guild_id=_policy(state).guild_id
    )
    actionable = verdict.actionable or state.force_actionable
    reasoning = verdict.reasoning
    if state.force_actionable and not verdict.actionable:
        reasoning += " A maintainer sent this message to triage, so it is treated as actionable."
    policy = _policy(state)
    needs_review = verdict.confidence < policy.review_confidence
    questions: list[str] = []
    if state.details_incomplete:
        reasoning += (
            " The reporter did not answer the questions about missing details in time,"
            " so this report is incomplete."
        )
        needs_review = True
    elif (
        verdict.kind == "bug"
        and actionable
        and state.can_ask_details
        and policy.ask_for_details
        and not state.details_asked
    ):
        questions = questions_for(state.normalized)
    return {
        "kind": verdict.kind,
        "severity": verdict.severity,
        "confidence": verdict.confidence,
        "actionable": actionable,
        "reasoning": reasoning,
        "engine": engine.name,
        "needs_review": needs_review,
        "details_questions": questions,
    }


@audited
async def ask_details(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
    """Ask the reporter, in a thread on their message, for what the bug report lacks."""
    ctx = runtime.context
    await leave_triage(
        ctx, state, ItemStatus.AWAITING_DETAILS, details={"questions": state.details_questions}
    )
    await ctx.notifier.item_changed(state.item_id, "details_requested")
    return {"details_asked": True}


async def await_details(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
    """Pause until the reporter answers (or the wait times out); fold the answer in."""
    payload = interrupt({"item_id": state.item_id, "waiting_for": "details"})
    answer = Decision.model_validate(payload)
    taken = _taken(state, payload)
    if not answer.body or not answer.body.strip():
        return {"details_incomplete": True, **taken}
    text = f"{state.text}\n\n{answer.body.strip()}"
    return {"text": text, "details_incomplete": False, **taken}


def _taken(state: TriageState, payload: Any) -> dict[str, Any]:
    """The decision log position the resume payload carries (none for older payloads)."""
    seq = payload.get("seq") if isinstance(payload, dict) else None
    return {"decision_seq": max(int(seq), state.decision_seq)} if seq else {}


@audited
async def dismiss(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
    """Store a not-actionable verdict (praise, chatter) and acknowledge it lightly."""
    ctx = runtime.context
    await leave_triage(
        ctx, state, ItemStatus.NOT_ACTIONABLE, flow_done=True, owes=owed_on("not_actionable")
    )
    await ctx.notifier.item_changed(state.item_id, "not_actionable")
    return {"outcome": ItemStatus.NOT_ACTIONABLE.value}


@audited
async def find_duplicates(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
    """Search the index for the same problem, then index this item for later feedback."""
    ctx = runtime.context
    policy = _policy(state)
    if ctx.dedup is None or not policy.repo:
        return {"duplicates": DuplicateResult(verdict="new").model_dump()}
    result = await ctx.dedup.find(
        state.normalized,
        repo=policy.repo,
        exclude_id=f"feedback:{state.item_id}",
        thresholds=Thresholds(
            duplicate=policy.duplicate_threshold, possible=policy.possible_duplicate_threshold
        ),
    )
    await ctx.dedup.add_feedback(item_id=state.item_id, text=state.normalized, repo=policy.repo)
    return {"duplicates": result.model_dump()}


async def _labels(ctx: TriageContext, policy: Policy) -> list[str]:
    if ctx.filer is not None and policy.repo:
        try:
            labels = await ctx.filer.list_labels(repo=policy.repo)
        except Exception:
            log.warning("could not read labels of %s; using the configured mapping", policy.repo)
        else:
            return sorted(set(labels) | set(policy.label_map.values()))
    return sorted(set(ctx.default_labels) | set(policy.label_map.values()))


@audited
async def draft_spec(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
    """Draft the issue and put the item up for review."""
    ctx = runtime.context
    verdict = Classification(
        kind=state.kind,  # type: ignore[arg-type]
        severity=state.severity,  # type: ignore[arg-type]
        confidence=state.confidence or 0.0,
        actionable=True,
        reasoning=state.reasoning or "",
    )
    allowed = await _labels(ctx, _policy(state))
    spec: Spec = await ctx.engine.draft_spec(state.normalized, verdict, labels=allowed)
    spec_dict = spec.model_dump()
    spec_dict["labels"] = [label for label in spec.labels if label in allowed]
    spec_dict["labels"] += [label for label in state.labels if label not in spec_dict["labels"]]
    if state.title and state.title.strip():
        spec_dict["title"] = state.title.strip()[:256]
    # What the issue will quote verbatim, details and replies the reporter's post got included.
    item = await ctx.items.get(state.item_id)
    context = item.context if item is not None else None
    spec_dict["report"] = with_replies(state.text, context) if context else state.text
    await leave_triage(
        ctx,
        state,
        ItemStatus.AWAITING_REVIEW,
        spec=spec_dict,
        draft=DraftChange(),
        duplicates=state.duplicates,
        repo=_policy(state).repo,
    )
    return {"spec": spec_dict}


def _report(state: TriageState) -> str:
    """The reporter's words as the review showed them (replies that came in during triage too)."""
    return str((state.spec or {}).get("report") or state.text)


async def leave_triage(
    ctx: TriageContext, state: TriageState, to: ItemStatus, **changes: Any
) -> None:
    """Move the item from `triaging` to `to`, storing the verdict along with `changes`.

    Args:
        ctx: The graph's context.
        state: The item's state, whose verdict is stored.
        to: The status the item moves to.
        changes: Further arguments of the transition (details, fields, owed messages).
    """
    await ctx.items.transition(
        item_id=state.item_id,
        to=to,
        actor="graph",
        expected=[ItemStatus.TRIAGING],
        **_verdict_fields(state),
        **changes,
    )


def _verdict_fields(state: TriageState) -> dict[str, Any]:
    return {
        "kind": state.kind,
        "severity": state.severity,
        "confidence": state.confidence,
        "actionable": state.actionable,
        "reasoning": state.reasoning,
        "engine": state.engine,
        "needs_review": state.needs_review,
    }


@audited
async def publish_review(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
    """Post (or refresh) the review message for maintainers."""
    await runtime.context.notifier.item_changed(state.item_id, "awaiting_review")
    return {}


async def await_decision(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
    """Pause until a maintainer decides; the decision resumes the thread."""
    payload = interrupt({"item_id": state.item_id, "waiting_for": "decision"})
    return {"decision": Decision.model_validate(payload).model_dump(), **_taken(state, payload)}


@audited
async def apply_edit(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
    """Fold a maintainer's edit into the spec; the item goes back to waiting."""
    decision = Decision.model_validate(state.decision)
    spec = dict(state.spec or {})
    if decision.title:
        spec["title"] = decision.title.strip()[:256]
    if decision.body is not None:
        spec["description"] = decision.body.strip()
        spec["steps_to_reproduce"], spec["acceptance_criteria"] = [], []
        spec["expected_behavior"] = spec["actual_behavior"] = None
    if decision.labels is not None:
        spec["labels"] = [label.strip() for label in decision.labels if label.strip()][:10]
    policy = _policy(state)
    verdict = corrected_verdict(state, decision, policy)
    # The item's `decision` is left alone: a decision taken meanwhile (an Approve) is kept.
    await runtime.context.items.update_fields(
        item_id=state.item_id, spec=spec, draft=DraftChange(), **verdict
    )
    await remember(runtime.context, state, policy, spec=spec, rejected=False, **verdict)
    return {"spec": spec, **verdict}


@audited
async def file_issue(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
    """Create the GitHub issue exactly once; on failure the item waits for a retry."""
    ctx = runtime.context
    item = await ctx.items.get(state.item_id)
    if item is None:
        return {"outcome": "failed", "error": "item vanished"}
    if item.status == ItemStatus.FILED:
        return {"outcome": ItemStatus.FILED.value}
    repo = item.repo or _policy(state).repo
    if ctx.filer is None or not repo:
        return await _filing_failed(ctx, state, "no GitHub repository is configured")
    previous_attempt_unknown = item.status == ItemStatus.FILING
    if not previous_attempt_unknown:
        moved = await ctx.items.transition(
            item_id=state.item_id,
            to=ItemStatus.FILING,
            actor="graph",
            expected=[ItemStatus.APPROVED],
        )
        if moved is None:
            return {"error": f"not filed: item is {item.status}"}
    spec = state.spec or {}
    try:
        issue = await file_once(
            ctx,
            item=item,
            repo=repo,
            title=spec.get("title") or "Feedback from Discord",
            body=issue_body(
                spec=spec,
                report=_report(state),
                reporter=item.author_name,
                jump_url=item.jump_url,
                more=item.reporter_more,
                attachments=attachments_of(item.attachments),
            ),
            labels=list(spec.get("labels") or []),
            resumed=previous_attempt_unknown,
        )
    except Exception as exc:
        log.warning("filing item %s failed: %s", state.item_id, exc)
        retry_at = ctx.filing_retry.next_try(exc, retries_done=item.filing_auto_retries)
        return await _filing_failed(
            ctx, state, f"{type(exc).__name__}: {exc}", retry_at=retry_at, item=item
        )
    await ctx.items.transition(
        item_id=state.item_id,
        to=ItemStatus.FILED,
        actor="graph",
        expected=[ItemStatus.FILING],
        details={"issue": issue.number},
        repo=repo,
        issue_number=issue.number,
        issue_url=issue.url,
        issue_state="open",
        flow_done=True,
        owes=owed_on("filed"),
    )
    if ctx.dedup is not None:
        try:
            await ctx.dedup.add_issue(
                repo=repo,
                number=issue.number,
                title=issue.title or spec.get("title", ""),
                body=spec.get("description", ""),
                url=issue.url,
                state="open",
                labels=list(spec.get("labels") or []),
            )
        except Exception:
            log.warning("could not index issue #%s", issue.number, exc_info=True)
    await ctx.notifier.item_changed(state.item_id, "filed")
    return {"outcome": ItemStatus.FILED.value, "error": None}


async def _filing_failed(
    ctx: TriageContext,
    state: TriageState,
    reason: str,
    *,
    retry_at: datetime | None = None,
    item: FeedbackItem | None = None,
) -> dict[str, Any]:
    """Record the failure; with `retry_at`, the scheduler retries the filing by itself then."""
    details: dict[str, Any] = {"reason": reason[:500]}
    if retry_at is not None and item is not None:
        details.update(
            retry_at=retry_at.isoformat(),
            attempt=item.filing_auto_retries + 1,
            of=ctx.filing_retry.limit,
        )
    await ctx.items.transition(
        item_id=state.item_id,
        to=ItemStatus.FAILED,
        actor="graph",
        expected=[ItemStatus.APPROVED, ItemStatus.FILING],
        details=details,
        filing_retry_at=retry_at,
    )
    await ctx.notifier.item_changed(state.item_id, "failed")
    return {"outcome": ItemStatus.FAILED.value, "error": reason}


@audited
async def mark_duplicate(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
    """Link the item to the existing issue and, if configured, comment there.

    The comment and the Discord messages are owed in the outbox, written with `flow_done`.
    """
    ctx = runtime.context
    decision = Decision.model_validate(state.decision)
    item = await ctx.items.get(state.item_id)
    repo = (item.repo if item else None) or _policy(state).repo
    if item is None or item.flow_done:
        await ctx.notifier.item_changed(state.item_id, "duplicate")
        return {"outcome": ItemStatus.DUPLICATE.value}
    owes = owed_on("duplicate")
    if (
        ctx.filer is not None
        and repo
        and decision.issue_number
        and _policy(state).comment_on_duplicates
    ):
        already = [
            e for e in await ctx.items.events(state.item_id) if e.action == "duplicate_comment"
        ]
        reporters = await _reporters_of(ctx, repo, decision.issue_number)
        if not already and not _reported_before(item, reporters):
            body = duplicate_comment(
                item_id=state.item_id,
                report=_report(state),
                reporter=item.author_name,
                reporters=len({_author_key(i) for i in reporters}),
            )
            comment = {"repo": repo, "issue": decision.issue_number, "body": body}
            owes = (Owed(DUPLICATE_COMMENT, comment), *owes)
    await ctx.items.update_fields(item_id=state.item_id, flow_done=True, owes=owes)
    await ctx.notifier.item_changed(state.item_id, "duplicate")
    return {"outcome": ItemStatus.DUPLICATE.value}


_LINKED = (ItemStatus.FILED, ItemStatus.DUPLICATE)


async def _reporters_of(ctx: TriageContext, repo: str, number: int) -> list[FeedbackItem]:
    """Items filed as, or marked duplicate of, the issue."""
    linked = await ctx.items.find_by_issue(repo=repo, issue_number=number)
    return [i for i in linked if i.status in _LINKED]


def _author_key(item: FeedbackItem) -> str:
    return f"user:{item.author_id}" if item.author_id is not None else f"item:{item.id}"


def _reported_before(item: FeedbackItem, linked: list[FeedbackItem]) -> bool:
    """Whether the same person filed the issue or has an earlier duplicate linked to it."""
    if item.author_id is None:
        return False
    return any(
        other.id != item.id
        and other.author_id == item.author_id
        and (other.status == ItemStatus.FILED or (other.id or 0) < (item.id or 0))
        for other in linked
    )


@audited
async def close_item(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
    """Finish a rejected or expired item: the status is already set; tell Discord."""
    ctx = runtime.context
    decision = Decision.model_validate(state.decision)
    event: ItemEvent = "rejected" if decision.action == "reject" else "expired"
    item = await ctx.items.get(state.item_id)
    if item is None or item.flow_done:
        await ctx.notifier.item_changed(state.item_id, event)
        return {"outcome": event}
    if event == "rejected":
        await remember(
            ctx,
            state,
            _policy(state),
            kind=state.kind,
            severity=state.severity,
            spec=state.spec,
            rejected=True,
        )
    await ctx.items.update_fields(item_id=state.item_id, flow_done=True, owes=owed_on(event))
    await ctx.notifier.item_changed(state.item_id, event)
    return {"outcome": event}
