"""A failed filing can be fixed: Edit on a failed item, automatic retries of transient failures."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.discord import StoredMessage
from bot.sandbox.stack import Sandbox
from storage.models import ItemStatus
from tests.cogs.approvals.backends import BACKENDS, sandbox_on
from tests.cogs.approvals.conftest import Flow
from tests.e2e.harness import embed_text

WAIT = 30.0
CREATE = "POST /repos/acme/widgets/issues"
LABEL_REFUSED = {
    "message": "Validation Failed",
    "errors": [{"resource": "Label", "code": "invalid", "field": "name", "value": "bug"}],
}
FAST_AUTO_RETRIES = {"FILING_RETRY_DELAY": "1s", "FILING_AUTO_RETRIES": "3"}


def _creates(sb: Sandbox) -> int:
    return len(sb.github.requests_to("POST", "/repos/acme/widgets/issues"))


async def _review_saying(sb: Sandbox, review_id: int, *texts: str) -> StoredMessage:
    """The review message once its embed shows every one of `texts`."""
    return await sb.discord.wait_for_message(
        sb.discord.review_channel_id,
        lambda m: m.id == review_id and all(t in embed_text(m) for t in texts),
        timeout=WAIT,
    )


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_label_refused_with_422_is_fixed_by_editing_the_failed_item(
    backend: str, tmp_path: Path, sentence_model: Any, flow_for: Any
) -> None:
    async with sandbox_on(backend, tmp_path, sentence_model, extra_env=FAST_AUTO_RETRIES) as sb:
        flow: Flow = flow_for(sb)
        item, review = await flow.report()
        assert item.id is not None
        sb.github.fail_next(CREATE, status=422, body=LABEL_REFUSED)
        await flow.click(review, "approve", item.id)
        await sb.wait_for_item_status(item.id, ItemStatus.FAILED, within=WAIT)
        shown = await _review_saying(sb, review.id, "Filing failed", "Edit or Retry")
        assert "retrying automatically" not in embed_text(shown)
        assert set(flow.approvals_buttons(review.id)) == {
            f"approvals:{action}:{item.id}" for action in ("retry", "edit", "reject")
        }
        await asyncio.sleep(2.5)  # longer than an automatic retry would wait
        assert _creates(sb) == 1, "a 422 is not retried automatically"

        opened = await flow.click(review, "edit", item.id)
        submitted = await flow.submit(opened, {"labels": "triaged, needs-repro"}, review)
        assert (await flow.answer(submitted)).startswith("Edited")
        await sb.wait_for_item(
            lambda i: (i.spec or {}).get("labels") == ["triaged", "needs-repro"], item_id=item.id
        )
        still = await sb.item(item.id)
        assert still is not None and still.status == ItemStatus.FAILED
        await _review_saying(sb, review.id, "triaged, needs-repro", "Filing failed")

        await flow.click(review, "retry", item.id)
        filed = await sb.wait_for_item_status(item.id, ItemStatus.FILED, within=WAIT)
        (issue,) = sb.github.issues_in(sb.repo)
        assert issue.number == filed.issue_number
        assert issue.labels == ["triaged", "needs-repro"]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_rate_limited_filing_is_retried_at_retry_at_even_after_a_restart(
    backend: str, tmp_path: Path, sentence_model: Any, flow_for: Any
) -> None:
    async with sandbox_on(backend, tmp_path, sentence_model, extra_env=FAST_AUTO_RETRIES) as sb:
        flow: Flow = flow_for(sb)
        item, review = await flow.report()
        assert item.id is not None
        # Resets later than the client's wait budget (2 s): it gives up with `retry_at`.
        reset = sb.github.primary_limit_next(CREATE, reset_in=4)
        await flow.click(review, "approve", item.id)
        failed = await sb.wait_for_item_status(item.id, ItemStatus.FAILED, within=WAIT)
        assert failed.issue_number is None
        await _review_saying(sb, review.id, "retrying automatically at", "(attempt 1 of 3)")
        assert "approvals:retry" in " ".join(flow.approvals_buttons(review.id))

        await sb.restart()  # the retry is planned in the database, not only in memory
        filed = await sb.wait_for_item_status(item.id, ItemStatus.FILED, within=WAIT)
        events = await sb.services.items.events(item.id)
        filed_at = next(e.at for e in events if e.to_status == ItemStatus.FILED)
        assert filed_at.timestamp() >= reset, "not before GitHub's rate limit reset"
        assert [i.number for i in sb.github.issues_in(sb.repo)] == [filed.issue_number]
        assert _creates(sb) == 2


@pytest.mark.parametrize("backend", BACKENDS)
async def test_automatic_retries_of_a_5xx_stop_after_the_cap_and_say_so(
    backend: str, tmp_path: Path, sentence_model: Any, flow_for: Any
) -> None:
    async with sandbox_on(backend, tmp_path, sentence_model, extra_env=FAST_AUTO_RETRIES) as sb:
        flow: Flow = flow_for(sb)
        item, review = await flow.report()
        assert item.id is not None
        sb.github.fail_next(CREATE, status=503, times=1000)
        await flow.click(review, "approve", item.id)
        await _review_saying(sb, review.id, "retrying automatically at", "(attempt 1 of 3)")
        await _review_saying(sb, review.id, "(attempt 3 of 3)")
        await _review_saying(sb, review.id, "Filing failed", "3 automatic retries", "Edit or Retry")
        failed = await sb.item(item.id)
        assert failed is not None and failed.status == ItemStatus.FAILED
        tries = _creates(sb)
        assert tries == 4 * 3, "the first filing and 3 automatic retries, 3 requests each"
        await asyncio.sleep(3.0)
        assert _creates(sb) == tries, "no automatic retry after the cap"

        sb.github.clear_faults(CREATE)
        await flow.click(review, "retry", item.id)
        filed = await sb.wait_for_item_status(item.id, ItemStatus.FILED, within=WAIT)
        assert [i.number for i in sb.github.issues_in(sb.repo)] == [filed.issue_number]
