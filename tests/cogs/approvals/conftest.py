"""Fixtures for the approvals tests: the real bot in-process against the loopback fakes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.github import RetryPolicy
from bot.sandbox.discord import FakeInteraction, FakeUser, InteractionResponse, StoredMessage
from bot.sandbox.stack import Sandbox, sandbox_stack
from cogs.approvals._views import custom_id_for, parse_custom_id
from storage.embeddings import Embedder
from storage.models import FeedbackItem
from storage.outbox import OutboxRepository

BUG_REPORT = (
    "The app crashes every time I click the Export button on the settings page. "
    "I expected a CSV file to download but the whole window closes with an error."
)
FAST_RETRIES = RetryPolicy(attempts=3, base_delay=0.05, max_delay=0.1, max_total_wait=2.0)
WAIT = 30.0


@pytest.fixture(scope="session")
def sentence_model(embedder: Embedder) -> Any:
    """The session's loaded embedding model, shared by every sandbox bot."""
    return embedder.model


@pytest.fixture
async def sb(tmp_path: Path, sentence_model: Any) -> AsyncIterator[Sandbox]:
    """A running bot wired to fresh fakes, SQLite under a temporary data dir."""
    async with sandbox_stack(
        data_dir=tmp_path / "data", model=sentence_model, github_retry=FAST_RETRIES
    ) as sandbox:
        yield sandbox


class Flow:
    """Steps shared by the tests: report feedback, find the review message, click, submit."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb

    async def report(
        self, text: str = BUG_REPORT, author: FakeUser | None = None
    ) -> tuple[FeedbackItem, StoredMessage]:
        """Post feedback in the feedback channel; return the item and its review message."""
        posted = await self.sb.discord.post_message(
            self.sb.discord.feedback_channel_id, author or self.sb.reporter, text
        )
        item = await self.sb.wait_for_item_from_message(int(posted["id"]), within=WAIT)
        assert item.id is not None
        review_id = await self.sb.wait_for_review_message(item.id, within=WAIT)
        review = self.sb.discord.message(review_id)
        assert review is not None
        fresh = await self.sb.item(item.id)
        assert fresh is not None
        return fresh, review

    async def click(
        self, review: StoredMessage, action: str, item_id: int, user: FakeUser | None = None
    ) -> FakeInteraction:
        """Click the `approvals:<action>:<item id>` button the review message shows now."""
        shown = self.sb.discord.component_id(review.id, f"approvals:{action}:{item_id}")
        interaction = await self.sb.discord.click_button(
            review.id, shown, user or self.sb.maintainer
        )
        await interaction.wait_response(timeout=5)
        return interaction

    async def answer(self, interaction: FakeInteraction) -> str:
        """The ephemeral text the clicker finally saw."""
        response = await interaction.wait_for(
            lambda r: bool(r.content) and (r.ephemeral or r.kind != "callback"), timeout=WAIT
        )
        return response.content or ""

    async def submit(
        self,
        opened: FakeInteraction,
        fields: dict[str, str],
        review: StoredMessage,
        user: FakeUser | None = None,
    ) -> FakeInteraction:
        """Submit the modal that `opened` showed."""
        modal = opened.callback
        assert modal is not None and modal.type == 9, "expected a modal"
        assert modal.custom_id is not None
        interaction = await self.sb.discord.submit_modal(
            modal.custom_id, fields, user or self.sb.maintainer, message_id=review.id
        )
        await interaction.wait_response(timeout=5)
        return interaction

    async def submit_as_shown(
        self,
        opened: FakeInteraction,
        changes: dict[str, str],
        review: StoredMessage,
        user: FakeUser | None = None,
    ) -> FakeInteraction:
        """Submit the modal as Discord does: each input keeps its pre-filled text unless changed."""
        modal = opened.callback
        assert modal is not None and modal.type == 9, "expected a modal"
        return await self.submit(opened, {**prefilled(modal), **changes}, review, user)

    async def delivered(self, item_id: int) -> None:
        """Wait until nothing the finished item owes (outbox) is pending any more."""
        outbox = OutboxRepository(self.sb.services.db)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT
        while await outbox.pending(item_id=item_id):
            assert loop.time() < deadline, f"item {item_id}: outbox rows still pending"
            await asyncio.sleep(0.05)

    async def shows_current_draft(self, review_id: int, item_id: int) -> None:
        """Wait until the review message shows the draft as stored (an Edit folded in)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT
        while True:
            item, stored = await self.sb.item(item_id), self.sb.discord.message(review_id)
            if item is not None and stored is not None:
                current = await self.sb.services.runner.fingerprint(item)
                if current in {parse_custom_id(c).fingerprint for c in stored.custom_ids()}:
                    return
            assert loop.time() < deadline, f"review {review_id} never showed the current draft"
            await asyncio.sleep(0.05)

    def approvals_buttons(self, message_id: int) -> list[str]:
        """Ids of the approval buttons still on a message, without their fingerprints."""
        stored = self.sb.discord.message(message_id)
        assert stored is not None
        ids = (parse_custom_id(c) for c in stored.custom_ids() if c.startswith("approvals:"))
        return [custom_id_for(i.action, i.item_id) for i in ids if i.action and i.item_id]

    def issues(self) -> list[Any]:
        """Issues in the sandbox repository."""
        return self.sb.github.issues_in(self.sb.repo)


def prefilled(modal: InteractionResponse) -> dict[str, str]:
    """The text each input of a modal the bot opened is pre-filled with, by custom_id."""
    found: dict[str, str] = {}
    for row in modal.components:
        for component in row.get("components") or [row.get("component") or {}]:
            if component.get("type") == 4 and component.get("custom_id"):
                found[component["custom_id"]] = str(component.get("value") or "")
    return found


@pytest.fixture
def flow(sb: Sandbox) -> Flow:
    """Shared steps bound to the running sandbox."""
    return Flow(sb)


@pytest.fixture
def flow_for() -> type[Flow]:
    """Build shared steps for a sandbox made by the test itself."""
    return Flow
