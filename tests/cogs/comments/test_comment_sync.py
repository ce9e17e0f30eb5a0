"""Comments between a filed issue and its Discord post or thread (SYNC_COMMENTS), on the wire."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from bot.sandbox.stack import Sandbox, sandbox_stack
from storage.embeddings import Embedder
from storage.models import FeedbackItem, ItemStatus
from tests.cogs.approvals.conftest import BUG_REPORT, FAST_RETRIES, Flow
from tests.cogs.forums.conftest import FORUM_TAGS, WAIT, open_post

TITLE = "Export crashes the app"
BUG = (
    "Every time I click Export on the settings page the window closes with an error. "
    "I expected a CSV file to download. Version 3.1 on Windows 11."
)
MAINTAINER_SAYS = "Thanks! Could you attach the log? @everyone **it** helps <@123>"
STRANGER_SAYS = "Same here, any update?"
SIMILAR = (
    "Export on the settings page crashes the app for me too, the window just closes "
    "when I press Export instead of giving me the CSV."
)
REPORTER_SAYS = "Here is the log: export.py line 12 raised KeyError 'csv' (see #5)."
SHOWN = "commented on issue"


@asynccontextmanager
async def _bot(
    tmp_path: Path, embedder: Embedder, db_url: str, mode: str
) -> AsyncIterator[Sandbox]:
    async with sandbox_stack(
        data_dir=tmp_path / "data",
        database_url=db_url,
        model=embedder.model,
        extra_env={"SYNC_COMMENTS": mode},
        start_bot=False,
        github_retry=FAST_RETRIES,
    ) as sandbox:
        forum = sandbox.discord.add_forum_channel("bug-reports", tags=FORUM_TAGS)
        sandbox.configure(
            FEEDBACK_CHANNEL_IDS=f"{sandbox.discord.feedback_channel_id},{forum['id']}"
        )
        await sandbox.start()
        yield sandbox


async def _sync(sb: Sandbox) -> None:
    await sb.services.extras["issue_sync"]()


async def _file(sb: Sandbox, item: FeedbackItem) -> FeedbackItem:
    assert item.id is not None
    review = sb.discord.message(await sb.wait_for_review_message(item.id, within=WAIT))
    assert review is not None
    await Flow(sb).click(review, "approve", item.id)
    await sb.wait_for_item_status(item.id, ItemStatus.FILED, within=WAIT)
    return await sb.wait_for_item(lambda i: i.flow_done, item_id=item.id, within=WAIT)


def _shown(sb: Sandbox, channel_id: int) -> list[str]:
    bot = sb.discord.bot_user_id
    return [
        m.content
        for m in sb.discord.messages_in(channel_id)
        if m.author_id == bot and SHOWN in m.content
    ]


def _comments(sb: Sandbox, number: int) -> list[str]:
    return [str(c["body"]) for c in sb.github.repo(sb.repo).issues[number].comments]


async def _settle() -> None:
    await asyncio.sleep(0.5)


async def _eventually(check: Callable[[], bool], what: str) -> None:
    for _ in range(int(WAIT / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(what)


async def test_both_ways_each_comment_once_and_nothing_echoes(
    tmp_path: Path, embedder: Embedder, db_url: str
) -> None:
    async with _bot(tmp_path, embedder, db_url, "both") as sb:
        post_id, item = await open_post(sb, sb.reporter, TITLE, BUG, tags=("bug",))
        filed = await _file(sb, item)
        number = filed.issue_number or 0
        await _sync(sb)

        sb.github.add_comment(
            sb.repo, number, MAINTAINER_SAYS, author="maria", association="MEMBER"
        )
        sb.github.add_comment(
            sb.repo, number, STRANGER_SAYS, author="passer-by", association="NONE"
        )
        await _sync(sb)
        await sb.discord.wait_for_message(
            post_id, lambda m: SHOWN in m.content and "maria" in m.content, WAIT
        )
        shown = _shown(sb, post_id)
        assert len(shown) == 1
        assert "\\*\\*it\\*\\*" in shown[0] and "@everyone" not in shown[0]
        assert f"issues/{number}#issuecomment-" in shown[0]

        await sb.discord.post_message(post_id, sb.reporter, REPORTER_SAYS)
        await _eventually(lambda: len(_comments(sb, number)) == 3, "the reporter's comment")
        mirrored = _comments(sb, number)[-1]
        assert "line 12 raised KeyError" in mirrored and "<!-- iterateswarm:mirror:" in mirrored
        assert sb.reporter.name in mirrored or "wrote on Discord" in mirrored

        for _ in range(3):
            await _sync(sb)
            await _settle()
        assert len(_shown(sb, post_id)) == 1
        assert len(_comments(sb, number)) == 3
        assert [m for m in sb.discord.messages_in(post_id) if STRANGER_SAYS in m.content] == []
        sb.discord.assert_never_pinged()

        assert sb.services.personal_data is not None
        report = await sb.services.personal_data.forget_person(sb.reporter.id)
        assert report.records["comment mirrors"] == 2, "the comment shown and the message posted"


async def test_with_off_nothing_is_mirrored(
    tmp_path: Path, embedder: Embedder, db_url: str
) -> None:
    async with _bot(tmp_path, embedder, db_url, "off") as sb:
        post_id, item = await open_post(sb, sb.reporter, TITLE, BUG, tags=("bug",))
        number = (await _file(sb, item)).issue_number or 0
        await _sync(sb)
        sb.github.add_comment(sb.repo, number, MAINTAINER_SAYS, author="maria")
        await _sync(sb)
        await sb.discord.post_message(post_id, sb.reporter, REPORTER_SAYS)
        await _sync(sb)
        await _settle()
        assert _shown(sb, post_id) == []
        assert _comments(sb, number) == [MAINTAINER_SAYS]


async def test_a_channel_item_gets_a_thread_on_its_message_and_replies_stay_talk(
    tmp_path: Path, embedder: Embedder, db_url: str
) -> None:
    async with _bot(tmp_path, embedder, db_url, "github_to_discord") as sb:
        item, _ = await Flow(sb).report(BUG_REPORT)
        assert item.message_id is not None
        number = (await _file(sb, item)).issue_number or 0
        await _sync(sb)
        sb.github.add_comment(sb.repo, number, MAINTAINER_SAYS, author="maria", association="OWNER")
        await _sync(sb)
        thread_id = item.message_id  # a thread on a message has the message's id
        await sb.discord.wait_for_message(thread_id, lambda m: SHOWN in m.content, WAIT)
        threads = sb.discord.threads_in(sb.discord.feedback_channel_id)
        assert [int(t["id"]) for t in threads] == [thread_id]

        reply = await sb.discord.post_message(thread_id, sb.reporter, REPORTER_SAYS)
        sb.github.add_comment(sb.repo, number, "Fixed in 3.2.", author="maria", association="OWNER")
        await _sync(sb)
        await sb.discord.wait_for_message(thread_id, lambda m: "Fixed in 3.2." in m.content, WAIT)
        await _settle()
        assert await sb.services.items.get_by_source(f"message:{reply['id']}") is None
        assert len(_shown(sb, thread_id)) == 2
        assert len(_comments(sb, number)) == 2, "github_to_discord posts nothing on GitHub"
        sb.discord.assert_never_pinged()


async def test_a_duplicate_post_gets_only_the_comments_made_after_it_was_linked(
    tmp_path: Path, embedder: Embedder, db_url: str
) -> None:
    async with _bot(tmp_path, embedder, db_url, "github_to_discord") as sb:
        first_id, first = await open_post(sb, sb.reporter, TITLE, BUG, tags=("bug",))
        number = (await _file(sb, first)).issue_number or 0
        sb.github.add_comment(sb.repo, number, "Looking into it.", author="maria")
        await _sync(sb)
        await sb.discord.wait_for_message(first_id, lambda m: "Looking into it." in m.content, WAIT)

        dup_id, dup = await open_post(sb, sb.outsider, "Export closes the window", SIMILAR)
        assert dup.id is not None
        flow = Flow(sb)
        review = sb.discord.message(await sb.wait_for_review_message(dup.id, within=WAIT))
        assert review is not None
        opened = await flow.click(review, "duplicate", dup.id)
        await flow.submit(opened, {"issue_number": str(number)}, review)
        await sb.wait_for_item_status(dup.id, ItemStatus.DUPLICATE, within=WAIT)
        await asyncio.sleep(1.1)  # GitHub's timestamps are whole seconds
        sb.github.add_comment(sb.repo, number, "Fixed in 3.2.", author="maria")
        await _sync(sb)
        await sb.discord.wait_for_message(dup_id, lambda m: "Fixed in 3.2." in m.content, WAIT)
        await sb.discord.wait_for_message(first_id, lambda m: "Fixed in 3.2." in m.content, WAIT)
        assert [m for m in _shown(sb, dup_id) if "Looking into it." in m] == []
        assert len(_shown(sb, first_id)) == 2 and len(_shown(sb, dup_id)) == 1
