"""The demo's forum scene: one post in a forum feedback channel, from the report to its release."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from storage.models import ItemStatus

if TYPE_CHECKING:
    from bot.demo import Transcript
    from bot.sandbox.stack import Sandbox

T = TypeVar("T")
FORUM_NAME = "bug-reports"
FORUM_TAGS = ("bug", "feature", "question", "tracked", "duplicate", "declined", "resolved")
TITLE = "Uploads over 10 MB fail silently"
STARTER = (
    "When I attach a file larger than 10 MB to a task, the progress bar reaches 100% and then "
    "the attachment just disappears. I expected the upload to finish or an error to say why. "
    "Version 2.3.1 on Firefox."
)
REPLY = "Same for me on Chrome, and the browser console shows a 413 error."


def add_forum(sb: Sandbox) -> int:
    """Create the demo's forum channel (before the bot connects); returns its id."""
    return int(sb.discord.add_forum_channel(FORUM_NAME, tags=FORUM_TAGS)["id"])


class ForumScene:
    """A post is reviewed, filed, tagged, and resolved and archived when its issue is closed."""

    def __init__(self, sb: Sandbox, transcript: Transcript, forum_id: int, timeout: float) -> None:
        self.sb = sb
        self.t = transcript
        self.forum_id = forum_id
        self.timeout = timeout

    async def _until(self, check: Callable[[], T | None], what: str) -> T:
        return await self.sb.discord.state.signal.wait_for(check, self.timeout, what)

    def _state(self, post_id: int) -> str:
        tags = ", ".join(self.sb.discord.post_tags(post_id)) or "none"
        archived = "archived" if self.sb.discord.post_archived(post_id) else "open"
        return f"tags: {tags} · {archived}"

    def _bot_reply(self, post_id: int, words: str) -> str | None:
        for message in self.sb.discord.messages_in(post_id):
            if message.author_id == self.sb.discord.bot_user_id and words in message.content:
                return message.content
        return None

    async def run(self) -> None:
        """Every step of the post's life, narrated."""
        sb = self.sb
        self.t.heading(f"A forum post's whole life in #{FORUM_NAME}")
        author, helper = sb.discord.add_user("kim-uploader"), sb.discord.add_user("lee-helper")
        post = await sb.discord.create_forum_post(
            self.forum_id, author, TITLE, STARTER, tags=["bug"]
        )
        post_id = int(post["id"])
        await sb.discord.post_message(post_id, helper, REPLY)
        self.t.say()
        self.t.say(f"🧵 {author.name} opens a post tagged 'bug': {TITLE}")
        self.t.quote(STARTER)
        self.t.say(f"   {helper.name} replies: {REPLY}")
        item = await sb.wait_for_item_from_message(post_id, within=self.timeout)
        assert item.id is not None
        await sb.wait_for_review_message(item.id, within=self.timeout)
        reviewed = await sb.item(item.id) or item
        self.t.say(
            f"   → one item, #{item.id}: kind hint {reviewed.kind_hint}, title '{reviewed.title}'"
            f"{', the reply kept as context' if reviewed.context else ''}; review posted"
        )
        review = sb.discord.message(reviewed.review_message_id or 0)
        assert review is not None
        shown = sb.discord.component_id(review.id, f"approvals:approve:{item.id}")
        await sb.discord.click_button(review.id, shown, sb.maintainer)
        filed = await sb.wait_for_item_status(item.id, ItemStatus.FILED, within=self.timeout)
        self.t.say(f"✅ {sb.maintainer.name} approves: issue #{filed.issue_number} is filed")
        await self._until(
            lambda: "tracked" in sb.discord.post_tags(post_id) or None, "the tracked tag"
        )
        link = await self._until(
            lambda: self._bot_reply(post_id, filed.issue_url or ""), "the link in the post"
        )
        self.t.say(f"   in the post, the bot replies: {link}")
        self.t.say(f"   post {self._state(post_id)}")
        await sb.services.extras["issue_sync"]()
        closed_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
        sb.github.close_issue(sb.repo, filed.issue_number or 0, "completed", at=closed_at)
        self.t.say(f"🏁 on GitHub, issue #{filed.issue_number} is closed as completed")
        await sb.services.extras["issue_sync"]()
        await self._until(lambda: sb.discord.post_archived(post_id) or None, "the post archived")
        notice = self._bot_reply(post_id, "closed as completed")
        self.t.say(f"   in the post, the bot replies: {notice}")
        self.t.say(f"   post {self._state(post_id)}")
