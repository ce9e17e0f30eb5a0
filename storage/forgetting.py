"""Forgetting: whose data goes, and the one method every store of personal data implements.

A store (say, the outbox, whose rows carry item ids and message text) plugs into
`bot.personal_data.PersonalData` by implementing `PersonalDataStore.forget`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

#: What a forgotten person's name becomes where a row is kept (audit trail, decisions).
FORGOTTEN = "forgotten"
#: Ids per IN (...) clause when many items go at once (a departed guild).
CHUNK = 500

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class DataSubject:
    """Whose data to remove, resolved to item ids by `bot.personal_data`.

    Attributes:
        item_ids: The items to remove (a person's, a guild's, or finished ones).
        user_id: The person whose name and id are removed wherever else they appear.
        names: The person's Discord usernames as they appear as actors.
        guild_id: Set when a whole guild's data goes (configuration, examples, digests).
        keep_items: Remove the texts only: item rows stay, emptied (retention, withdrawal).
    """

    item_ids: tuple[int, ...] = ()
    user_id: int | None = None
    names: frozenset[str] = field(default_factory=frozenset)
    guild_id: int | None = None
    keep_items: bool = False

    @property
    def is_person(self) -> bool:
        """Whether a person (not only items or a guild) is forgotten."""
        return self.user_id is not None or bool(self.names)


class PersonalDataStore(Protocol):
    """A store that keeps personal data and can forget it."""

    #: Short name shown in the report of what was removed.
    name: str

    async def forget(self, subject: DataSubject) -> int:
        """Remove (or anonymise) what this store keeps about `subject`.

        Items of `subject.item_ids` go entirely unless `subject.keep_items`; a store whose
        rows only make sense with their item deletes them either way.

        Returns:
            How many records were removed or anonymised.
        """
        ...


def chunks(values: Sequence[T], size: int = CHUNK) -> Iterator[list[T]]:
    """`values` in lists of at most `size`."""
    for start in range(0, len(values), size):
        yield list(values[start : start + size])
