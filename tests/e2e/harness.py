"""Process-level harness: `python -m bot` against fakes served by the test process.

A plain module (not the conftest) so that tests and fixtures share one copy of it.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.sandbox.discord import FakeDiscord, FakeInteraction, FakeUser, StoredMessage
from bot.sandbox.fake_github import FakeGitHub, FakeIssue
from bot.sandbox.fake_openai import FakeOpenAI
from bot.sandbox.process import BotProcess
from bot.sandbox.stack import (
    INTERACTION_DEADLINE_SECONDS,
    SANDBOX_OPENAI_KEY,
    SANDBOX_REPO,
    sandbox_env,
)
from storage.db import Database
from storage.items import ItemRepository
from storage.models import FeedbackItem, ItemStatus
from tests.conftest import create_pg_database, drop_pg_database

T = TypeVar("T")

WAIT = 60.0
ISSUE_CREATE = f"POST /repos/{SANDBOX_REPO}/issues"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
#: Two triage starts per user per 8 s, so a burst of three messages defers the third.
SHARED_ENV = {"RATE_LIMIT_ITEMS": "2", "RATE_LIMIT_WINDOW": "8s"}
#: Every bot process started by `deployment`, for the failure report.
PROCESSES: list[BotProcess] = []
_user_numbers = itertools.count(1)
#: Steps, expected/actual and environment: enough that the bot does not ask for more details.
DETAILS = (
    " Steps: open it and try again. I expected it to work, but it did not."
    " Version 2.4.1 on Windows 11."
)


def complete(summary: str) -> str:
    """A bug report with the parts a maintainer needs, built around `summary`."""
    return summary + DETAILS


@dataclass
class Deployment:
    """A bot process, the fakes it talks to, and read access to its database."""

    discord: FakeDiscord
    github: FakeGitHub
    openai: FakeOpenAI | None
    process: BotProcess
    db: Database
    maintainer: FakeUser
    env: dict[str, str]
    items: ItemRepository = field(init=False)

    def __post_init__(self) -> None:
        self.items = ItemRepository(self.db)

    @property
    def repo(self) -> str:
        """`owner/name` issues are filed in."""
        return SANDBOX_REPO

    # -- people and messages --------------------------------------------------------------

    def new_user(self, prefix: str = "member") -> FakeUser:
        """A fresh guild member without roles (own rate-limit budget)."""
        return self.discord.add_user(f"{prefix}-{next(_user_numbers)}")

    async def post(self, author: FakeUser, text: str) -> int:
        """Post in the feedback channel; returns the message id."""
        payload = await self.discord.post_message(self.discord.feedback_channel_id, author, text)
        return int(payload["id"])

    # -- the database, read from outside --------------------------------------------------

    async def poll(
        self, check: Callable[[], Awaitable[T | None]], *, within: float = WAIT, what: str
    ) -> T:
        """Await `check()` every 0.1 s until it returns something truthy."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            result = await check()
            if result:
                return result
            if not self.process.alive:
                raise AssertionError(
                    f"the bot died (exit {self.process.returncode}) while waiting for {what}"
                )
            if loop.time() >= deadline:
                raise TimeoutError(f"timed out after {within:.0f}s waiting for {what}")
            await asyncio.sleep(0.1)

    async def item_of(self, message_id: int, *, within: float = WAIT) -> FeedbackItem:
        """The item recorded for a feedback-channel message."""
        return await self.poll(
            lambda: self.items.get_by_source(f"message:{message_id}"),
            within=within,
            what=f"the item of message {message_id}",
        )

    async def wait_item(
        self,
        item_id: int,
        predicate: Callable[[FeedbackItem], bool],
        *,
        within: float = WAIT,
        what: str = "a change",
    ) -> FeedbackItem:
        """The item once `predicate` holds."""

        async def check() -> FeedbackItem | None:
            item = await self.items.get(item_id)
            return item if item is not None and predicate(item) else None

        try:
            return await self.poll(check, within=within, what=f"item {item_id}: {what}")
        except TimeoutError as exc:
            await self.process.dump_state()  # threads and tasks, in the attached bot log
            raise TimeoutError(f"{exc}; {await self.describe(item_id)}") from None

    async def describe(self, item_id: int) -> str:
        """Where an item is and its last audit events, for a failure message."""
        item = await self.items.get(item_id)
        if item is None:
            return "the item does not exist"
        events = await self.items.events(item_id)
        trail = "; ".join(
            f"{e.action} {e.from_status or ''}->{e.to_status or ''} {e.details}"
            for e in events[-8:]
        )
        return f"it is {item.status} (flow_done={item.flow_done}), last events: {trail}"

    async def wait_status(
        self, item_id: int, *statuses: ItemStatus, within: float = WAIT
    ) -> FeedbackItem:
        """The item once it is in one of `statuses`."""
        wanted = set(statuses)
        return await self.wait_item(
            item_id,
            lambda i: ItemStatus(i.status) in wanted,
            within=within,
            what=f"status in {sorted(wanted)}",
        )

    # -- the review message ---------------------------------------------------------------

    def review_messages_for(self, item_id: int) -> list[StoredMessage]:
        """Review messages about `item_id` in the review channel (should be exactly one)."""
        marker = f"Item #{item_id} ·"
        return [
            m
            for m in self.discord.messages_in(self.discord.review_channel_id)
            if m.author_id == self.discord.bot_user_id
            and any(marker in str((e.get("footer") or {}).get("text", "")) for e in m.embeds)
        ]

    async def review_of(self, item_id: int, *, within: float = WAIT) -> StoredMessage:
        """The item's review message once it is posted and carries the buttons."""
        item = await self.wait_item(
            item_id,
            lambda i: i.review_message_id is not None,
            within=within,
            what="its review message",
        )
        assert item.review_message_id is not None
        review_id = item.review_message_id
        return await self.discord.state.signal.wait_for(
            lambda: self.discord.message(review_id), within, f"review message {review_id}"
        )

    async def report(
        self, text: str, author: FakeUser | None = None
    ) -> tuple[FeedbackItem, StoredMessage]:
        """Post feedback and wait for its review; returns the item and the review message."""
        message_id = await self.post(author or self.new_user("reporter"), text)
        received = await self.item_of(message_id)
        assert received.id is not None
        item = await self.wait_status(received.id, ItemStatus.AWAITING_REVIEW)
        return item, await self.review_of(received.id)

    async def click(
        self, review: StoredMessage, action: str, item_id: int, user: FakeUser | None = None
    ) -> FakeInteraction:
        """Click a review button as the message shows it now; returns once the bot sent its
        first response."""
        shown = self.discord.component_id(review.id, f"approvals:{action}:{item_id}")
        interaction = await self.discord.click_button(review.id, shown, user or self.maintainer)
        await interaction.wait_response(timeout=10)
        return interaction

    async def submit(
        self,
        opened: FakeInteraction,
        fields: Mapping[str, str],
        review: StoredMessage,
        user: FakeUser | None = None,
    ) -> FakeInteraction:
        """Submit the modal that `opened` showed; inputs not in `fields` keep their defaults."""
        modal = opened.callback
        assert modal is not None and modal.type == 9, f"expected a modal, got {modal}"
        assert modal.custom_id is not None
        values = {**modal_defaults(modal.data), **fields}
        interaction = await self.discord.submit_modal(
            modal.custom_id, values, user or self.maintainer, message_id=review.id
        )
        await interaction.wait_response(timeout=10)
        return interaction

    @staticmethod
    async def answer(interaction: FakeInteraction, *, within: float = WAIT) -> str:
        """The text the user finally saw (first response or followup)."""
        response = await interaction.wait_for(lambda r: bool(r.content), timeout=within)
        return response.content or ""

    # -- outcomes -------------------------------------------------------------------------

    def issues_for(self, item_id: int) -> list[FakeIssue]:
        """Issues whose body carries the item's marker."""
        marker = f"<!-- iterateswarm:item:{item_id} -->"
        return [i for i in self.github.issues_in(self.repo) if marker in (i.body or "")]

    def notices_to_reporter(self, item: FeedbackItem) -> list[StoredMessage]:
        """Bot replies to the reporter's message, and bot DMs to the reporter."""
        replies = [
            m
            for m in self.discord.messages_in(item.channel_id or 0)
            if m.author_id == self.discord.bot_user_id
            and str((m.payload.get("message_reference") or {}).get("message_id"))
            == str(item.message_id)
        ]
        return replies + self.discord.dms_to(item.author_id or 0)

    async def notice_to_reporter(self, item: FeedbackItem, *, within: float = WAIT) -> str:
        """Text of the first notice the reporter got."""
        found = await self.discord.state.signal.wait_for(
            lambda: self.notices_to_reporter(item) or None, within, "a notice to the reporter"
        )
        return found[0].content


