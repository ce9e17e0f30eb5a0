"""Forgetting in the database: items, audit rows, decisions, examples, settings, departures."""

from __future__ import annotations

from datetime import timedelta

from storage.db import Database
from storage.decisions import DECISION_ACTION, decisions_after
from storage.digest import DigestRepository
from storage.examples import ExampleRepository
from storage.forgetting import FORGOTTEN, DataSubject
from storage.guild_config import GuildConfigRepository
from storage.guild_departures import GuildDepartureRepository
from storage.item_privacy import ItemPrivacyRepository
from storage.items import ItemRepository
from storage.models import FeedbackItemBase, ItemStatus, utcnow
from tests.traces import database_traces

GUILD, OTHER_GUILD = 42, 43
MAYA = 9001  # a maintainer


async def _item(items: ItemRepository, n: int, *, guild: int = GUILD, author: int = 7) -> int:
    base = FeedbackItemBase(
        source_kind="channel",
        source_key=f"message:{n}",
        guild_id=guild,
        author_id=author,
        author_name=f"display-{author}",
        raw_text=f"words-{n} of author-{author}",
        attachments=[{"filename": "crash.log", "text": f"log of author-{author}"}],
    )
    item, _ = await items.create(item=base, actor=f"user-{author}")
    assert item.id is not None
    return item.id


async def _reviewed(items: ItemRepository, item_id: int) -> None:
    for status in (ItemStatus.TRIAGING, ItemStatus.AWAITING_REVIEW):
        assert await items.transition(item_id=item_id, to=status, actor="graph") is not None


async def test_a_maintainer_forgotten_leaves_anonymous_decisions(database: Database) -> None:
    items, privacy = ItemRepository(database), ItemPrivacyRepository(database)
    configs = GuildConfigRepository(database)
    decided = await _item(items, 1)
    await _reviewed(items, decided)
    decision = {"action": "reject", "actor": f"maya ({MAYA})", "actor_id": MAYA, "reason": "no"}
    await items.transition(
        item_id=decided,
        to=ItemStatus.REJECTED,
        actor=f"maya ({MAYA})",
        details=decision,
        decision=decision,
    )
    await items.update_fields(item_id=decided, triage_requested_by="maya")
    await configs.update(guild_id=GUILD, changes={"ask_for_details": False}, actor="maya")

    subject = DataSubject(user_id=MAYA, names=frozenset({"maya"}))
    assert await privacy.forget(subject) == 0, "maya reported nothing"
    await configs.forget(subject)

    assert await database_traces(database, ["maya", str(MAYA)]) == []
    kept = await items.get(decided)
    assert kept is not None and kept.raw_text == "words-1 of author-7"
    assert kept.decision is not None and kept.decision["actor"] == FORGOTTEN
    assert kept.triage_requested_by == FORGOTTEN
    assert [e.actor for e in await items.events(decided)].count(FORGOTTEN) == 1


async def test_texts_only_keep_an_emptied_row_and_its_anonymous_trail(database: Database) -> None:
    items, privacy = ItemRepository(database), ItemPrivacyRepository(database)
    examples = ExampleRepository(database)
    old = await _item(items, 1)
    await _reviewed(items, old)
    await examples.add(
        guild_id=GUILD,
        item_id=old,
        text="words-1",
        kind="bug",
        severity="low",
        title="t",
        labels=[],
        rejected=True,
    )
    subject = DataSubject(item_ids=(old,), keep_items=True)
    assert await examples.forget(subject) == 1
    assert await privacy.forget(subject) == 1

    emptied = await items.get(old)
    assert emptied is not None
    assert (emptied.raw_text, emptied.author_name, emptied.spec) == ("", "", None)
    assert emptied.attachments is None, "the files' texts go with the message's"
    assert emptied.status == ItemStatus.AWAITING_REVIEW
    assert emptied.content_removed_at is not None and emptied.unindexed_at is not None
    trail = await items.events(old)
    assert len(trail) == 3 and all(e.details is None for e in trail)
    assert trail[0].actor == FORGOTTEN, "the reporter's username goes too"
    assert await database_traces(database, ["words-1", "user-7", "display-7"]) == []
    assert await privacy.finished_before(utcnow() + timedelta(days=1), limit=10) == []


async def test_a_departed_guild_loses_everything_and_others_nothing(database: Database) -> None:
    items, privacy = ItemRepository(database), ItemPrivacyRepository(database)
    configs, examples = GuildConfigRepository(database), ExampleRepository(database)
    departures, digests = GuildDepartureRepository(database), DigestRepository(database)
    gone = [await _item(items, n) for n in (1, 2)]
    stays = await _item(items, 3, guild=OTHER_GUILD)
    for guild in (GUILD, OTHER_GUILD):
        await configs.update(guild_id=guild, changes={"ask_for_details": False}, actor="maya")
        await digests.record_posted(guild, actor="scheduler")
    await examples.add(
        guild_id=GUILD,
        item_id=None,
        text="words-9",
        kind="bug",
        severity=None,
        title=None,
        labels=[],
        rejected=False,
    )
    await departures.left(GUILD)
    assert await departures.left_before(utcnow() + timedelta(seconds=1)) == [GUILD]

    subject = DataSubject(item_ids=tuple(await privacy.items_of_guild(GUILD)), guild_id=GUILD)
    assert sorted(subject.item_ids) == gone
    for store in (examples, configs, departures):
        assert await store.forget(subject) >= 1
    assert await privacy.forget(subject) == 2

    assert [await items.get(i) for i in gone] == [None, None]
    assert await items.get(stays) is not None
    assert await configs.get(GUILD) == {} and await configs.get(OTHER_GUILD) != {}
    assert await digests.last_posted(GUILD) is None
    assert await digests.last_posted(OTHER_GUILD) is not None
    assert await database_traces(database, ["words-1", "words-2", "words-9"]) == []
    assert await departures.left_before(utcnow() + timedelta(seconds=1)) == []


async def test_a_forgotten_maintainers_logged_decision_is_still_taken(database: Database) -> None:
    items, privacy = ItemRepository(database), ItemPrivacyRepository(database)
    decided = await _item(items, 5)
    await _reviewed(items, decided)
    decision = {"action": "reject", "actor": f"maya ({MAYA})", "actor_id": MAYA, "reason": "no"}
    await items.transition(
        item_id=decided,
        to=ItemStatus.REJECTED,
        actor=f"maya ({MAYA})",
        details=decision,
        decision=decision,
        audit_action=DECISION_ACTION,
    )

    await privacy.forget(DataSubject(user_id=MAYA, names=frozenset({"maya"})))

    assert await database_traces(database, ["maya", str(MAYA)]) == []
    (logged,) = await decisions_after(database, decided, 0)
    assert logged.decision["action"] == "reject" and logged.decision["reason"] == "no"
    assert logged.decision["actor"] == FORGOTTEN and logged.decision["actor_id"] is None
