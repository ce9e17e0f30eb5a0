"""A bot process under GitHub faults, a burst of feedback and hostile input, seen over the wire."""

from __future__ import annotations

import asyncio
import copy
import re
from typing import Any

import pytest

from bot.sandbox.discord import StoredMessage
from storage.models import ItemStatus
from tests.e2e.harness import DETAILS, ISSUE_CREATE, Deployment, complete, embed_text

pytestmark = pytest.mark.slow

ACTIVE_LINK = re.compile(r"(?<!\\)\[[^\[\]]*(?<!\\)\]\(https://evil")
VERDICTS = (ItemStatus.AWAITING_REVIEW, ItemStatus.NOT_ACTIONABLE)
COMPONENTS = [
    "login page",
    "export dialog",
    "search bar",
    "settings screen",
    "notification panel",
    "file uploader",
    "calendar view",
    "billing page",
    "chat window",
    "project dashboard",
]
PROBLEMS = [
    "crashes with an error as soon as I click it",
    "freezes for about a minute and then shows a blank screen",
    "throws a 500 error and loses what I typed",
]


def assert_embeds_within_limits(message: StoredMessage) -> None:
    """Discord's embed limits: title 256, description 4096, field 1024, 25 fields, 6000 total."""
    for embed in message.embeds:
        fields = embed.get("fields") or []
        assert len(str(embed.get("title") or "")) <= 256
        assert len(str(embed.get("description") or "")) <= 4096
        assert len(fields) <= 25
        assert all(len(str(f.get("value"))) <= 1024 for f in fields)
        total = len(str(embed.get("title") or "")) + len(str(embed.get("description") or ""))
        total += sum(len(str(f.get("name"))) + len(str(f.get("value"))) for f in fields)
        total += len(str((embed.get("footer") or {}).get("text") or ""))
        total += len(str((embed.get("author") or {}).get("name") or ""))
        assert total <= 6000


async def test_github_errors_rate_limits_and_resets_still_file_exactly_one_issue(
    shared: Deployment,
) -> None:
    item, review = await shared.report(
        complete(
            "The invoice PDF download fails with a network error for invoices older than a year."
        )
    )
    assert item.id is not None
    shared.github.fail_next(ISSUE_CREATE, status=502)
    shared.github.secondary_limit_next(ISSUE_CREATE, retry_after=1)
    shared.github.reset_next(ISSUE_CREATE)
    shared.github.reset_next(ISSUE_CREATE, after_processing=True)

    clicked = await shared.click(review, "approve", item.id)
    await shared.answer(clicked)
    filed = await shared.wait_status(item.id, ItemStatus.FILED, within=120)

    assert shared.github.pending_faults(ISSUE_CREATE) == 0
    issues = shared.issues_for(item.id)
    assert len(issues) == 1
    assert issues[0].number == filed.issue_number
    assert len(shared.notices_to_reporter(filed)) <= 1
    assert filed.issue_url in await shared.notice_to_reporter(filed)  # type: ignore[operator]


