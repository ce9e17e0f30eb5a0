"""CommentMirrorRepository on SQLite and PostgreSQL: each mirrored once, forgotten with items."""

from __future__ import annotations

from storage.comment_mirrors import COMMENT_TO_DISCORD, COMMENT_TO_GITHUB, CommentMirrorRepository
from storage.db import Database
from storage.forgetting import DataSubject
from storage.items import ItemRepository
from storage.models import FeedbackItemBase
from storage.outbox import OutboxRepository, Owed


async def _item_id(database: Database, key: str) -> int:
    item, _ = await ItemRepository(database).create(
        item=FeedbackItemBase(
            source_kind="channel",
            source_key=key,
            guild_id=10,
            channel_id=20,
            message_id=30,
            author_id=40,
            author_name="ana",
            raw_text="Export crashes",
        ),
        actor="discord",
    )
    assert item.id is not None
    return item.id


async def test_each_comment_is_owed_once_per_item(database: Database) -> None:
    mirrors, outbox = CommentMirrorRepository(database), OutboxRepository(database)
    first, second = await _item_id(database, "message:1"), await _item_id(database, "message:2")
    shown = Owed(COMMENT_TO_DISCORD, {"text": "hello"})
    assert await mirrors.record(
        item_id=first, guild_id=10, source="github", source_id=7, owed=shown
    )
    assert not await mirrors.record(
        item_id=first, guild_id=10, source="github", source_id=7, owed=shown
    )
    assert await mirrors.record(
        item_id=second, guild_id=10, source="github", source_id=7, owed=shown
    ), "the same comment goes to every item linked to the issue"
    rows = await outbox.pending(item_id=first)
    assert [(r.kind, r.payload["text"]) for r in rows] == [(COMMENT_TO_DISCORD, "hello")]

    mirror_id = int(rows[0].payload["mirror_id"])
    await mirrors.delivered(mirror_id, mirrored_id=555, thread_id=30)
    assert await mirrors.is_bot_mirror(555) and not await mirrors.is_bot_mirror(7)
    assert await mirrors.item_of_thread(30) == first


async def test_forgetting_removes_the_rows_of_the_items_but_not_for_texts_only(
    database: Database,
) -> None:
    mirrors = CommentMirrorRepository(database)
    item_id = await _item_id(database, "message:1")
    owed = Owed(COMMENT_TO_GITHUB, {"body": "quoted"})
    await mirrors.record(item_id=item_id, guild_id=10, source="discord", source_id=9, owed=owed)
    assert await mirrors.forget(DataSubject(item_ids=(item_id,), keep_items=True)) == 0
    assert await mirrors.forget(DataSubject(item_ids=(item_id,), user_id=40)) == 1
    assert await mirrors.record(
        item_id=item_id, guild_id=10, source="discord", source_id=9, owed=owed
    ), "the record is gone"
    assert await mirrors.forget(DataSubject(guild_id=10)) == 1
