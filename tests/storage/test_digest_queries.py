"""The digest's aggregate queries, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from storage.db import Database
from storage.digest import CANDIDATE_TEXT_CHARS, DigestRepository
from storage.items import ItemRepository
from storage.models import FeedbackItemBase, ItemStatus, utcnow

GUILD = 42


async def _item(items: ItemRepository, n: int, *, guild: int = GUILD, text: str = "") -> int:
    base = FeedbackItemBase(
        source_kind="channel",
        source_key=f"message:{n}",
        guild_id=guild,
        author_id=n,
        raw_text=text or f"report {n}",
    )
    item, _ = await items.create(item=base, actor="test")
    assert item.id is not None
    return item.id


async def test_counts_are_grouped_in_the_database(database: Database) -> None:
    items, digest = ItemRepository(database), DigestRepository(database)
    bug = await _item(items, 1)
    other_bug = await _item(items, 2)
    praise = await _item(items, 3)
    await _item(items, 4)  # not triaged yet
    await _item(items, 5, guild=7)  # another guild
    for item_id, kind, severity, actionable in (
        (bug, "bug", "high", True),
        (other_bug, "bug", "low", True),
        (praise, "feature", "low", False),
    ):
        await items.update_fields(
            item_id=item_id, kind=kind, severity=severity, actionable=actionable
        )
    since, until = utcnow() - timedelta(hours=1), utcnow() + timedelta(hours=1)
    assert await digest.count_created(GUILD, since, until) == 4
    assert await digest.kind_counts(GUILD, since, until) == {
        "bug": 2,
        "feature": 1,
        "untriaged": 1,
    }
    assert await digest.severity_counts(GUILD, since, until) == {"high": 1, "low": 1}
    assert await digest.count_created(GUILD, until, until + timedelta(hours=1)) == 0


async def test_theme_candidates_are_the_newest_actionable_items_cut_short(
    database: Database,
) -> None:
    items, digest = ItemRepository(database), DigestRepository(database)
    ids = [await _item(items, n, text="ü" * 2000 if n == 3 else "") for n in range(1, 6)]
    await items.update_fields(item_id=ids[0], actionable=False)
    moved = await items.transition(item_id=ids[1], to=ItemStatus.TRIAGING, actor="t")
    assert moved is not None
    await items.transition(item_id=ids[1], to=ItemStatus.NOT_ACTIONABLE, actor="t")
    since, until = utcnow() - timedelta(hours=1), utcnow() + timedelta(hours=1)
    found = await digest.theme_candidates(GUILD, since, until, limit=2)
    assert [c.item_id for c in found] == ids[3:]
    everything = await digest.theme_candidates(GUILD, since, until, limit=100)
    assert [c.item_id for c in everything] == ids[2:]
    assert everything[0].text == "ü" * CANDIDATE_TEXT_CHARS
    shown = await digest.items([ids[4], 999_999, ids[2]])
    assert [i.id for i in shown] == [ids[4], ids[2]]