async def test_burst_from_ten_users_accounts_for_every_message(shared: Deployment) -> None:
    users = [shared.new_user("burst") for _ in range(10)]
    message_ids: list[int] = []
    for index in range(30):
        author = users[index % len(users)]
        component = COMPONENTS[index % len(COMPONENTS)]
        problem = PROBLEMS[index // len(COMPONENTS)]
        text = complete(f"The {component} {problem}. Reproducible on build {4100 + index}.")
        message_ids.append(await shared.post(author, text))
        await asyncio.sleep(2 / 30)

    items = [await shared.item_of(message_id) for message_id in message_ids]
    assert len({i.id for i in items}) == 30
    settled = [
        await shared.wait_status(i.id, *VERDICTS, within=180)  # type: ignore[arg-type]
        for i in items
    ]
    for item in settled:
        assert item.id is not None
        if item.status == ItemStatus.AWAITING_REVIEW:
            await shared.review_of(item.id)
            assert len(shared.review_messages_for(item.id)) == 1, f"item {item.id}"
    reviewed = [i for i in settled if i.status == ItemStatus.AWAITING_REVIEW]
    assert len(reviewed) >= 27, "nearly all of these are clear bug reports"

    keys = {f"message:{m}" for m in message_ids}
    stored = await shared.items.list_by_status(list(ItemStatus))
    assert sorted(i.source_key for i in stored if i.source_key in keys) == sorted(keys)
    ours = {str(m) for m in message_ids}
    slow_down = [
        m
        for m in shared.discord.messages_in(shared.discord.feedback_channel_id)
        if m.author_id == shared.discord.bot_user_id
        and str((m.payload.get("message_reference") or {}).get("message_id")) in ours
        and "sending feedback quickly" in m.content
    ]
    assert len(slow_down) == len(users), "each user over the limit is told once"
    shared.discord.assert_never_pinged()


HOSTILE_TEXTS = [
    "@everyone @here {role} {maintainer} the checkout page crashes when I press Pay, fix it now",
    "```\nclosing the block early``` **bold** __underline__ [click me](https://evil.example/x) "
    "~~strike~~ `code`\n# Heading\n> quote\nThe profile page crashes when I save a bio with "
    "markdown in it ```",
    "The\u200b search\u200d page\u202e crashes \u2066when\u2069 I type Hebrew text "
    "\u05e9\u05dc\u05d5\u05dd and press enter\ufeff",
]


def long_report() -> str:
    """A 4,000-character bug report (Discord's limit for long messages)."""
    line = "Log: request to /api/v2/sync failed with status 504 after 30 s (attempt {n}). "
    text = "The nightly sync job fails with a gateway timeout error. "
    n = 0
    while len(text) < 4000:
        n += 1
        text += line.format(n=n)
    return text[: 4000 - len(DETAILS)] + DETAILS


async def test_hostile_messages_are_inert_and_reviewed(shared: Deployment) -> None:
    texts = [
        complete(t).format(
            role=f"<@&{shared.discord.maintainer_role_id}>", maintainer=shared.maintainer.mention
        )
        for t in HOSTILE_TEXTS
    ]
    texts.append(long_report())
    message_ids = [await shared.post(shared.new_user("hostile"), text) for text in texts]
    for message_id in message_ids:
        item = await shared.item_of(message_id)
        assert item.id is not None
        settled = await shared.wait_status(item.id, *VERDICTS)
        if settled.status != ItemStatus.AWAITING_REVIEW:
            continue
        review = await shared.review_of(item.id)
        assert_embeds_within_limits(review)
        shown = embed_text(review)
        assert "@everyone" not in shown and "@here" not in shown
        assert ACTIVE_LINK.search(shown) is None, "user text must not become a link"
    shared.discord.assert_never_pinged()
    assert shared.process.alive


def _fresh(payload: dict[str, Any], deployed: Deployment, n: int) -> dict[str, Any]:
    changed = copy.deepcopy(payload)
    changed["id"] = str(deployed.discord.snowflake_for_shard(0, 1))
    changed["token"] = f"hostile-token-{n}"
    return changed


async def test_malformed_interactions_do_not_break_the_bot(shared: Deployment) -> None:
    item, review = await shared.report(
        complete("Uploading a file with an emoji in its name fails with 'invalid path' on Windows.")
    )
    assert item.id is not None
    discord = shared.discord

    bogus_action = await discord.click_button(
        review.id, f"approvals:launch:{item.id}", shared.maintainer, check_exists=False
    )
    assert "not one I recognise" in await shared.answer(bogus_action, within=10)
    missing_item = await discord.click_button(
        review.id, f"approvals:approve:{10**15}", shared.maintainer, check_exists=False
    )
    assert "can't find" in await shared.answer(missing_item, within=10)
    await discord.click_button(review.id, "not-ours:at-all", shared.maintainer, check_exists=False)

    template = bogus_action.payload
    no_data = _fresh(template, shared, 1)
    no_data.pop("data", None)
    wrong_types = _fresh(template, shared, 2)
    wrong_types["data"] = {"custom_id": 12345, "component_type": "button"}
    nobody = _fresh(template, shared, 3)
    nobody.pop("member", None)
    unknown_command = _fresh(template, shared, 4)
    unknown_command.update(type=2, data={"id": "1", "name": "self-destruct", "type": 1})
    unknown_kind = _fresh(template, shared, 5)
    unknown_kind["type"] = 99
    for payload in (no_data, wrong_types, nobody, unknown_command, unknown_kind):
        await discord.raw_interaction(payload)
    await discord.raw_interaction({"type": 3, "data": {"custom_id": "approvals:approve:1"}})

    await asyncio.sleep(1.0)
    assert shared.process.alive
    still = await shared.items.get(item.id)
    assert still is not None and still.status == ItemStatus.AWAITING_REVIEW
    approved = await shared.click(review, "approve", item.id)
    await shared.answer(approved)
    await shared.wait_status(item.id, ItemStatus.FILED)
    assert len(shared.issues_for(item.id)) == 1
    later, _ = await shared.report(
        complete("The calendar export skips events that start at midnight.")
    )
    assert later.status == ItemStatus.AWAITING_REVIEW
    discord.assert_never_pinged()


async def test_state_dump_on_sigusr1_leaves_the_bot_working(shared: Deployment) -> None:
    before = shared.process.log_size()
    await shared.process.dump_state()

    dump = shared.process.log_text(since=before)
    assert "asyncio task(s) waiting at" in dump
    assert "most recent call first" in dump  # the threads' stacks
    assert shared.process.alive
    item, _ = await shared.report(complete("The search box loses focus after every keystroke."))
    assert item.status == ItemStatus.AWAITING_REVIEW