def modal_defaults(modal: Mapping[str, Any]) -> dict[str, str]:
    """Pre-filled value of each text input of a modal, as a Discord client submits them."""
    found: dict[str, str] = {}

    def walk(components: list[Any]) -> None:
        for component in components:
            if component.get("type") == 4 and component.get("custom_id"):
                found[str(component["custom_id"])] = str(component.get("value") or "")
            walk(component.get("components") or [])
            if isinstance(component.get("component"), dict):
                walk([component["component"]])

    walk(list(modal.get("components") or []))
    return found


def embed_text(message: StoredMessage) -> str:
    """Every visible string of a message's embeds, joined (for assertions)."""
    parts: list[str] = [message.content]
    for embed in message.embeds:
        parts += [str(embed.get("title") or ""), str(embed.get("description") or "")]
        parts += [f"{f.get('name')}: {f.get('value')}" for f in embed.get("fields") or []]
        parts.append(str((embed.get("footer") or {}).get("text") or ""))
        parts.append(str((embed.get("author") or {}).get("name") or ""))
    return "\n".join(parts)


def field_value(message: StoredMessage, name: str) -> str | None:
    """Value of the first embed field called `name`."""
    for embed in message.embeds:
        for item in embed.get("fields") or []:
            if item.get("name") == name:
                return str(item.get("value"))
    return None


