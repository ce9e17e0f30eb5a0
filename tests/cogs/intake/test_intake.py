"""Intake over the wire: the real bot against the fake Discord, with a real database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.sandbox.discord import FakeUser
from bot.sandbox.stack import Sandbox, sandbox_stack
from cogs.intake._cog import NO_SUBSTANCE, NOT_MAINTAINER, SEND_TO_TRIAGE, SLOW_DOWN
from storage.embeddings import Embedder
from storage.models import FeedbackItem, ItemStatus

RATE_LIMIT_ITEMS = 5
TRIAGED = {s for s in ItemStatus} - {ItemStatus.RECEIVED, ItemStatus.TRIAGING}


@pytest.fixture(scope="module")
async def sb(
    embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Sandbox]:
    data_dir = tmp_path_factory.mktemp("intake")
    async with sandbox_stack(
        data_dir=data_dir,
        model=embedder.model,
        start_bot=False,
        extra_env={"RATE_LIMIT_ITEMS": str(RATE_LIMIT_ITEMS), "RATE_LIMIT_WINDOW": "3s"},
    ) as sandbox:
        sandbox.discord.add_text_channel("general")
        await sandbox.start()
        yield sandbox


def _channel_named(sb: Sandbox, name: str) -> int:
    return next(int(c["id"]) for c in sb.discord.state.channels.values() if c.get("name") == name)


async def _post(sb: Sandbox, user: FakeUser, text: str, channel_id: int | None = None) -> int:
    posted = await sb.discord.post_message(channel_id or sb.discord.feedback_channel_id, user, text)
    return int(posted["id"])


async def _item_of(sb: Sandbox, message_id: int) -> FeedbackItem | None:
    return await sb.services.items.get_by_source(f"message:{message_id}")


async def _processed_after(sb: Sandbox, user: FakeUser) -> None:
    """Post a real feedback message and wait for its item: earlier events were handled."""
    message_id = await _post(sb, user, "Sentinel: the settings page loads forever on Firefox")
    await sb.wait_for_item_from_message(message_id)
    await sb.discord.wait_for_reaction(message_id, "👀")


def _bot_replies_to(sb: Sandbox, message_id: int, channel_id: int) -> list[Any]:
    return [
        m
        for m in sb.discord.messages_in(channel_id)
        if m.author_id == sb.discord.bot_user.id
        and (m.payload.get("message_reference") or {}).get("message_id") == str(message_id)
    ]


async def test_feedback_message_becomes_one_acknowledged_item(sb: Sandbox) -> None:
    user = sb.discord.add_user("dana")
    text = "The **export** button crashes the app  when the file name has spaces 😢"
    message_id = await _post(sb, user, text)
    item = await sb.wait_for_item_from_message(message_id)
    await sb.discord.wait_for_reaction(message_id, "👀")
    assert item.raw_text == text
    assert item.source_kind == "channel"
    assert (item.guild_id, item.channel_id, item.author_id) == (
        sb.discord.guild_id,
        sb.discord.feedback_channel_id,
        user.id,
    )
    assert item.jump_url and str(message_id) in item.jump_url
    triaged = await sb.wait_for_item(lambda i: i.status in TRIAGED, item_id=item.id)
    assert triaged.status == ItemStatus.AWAITING_REVIEW


async def test_replayed_gateway_event_makes_no_second_item(sb: Sandbox) -> None:
    user = sb.discord.add_user("replay")
    text = "Notifications arrive twice on Android since the last update"
    message_id = await _post(sb, user, text)
    item = await sb.wait_for_item_from_message(message_id)
    stored = sb.discord.message(message_id)
    assert stored is not None
    await sb.discord.hub.dispatch("MESSAGE_CREATE", stored.snapshot(), guild_id=sb.discord.guild_id)
    await _processed_after(sb, user)
    same_text = [
        i for i in await sb.services.items.list_by_status(list(ItemStatus)) if i.raw_text == text
    ]
    assert [i.id for i in same_text] == [item.id]
    received = [e for e in await sb.services.items.events(item.id or 0) if e.action == "received"]
    assert len(received) == 1
    acks = sb.discord.requests_matching("PUT", rf"/messages/{message_id}/reactions/")
    assert len(acks) == 1


async def test_bot_and_webhook_messages_are_ignored(sb: Sandbox) -> None:
    other_bot = sb.discord.add_user("other-bot", bot=True)
    human = sb.discord.add_user("human")
    from_bot = await _post(sb, other_bot, "The build is failing on main, please fix the tests")
    channel = sb.discord.state.channels[sb.discord.feedback_channel_id]
    payload = sb.discord.state.build_message(
        channel, human, {"content": "Webhook relay: login page returns 500 errors"}
    )
    payload["webhook_id"] = str(sb.discord.state.ids.next())
    webhook = sb.discord.state.store_message(payload)
    await sb.discord.hub.dispatch(
        "MESSAGE_CREATE", webhook.snapshot(), guild_id=sb.discord.guild_id
    )
    await _processed_after(sb, human)
    assert await _item_of(sb, from_bot) is None
    assert await _item_of(sb, webhook.id) is None
    assert sb.discord.reactions_on(from_bot) == {}
    assert sb.discord.reactions_on(webhook.id) == {}


async def test_emoji_only_message_is_explained_not_recorded(sb: Sandbox) -> None:
    user = sb.discord.add_user("emoji-fan")
    message_id = await _post(sb, user, "👍🎉  !!")
    reply = await sb.discord.wait_for_message(
        sb.discord.feedback_channel_id,
        lambda m: (
            m.author_id == sb.discord.bot_user.id
            and (m.payload.get("message_reference") or {}).get("message_id") == str(message_id)
        ),
    )
    assert reply.content == NO_SUBSTANCE
    await _processed_after(sb, user)
    assert await _item_of(sb, message_id) is None
    assert not sb.discord.pings


async def test_feedback_command_opens_modal_and_records_with_kind_hint(sb: Sandbox) -> None:
    user = sb.discord.add_user("form-filler")
    opener = await sb.discord.slash_command("feedback", {}, user)
    modal = await opener.wait_response()
    assert modal.type == 9 and modal.custom_id
    summary = "Dark mode would be lovely"
    details = "The white background hurts at night.\nA toggle in settings would do."
    submitted = await sb.discord.submit_modal(
        modal.custom_id, {"summary": summary, "details": details, "kind": ["feature"]}, user
    )
    followup = await submitted.wait_for(lambda r: r.kind == "followup", timeout=10)
    assert followup.ephemeral
    item = await sb.services.items.get_by_source(f"interaction:{opener.id}")
    assert item is not None
    assert followup.content and f"#{item.id}" in followup.content
    assert (item.source_kind, item.kind_hint, item.author_id) == ("slash", "feature", user.id)
    assert item.raw_text == f"{summary}\n\n{details}"
    assert (await submitted.wait_response()).ephemeral


async def test_feedback_form_submitted_after_a_restart_is_stored_once(sb: Sandbox) -> None:
    user = sb.discord.add_user("patient-reporter")
    origin = 1578000000000000001  # the /feedback interaction of a process that is gone
    fields = {"summary": "Search ignores accents", "details": "café finds nothing", "kind": []}
    first = await sb.discord.submit_modal(f"iterateswarm:feedback:{origin}", fields, user)
    answer = await first.wait_for(lambda r: r.kind == "followup", timeout=10)
    item = await sb.services.items.get_by_source(f"interaction:{origin}")
    assert item is not None and answer.content and f"#{item.id}" in answer.content
    assert (item.raw_text, item.kind_hint) == ("Search ignores accents\n\ncafé finds nothing", None)

    again = await sb.discord.submit_modal(f"iterateswarm:feedback:{origin}", fields, user)
    await again.wait_for(lambda r: r.kind == "followup", timeout=10)
    same = await sb.services.items.get_by_source(f"interaction:{origin}")
    assert same is not None and same.id == item.id


async def test_feedback_modal_without_words_is_explained(sb: Sandbox) -> None:
    user = sb.discord.add_user("blank-form")
    opener = await sb.discord.slash_command("feedback", {}, user)
    modal = await opener.wait_response()
    assert modal.custom_id
    submitted = await sb.discord.submit_modal(modal.custom_id, {"summary": "🙂🙂"}, user)
    followup = await submitted.wait_for(lambda r: r.kind == "followup", timeout=10)
    assert followup.ephemeral and followup.content == NO_SUBSTANCE
    assert await sb.services.items.get_by_source(f"interaction:{opener.id}") is None


async def test_context_menu_retriages_praise_marked_not_actionable(sb: Sandbox) -> None:
    user = sb.discord.add_user("fan")
    message_id = await _post(sb, user, "Thank you so much, this bot is awesome! Love it ❤️")
    item = await sb.wait_for_item_from_message(message_id)
    await sb.wait_for_item_status(item.id or 0, ItemStatus.NOT_ACTIONABLE)
    await sb.discord.wait_for_reaction(message_id, "💜")
    interaction = await sb.discord.context_menu(SEND_TO_TRIAGE, message_id, sb.maintainer)
    answer = await interaction.wait_for(lambda r: r.kind == "followup", timeout=10)
    assert answer.ephemeral and "triaged again" in (answer.content or "")
    review = await sb.wait_for_item_status(item.id or 0, ItemStatus.AWAITING_REVIEW)
    assert review.triage_requested_by == sb.maintainer.name
    assert review.actionable is True
    assert "💜" not in sb.discord.reactions_on(message_id)


async def test_context_menu_by_non_maintainer_is_refused(sb: Sandbox) -> None:
    message_id = await _post(sb, sb.outsider, "hello all", channel_id=_channel_named(sb, "general"))
    interaction = await sb.discord.context_menu(SEND_TO_TRIAGE, message_id, sb.outsider)
    assert (await interaction.wait_response()).ephemeral
    answer = await interaction.wait_for(lambda r: r.kind == "followup", timeout=10)
    assert answer.ephemeral and answer.content == NOT_MAINTAINER
    assert await _item_of(sb, message_id) is None


async def test_context_menu_on_item_in_review_reports_its_status(sb: Sandbox) -> None:
    user = sb.discord.add_user("twice")
    message_id = await _post(sb, user, "Uploading a PNG larger than 5 MB fails with an error")
    item = await sb.wait_for_item_from_message(message_id)
    await sb.wait_for_item_status(item.id or 0, ItemStatus.AWAITING_REVIEW)
    interaction = await sb.discord.context_menu(SEND_TO_TRIAGE, message_id, sb.maintainer)
    answer = await interaction.wait_for(lambda r: r.kind == "followup", timeout=10)
    assert f"item #{item.id} (awaiting_review)" in (answer.content or "")


async def test_maintainer_reaction_outside_feedback_channels_creates_item(sb: Sandbox) -> None:
    general = _channel_named(sb, "general")
    ignored = await _post(sb, sb.reporter, "The search box ignores accents", channel_id=general)
    wanted = await _post(sb, sb.reporter, "Password reset emails never arrive", channel_id=general)
    await sb.discord.add_reaction(general, ignored, sb.outsider, "📝")
    await sb.discord.add_reaction(general, wanted, sb.maintainer, "📝")
    created = await sb.wait_for_item_from_message(wanted)
    await sb.discord.wait_for_reaction(wanted, "👀")
    item = await sb.item(created.id or 0)
    assert item is not None
    assert item.source_kind == "reaction"
    assert item.raw_text == "Password reset emails never arrive"
    assert item.author_id == sb.reporter.id
    assert item.triage_requested_by == sb.maintainer.name
    assert await _item_of(sb, ignored) is None
    assert "👀" not in sb.discord.reactions_on(ignored)


async def test_fast_sender_is_recorded_told_once_and_triaged(sb: Sandbox) -> None:
    user = sb.discord.add_user("speedy")
    count = RATE_LIMIT_ITEMS + 2
    ids = []
    for n in range(count):
        ids.append(await _post(sb, user, f"Problem number {n}: the page {n} shows a blank screen"))
    items = [await sb.wait_for_item_from_message(i) for i in ids]
    assert len({i.id for i in items}) == count
    for message_id in ids:
        await sb.discord.wait_for_reaction(message_id, "👀")
    channel = sb.discord.feedback_channel_id
    await sb.discord.wait_for_message(channel, lambda m: m.content == SLOW_DOWN)
    for item in items:
        await sb.wait_for_item(lambda i: i.status in TRIAGED, item_id=item.id, within=30)
    notices = [
        m
        for m in sb.discord.messages_in(channel)
        if m.content == SLOW_DOWN
        and (m.payload.get("message_reference") or {}).get("message_id") in {str(i) for i in ids}
    ]
    assert len(notices) == 1


async def test_messages_outside_feedback_channels_are_not_recorded(sb: Sandbox) -> None:
    general = _channel_named(sb, "general")
    message_id = await _post(sb, sb.reporter, "Crash on startup when offline", channel_id=general)
    await _processed_after(sb, sb.reporter)
    assert await _item_of(sb, message_id) is None
    assert _bot_replies_to(sb, message_id, general) == []


async def test_messages_in_threads_of_feedback_channels_are_recorded(sb: Sandbox) -> None:
    from bot.sandbox.discord._payloads import thread_payload

    parent = sb.discord.state.channels[sb.discord.feedback_channel_id]
    user = sb.discord.add_user("threader")
    thread = thread_payload(sb.discord.state.ids.next(), parent, user.id, "crash reports")
    sb.discord.state.add_channel(thread)
    text = "In this thread: the app freezes when I rotate the phone"
    message_id = await _post(sb, user, text, channel_id=int(thread["id"]))
    item = await sb.wait_for_item_from_message(message_id)
    await sb.discord.wait_for_reaction(message_id, "👀")
    assert (item.channel_id, item.raw_text) == (int(thread["id"]), text)
