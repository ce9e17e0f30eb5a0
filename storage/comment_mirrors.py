"""Repository for comment mirrors: what was mirrored between an issue and its Discord thread.

Each GitHub comment (per item) and each reporter message is recorded once, in the same
transaction as the outbox row that delivers it (`storage.outbox`), so a re-sync, a gateway
replay or a restart never mirrors anything twice, and a crash loses nothing.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import Connection, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col

from storage.db import Database
from storage.forgetting import DataSubject, chunks
from storage.models import CommentMirror, utcnow
from storage.outbox import Owed, add_owed

#: Outbox kind: show an issue comment in the item's Discord post or thread.
COMMENT_TO_DISCORD = "comment_to_discord"
#: Outbox kind: post the reporter's Discord message as a comment on the issue.
COMMENT_TO_GITHUB = "comment_to_github"

Source = Literal["github", "discord"]
_TABLE = CommentMirror.__table__  # type: ignore[attr-defined]


class CommentMirrorRepository:
    """Record mirrored comments and messages; forget them with their items."""

    name = "comment mirrors"

    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(
        self,
        *,
        item_id: int,
        guild_id: int | None,
        source: Source,
        source_id: int,
        owed: Owed,
        thread_id: int | None = None,
    ) -> bool:
        """Record one comment or message and owe its delivery; False if it was recorded before.

        The outbox row's payload gets `mirror_id`, the row to mark once delivered.
        """
        dialect = postgresql if self.db.backend == "postgresql" else sqlite
        stmt = (
            dialect.insert(_TABLE)
            .values(
                item_id=item_id,
                guild_id=guild_id,
                source=source,
                source_id=source_id,
                thread_id=thread_id,
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["item_id", "source", "source_id"])
            .returning(_TABLE.c.id)
        )

        def work(conn: Connection) -> bool:
            row = conn.execute(stmt).first()
            if row is None:
                return False
            payload: dict[str, Any] = {**owed.payload, "mirror_id": int(row.id)}
            add_owed(conn, item_id=item_id, guild_id=guild_id, owed=[Owed(owed.kind, payload)])
            return True

        return bool(await self.db.write(work))

    async def delivered(
        self, mirror_id: int, *, mirrored_id: int | None, thread_id: int | None
    ) -> None:
        """What the bot wrote on the other side (a Discord message id), and where."""
        values: dict[str, Any] = {"mirrored_id": mirrored_id}
        if thread_id is not None:
            values["thread_id"] = thread_id
        stmt = update(_TABLE).where(_TABLE.c.id == mirror_id).values(**values)
        await self.db.write(lambda conn: conn.execute(stmt))

    async def is_bot_mirror(self, message_id: int) -> bool:
        """Whether the Discord message is one the bot wrote when mirroring a comment."""
        stmt = select(_TABLE.c.id).where(_TABLE.c.mirrored_id == message_id).limit(1)
        return await self.db.read(lambda conn: conn.execute(stmt).first() is not None)

    async def item_of_thread(self, thread_id: int) -> int | None:
        """The item whose comments are shown in this thread, if the bot opened one for it."""
        stmt = select(_TABLE.c.item_id).where(_TABLE.c.thread_id == thread_id).limit(1)
        row = await self.db.read(lambda conn: conn.execute(stmt).first())
        return int(row.item_id) if row is not None else None

    async def forget(self, subject: DataSubject) -> int:
        """Rows of the subject's items (kept when only texts go: they hold ids, no text)."""
        removed = 0
        if not subject.keep_items:
            for chunk in chunks(subject.item_ids):
                removed += await self._delete(col(CommentMirror.item_id).in_(chunk))
        if subject.guild_id is not None:
            removed += await self._delete(col(CommentMirror.guild_id) == subject.guild_id)
        return removed

    async def _delete(self, *conditions: Any) -> int:
        stmt = delete(_TABLE).where(or_(*conditions))
        return int(await self.db.write(lambda conn: conn.execute(stmt).rowcount))