def strip_escapes(text: str) -> str:
    """Markdown escapes removed, to compare embed text with what was written."""
    return re.sub(r"\\(.)", r"\1", text)


@asynccontextmanager
async def deployment(
    workdir: Path,
    *,
    backend: str,
    llm: bool = False,
    extra_env: Mapping[str, str] | None = None,
) -> AsyncIterator[Deployment]:
    """Fresh fakes, a fresh database and a started bot process; everything stopped on exit."""
    async with AsyncExitStack() as stack:
        discord = await stack.enter_async_context(
            FakeDiscord(interaction_deadline=INTERACTION_DEADLINE_SECONDS)
        )
        github = await stack.enter_async_context(FakeGitHub(repos=(SANDBOX_REPO,)))
        openai = None
        if llm:
            openai = await stack.enter_async_context(
                FakeOpenAI(api_key=SANDBOX_OPENAI_KEY, hang_seconds=20)
            )
        database_url = None
        if backend == "postgres":
            database_url = await create_pg_database()
            stack.push_async_callback(drop_pg_database, database_url)
        data_dir = workdir / "data"
        env = sandbox_env(
            discord=discord,
            github=github,
            data_dir=data_dir,
            database_url=database_url,
            openai=openai,
            extra_env={"LOG_FORMAT": "json", "LOG_LEVEL": "INFO", **(extra_env or {})},
        )
        process = BotProcess(
            env, discord=discord, log_path=workdir / "bot.log", workdir=workdir / "cwd"
        )
        PROCESSES.append(process)
        stack.push_async_callback(process.stop)
        url = database_url or f"sqlite+aiosqlite:///{(data_dir / 'iterateswarm.sqlite3').resolve()}"
        db = Database(url, pool_size=2)
        stack.push_async_callback(db.close)
        maintainer = discord.add_user("maya-maintainer", roles=[discord.maintainer_role_id])
        await process.start()
        yield Deployment(
            discord=discord,
            github=github,
            openai=openai,
            process=process,
            db=db,
            maintainer=maintainer,
            env=env,
        )
