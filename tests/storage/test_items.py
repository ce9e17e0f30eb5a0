"""ItemRepository on SQLite and PostgreSQL: idempotent intake, legal CAS transitions, audit."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from storage.db import Database
from storage.item_moves import DraftChange
from storage.items import IllegalTransitionError, ItemRepository
from storage.models import FeedbackItemBase, ItemStatus


def _item(key: str = "message:1", text: str = "The app crashes on login") -> FeedbackItemBase:
    return FeedbackItemBase(
        source_kind="channel",
        source_key=key,
        guild_id=10,
        channel_id=20,
        message_id=30,
        author_id=40,
        author_name="ana",
        raw_text=text,
    )


async def test_create_is_idempotent_per_source(database: Database) -> None:
    repo = ItemRepository(database)
    first, created = await repo.create(item=_item(), actor="discord")
    again, created_again = await repo.create(item=_item(text="different"), actor="discord")
    assert created and not created_again
    assert first.id == again.id
    assert again.raw_text == "The app crashes on login"
    assert first.status == ItemStatus.RECEIVED


async def test_concurrent_intake_of_one_message_creates_one_item(database: Database) -> None:
    repo = ItemRepository(database)
    results = await asyncio.gather(*(repo.create(item=_item(), actor="d") for _ in range(20)))
    assert len({item.id for item, _ in results}) == 1
    assert sum(created for _, created in results) == 1


async def test_unicode_text_survives_intact(database: Database) -> None:
    repo = ItemRepository(database)
    text = "崩溃 😱 مرحبا \u200b**bold** `code` @everyone " + "x" * 5000
    item, _ = await repo.create(item=_item(text=text), actor="d")
    fetched = await repo.get(item.id or 0)
    assert fetched is not None and fetched.raw_text == text


async def test_transition_follows_the_state_machine(database: Database) -> None:
    repo = ItemRepository(database)
    item, _ = await repo.create(item=_item(), actor="d")
    assert item.id is not None
    assert await repo.transition(item_id=item.id, to=ItemStatus.FILED, actor="x") is None
    moved = await repo.transition(
        item_id=item.id, to=ItemStatus.TRIAGING, actor="graph", kind="bug"
    )
    assert moved is not None and moved.status == ItemStatus.TRIAGING and moved.kind == "bug"
    events = await repo.events(item.id)
    assert [(e.from_status, e.to_status) for e in events] == [
        (None, ItemStatus.RECEIVED),
        (ItemStatus.RECEIVED, ItemStatus.TRIAGING),
    ]
    assert events[-1].actor == "graph"


async def test_expected_status_narrows_the_move(database: Database) -> None:
    repo = ItemRepository(database)
    item, _ = await repo.create(item=_item(), actor="d")
    assert item.id is not None
    refused = await repo.transition(
        item_id=item.id, to=ItemStatus.TRIAGING, actor="x", expected=[ItemStatus.FAILED]
    )
    assert refused is None


async def test_unknown_target_status_is_refused(database: Database) -> None:
    repo = ItemRepository(database)
    with pytest.raises(IllegalTransitionError):
        await repo.transition(item_id=1, to="nonsense", actor="x")  # type: ignore[arg-type]


async def test_racing_transitions_exactly_one_wins(database: Database) -> None:
    repo = ItemRepository(database)
    item, _ = await repo.create(item=_item(), actor="d")
    assert item.id is not None
    await repo.transition(item_id=item.id, to=ItemStatus.TRIAGING, actor="g")
    await repo.transition(item_id=item.id, to=ItemStatus.AWAITING_REVIEW, actor="g")
    targets = [ItemStatus.APPROVED, ItemStatus.REJECTED, ItemStatus.DUPLICATE] * 10
    results = await asyncio.gather(
        *(repo.transition(item_id=item.id, to=t, actor=f"m{i}") for i, t in enumerate(targets))
    )
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    final = await repo.get(item.id)
    assert final is not None and final.status == winners[0].status
    decisions = [e for e in await repo.events(item.id) if e.from_status == "awaiting_review"]
    assert len(decisions) == 1


async def test_a_move_from_one_expected_status_has_one_winner_across_processes(
    database: Database,
) -> None:
    """Two `Database` objects stand for two bot processes sharing the database."""
    other = Database(database.url)
    try:
        repos = [ItemRepository(database), ItemRepository(other)]
        item, _ = await repos[0].create(item=_item(), actor="d")
        assert item.id is not None
        results = await asyncio.gather(
            *(
                repos[i % 2].transition(
                    item_id=item.id,
                    to=ItemStatus.TRIAGING,
                    actor=f"g{i}",
                    expected=[ItemStatus.RECEIVED],
                    kind="bug",
                )
                for i in range(20)
            )
        )
    finally:
        await other.close()
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert winners[0].status == ItemStatus.TRIAGING and winners[0].kind == "bug"
    moves = [e for e in await repos[0].events(item.id) if e.to_status == ItemStatus.TRIAGING]
    assert [e.from_status for e in moves] == [ItemStatus.RECEIVED]


async def test_of_edits_made_on_one_draft_revision_across_processes_one_is_accepted(
    database: Database,
) -> None:
    other = Database(database.url)
    try:
        repos = [ItemRepository(database), ItemRepository(other)]
        item, _ = await repos[0].create(item=_item(), actor="d")
        assert item.id is not None
        await repos[0].transition(item_id=item.id, to=ItemStatus.TRIAGING, actor="g")
        drafted = await repos[0].transition(
            item_id=item.id,
            to=ItemStatus.AWAITING_REVIEW,
            actor="g",
            spec={"title": "Login crashes"},
            draft=DraftChange(),
        )
        assert drafted is not None and drafted.draft_revision == 1
        results = await asyncio.gather(
            *(
                repos[i % 2].transition(
                    item_id=item.id,
                    to=ItemStatus.AWAITING_REVIEW,
                    actor=f"m{i}",
                    expected=[ItemStatus.AWAITING_REVIEW],
                    draft=DraftChange(from_revision=1),
                )
                for i in range(20)
            )
        )
    finally:
        await other.close()
    winners = [r for r in results if r is not None]
    assert len(winners) == 1 and winners[0].draft_revision == 2
    folded = await repos[0].update_fields(item_id=item.id, spec={"title": "x"}, draft=DraftChange())
    assert folded is not None and folded.draft_revision == 3
    stale = await repos[0].transition(
        item_id=item.id,
        to=ItemStatus.AWAITING_REVIEW,
        actor="late",
        draft=DraftChange(from_revision=2),
    )
    assert stale is None


async def test_counts_and_listing(database: Database) -> None:
    repo = ItemRepository(database)
    for n in range(3):
        await repo.create(item=_item(key=f"message:{n}"), actor="d")
    item, _ = await repo.create(item=_item(key="message:9"), actor="d")
    assert item.id is not None
    await repo.transition(item_id=item.id, to=ItemStatus.TRIAGING, actor="g")
    assert await repo.counts_by_status() == {"received": 3, "triaging": 1}
    assert len(await repo.list_open()) == 4
    oldest = await repo.oldest_in(ItemStatus.RECEIVED)
    assert oldest is not None and oldest.source_key == "message:0"


async def test_concurrent_events_are_all_committed_and_a_bad_one_fails_alone(
    database: Database,
) -> None:
    repo = ItemRepository(database)
    item, _ = await repo.create(item=_item(), actor="d")
    assert item.id is not None
    results = await asyncio.gather(
        *(repo.record_event(item_id=item.id, actor="graph", action=f"node:{n}") for n in range(30)),
        repo.record_event(item_id=2**31 - 2, actor="graph", action="node:orphan"),
        return_exceptions=True,
    )
    assert results[:30] == [None] * 30
    assert isinstance(results[30], Exception), "an event for no item violates the foreign key"
    actions = [event.action for event in await repo.events(item.id)]
    assert actions == ["received"] + [f"node:{n}" for n in range(30)]


async def test_an_update_of_a_missing_item_returns_none(database: Database) -> None:
    repo = ItemRepository(database)
    assert await repo.update_fields(item_id=12345, kind="bug") is None
    assert await repo.update_fields(item_id=0, kind="bug") is None


async def test_status_queries_of_one_guild_leave_the_others_out(database: Database) -> None:
    repo = ItemRepository(database)
    ids = {}
    for guild, key in ((10, "message:a"), (11, "message:b"), (10, "message:c")):
        base = _item(key=key).model_copy(update={"guild_id": guild})
        item, _ = await repo.create(item=base, actor="d")
        assert item.id is not None
        ids[key] = item.id
    filed = ids["message:b"]
    for status in (ItemStatus.TRIAGING, ItemStatus.AWAITING_REVIEW, ItemStatus.APPROVED):
        await repo.transition(item_id=filed, to=status, actor="g")
    await repo.transition(item_id=filed, to=ItemStatus.FILING, actor="g")
    await repo.transition(item_id=filed, to=ItemStatus.FILED, actor="g")
    for key in ("message:c", "message:a"):
        await repo.transition(item_id=ids[key], to=ItemStatus.TRIAGING, actor="g")
        await repo.transition(item_id=ids[key], to=ItemStatus.AWAITING_REVIEW, actor="g")

    since = datetime.now(UTC) - timedelta(hours=1)
    assert await repo.count_transitions_since(since, [ItemStatus.FILED]) == 1
    assert await repo.count_transitions_since(since, [ItemStatus.FILED], guild_id=10) == 0
    assert await repo.count_transitions_since(since, [ItemStatus.FILED], guild_id=11) == 1
    waiting = await repo.oldest_in(ItemStatus.AWAITING_REVIEW, guild_id=10)
    assert waiting is not None and waiting.id == ids["message:c"]
    assert await repo.oldest_in(ItemStatus.AWAITING_REVIEW, guild_id=11) is None
