"""The local demo: the real bot against loopback Discord and GitHub, narrated as a transcript."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from bot.demo_forum import ForumScene, add_forum
from bot.sandbox.discord import FakeInteraction, FakeUser, StoredMessage
from bot.sandbox.stack import Sandbox, sandbox_stack, settings_from_env
from bot.settings import Settings
from storage.models import FeedbackItem, ItemStatus

log = logging.getLogger(__name__)

STEP_TIMEOUT_SECONDS = 45.0
VERDICTS = frozenset(
    {ItemStatus.AWAITING_REVIEW, ItemStatus.NOT_ACTIONABLE, ItemStatus.AWAITING_DETAILS}
)
BUG = (
    "Exporting my project to CSV crashes the whole app.\n"
    "1. Open Settings → Data\n"
    "2. Click Export and pick CSV\n"
    "3. Press Save\n"
    "I expected a file to download, but the window closes with 'Unhandled exception'. "
    "Happens every time on version 2.3.1."
)
FEATURE = (
    "Could you add a dark mode to the dashboard? I work late and the white background is "
    "really hard on the eyes. Following the system theme would be perfect."
)
QUESTION = (
    "How do I connect the app to my self-hosted server? "
    "I couldn't find anything about it in the docs."
)
NEAR_DUPLICATE = (
    "The app just closes when I try to export my data as a CSV file from the settings page. "
    "I expected a download, but it says unhandled exception and nothing gets saved "
    "(Windows 11, version 2.3.1)."
)
PRAISE = "Love the new release, search is so much faster now! Great work everyone 🎉"
REJECT_REASON = "Questions are answered in #help; self-hosting is covered in the admin guide."


class DemoStepError(Exception):
    """A step of the demo did not complete in time."""


@dataclass
class Post:
    """One message of the demo and what became of it."""

    label: str
    author: FakeUser
    text: str
    message_id: int = 0
    item: FeedbackItem | None = None
    review: StoredMessage | None = None


@dataclass
class Transcript:
    """Writes the narrated transcript and keeps the step timings."""

    out: TextIO
    started: float = field(default_factory=time.monotonic)
    timings: list[tuple[str, float]] = field(default_factory=list)

    def say(self, text: str = "") -> None:
        """Print one line (or an empty one)."""
        print(text, file=self.out, flush=True)

    def heading(self, text: str) -> None:
        """Print a section heading."""
        self.say()
        self.say(f"── {text} " + "─" * max(0, 66 - len(text)))

    def quote(self, text: str, *, indent: str = "    │ ", limit: int = 14) -> None:
        """Print a block of text, indented and cut after `limit` lines."""
        lines: list[str] = []
        for raw in text.strip().splitlines() or [""]:
            lines += textwrap.wrap(raw, 88) or [""]
        for line in lines[:limit]:
            self.say(f"{indent}{line}")
        if len(lines) > limit:
            self.say(f"{indent}… ({len(lines) - limit} more lines)")

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time a step; a timeout inside it becomes a `DemoStepError` naming the step."""
        began = time.monotonic()
        try:
            yield
        except TimeoutError as exc:
            raise DemoStepError(f"step '{name}' timed out: {exc}") from exc
        self.timings.append((name, time.monotonic() - began))


def plain(text: str) -> str:
    """Embed text without markdown escapes and zero-width mention guards."""
    return re.sub(r"\\(.)", r"\1", text).replace("\u200b", "")


def _fields(message: StoredMessage) -> dict[str, str]:
    embed = message.embeds[0] if message.embeds else {}
    return {str(f.get("name")): plain(str(f.get("value"))) for f in embed.get("fields") or []}


def _reporter_notices(sb: Sandbox, post: Post) -> list[StoredMessage]:
    channel = sb.discord.messages_in(sb.discord.feedback_channel_id)
    replies = [
        m
        for m in channel
        if m.author_id == sb.discord.bot_user_id
        and str((m.payload.get("message_reference") or {}).get("message_id"))
        == str(post.message_id)
    ]
    return replies + sb.discord.dms_to(post.author.id)


async def _wait(sb: Sandbox, check: Callable[[], Any], what: str) -> Any:
    return await sb.discord.state.signal.wait_for(check, STEP_TIMEOUT_SECONDS, what)


class DemoScript:
    """The scripted conversation: five people post, a maintainer decides, the bot reports back."""

    def __init__(self, sb: Sandbox, transcript: Transcript) -> None:
        self.sb = sb
        self.t = transcript
        discord = sb.discord
        self.posts = {
            "bug": Post("bug report", sb.reporter, BUG),
            "feature": Post("feature request", discord.add_user("alex-designer"), FEATURE),
            "question": Post("question", discord.add_user("jordan-newcomer"), QUESTION),
            "near_duplicate": Post(
                "near-duplicate of the bug", discord.add_user("sam-tester"), NEAR_DUPLICATE
            ),
            "praise": Post("praise", discord.add_user("casey-fan"), PRAISE),
        }

    async def run(self) -> None:
        """Every step, in order."""
        self.t.heading("Feedback arrives in #feedback")
        for post in self.posts.values():
            with self.t.step(f"triage the {post.label}"):
                await self.intake(post)
        self.t.heading(f"{self.sb.maintainer.name} reviews in #maintainer-review")
        with self.t.step("approve the bug report"):
            issue_number = await self.approve(self.posts["bug"])
        with self.t.step("reject the question"):
            await self.reject(self.posts["question"], REJECT_REASON)
        with self.t.step("mark the near-duplicate"):
            await self.mark_duplicate(self.posts["near_duplicate"], issue_number)
        await self.summary()

    async def intake(self, post: Post) -> None:
        """Post one message, wait for its verdict and show what the maintainers see."""
        sb = self.sb
        sent = await sb.discord.post_message(sb.discord.feedback_channel_id, post.author, post.text)
        post.message_id = int(sent["id"])
        self.t.say()
        self.t.say(f"💬 {post.author.name} writes ({post.label}):")
        self.t.quote(post.text)
        item = await sb.wait_for_item_from_message(post.message_id, within=STEP_TIMEOUT_SECONDS)
        assert item.id is not None
        post.item = await sb.wait_for_item(
            lambda i: ItemStatus(i.status) in VERDICTS,
            item_id=item.id,
            within=STEP_TIMEOUT_SECONDS,
            what=f"a triage verdict for item {item.id}",
        )
        if post.item.status == ItemStatus.NOT_ACTIONABLE:
            await sb.discord.wait_for_reaction(
                post.message_id,
                sb.settings.discord.not_actionable_emoji,
                timeout=STEP_TIMEOUT_SECONDS,
            )
            self.t.say(
                f"   → item #{item.id}: not actionable (praise or chatter); "
                f"the bot reacts {sb.settings.discord.not_actionable_emoji} and files nothing."
            )
            return
        if post.item.status == ItemStatus.AWAITING_DETAILS:
            asked = await _wait(sb, lambda: _reporter_notices(sb, post) or None, "the questions")
            self.t.say(f"   → item #{item.id}: the bot asks {post.author.name} for details first:")
            self.t.quote(asked[0].content)
            return
        review_id = await sb.wait_for_review_message(item.id, within=STEP_TIMEOUT_SECONDS)
        post.review = sb.discord.message(review_id)
        assert post.review is not None
        self.show_review(post.review, item.id)

    def show_review(self, review: StoredMessage, item_id: int) -> None:
        """Print the review embed the way a maintainer reads it."""
        embed = review.embeds[0] if review.embeds else {}
        fields = _fields(review)
        self.t.say(f"   → review message for item #{item_id} in #maintainer-review:")
        self.t.say(f"     {plain(str(embed.get('title') or ''))}")
        self.t.say(
            f"     kind {fields.get('Kind', '?')} · severity {fields.get('Severity', '?')} · "
            f"confidence {fields.get('Confidence', '?')} · labels {fields.get('Labels', 'none')}"
        )
        candidates = [n for n in ("Likely duplicate of", "May be related") if n in fields]
        for name in candidates:
            self.t.say(f"     duplicate candidates ({name.lower()}):")
            self.t.quote(fields[name], indent="       ", limit=5)
        if not candidates:
            self.t.say("     duplicate candidates: none")
        self.t.say("     draft:")
        self.t.quote(plain(str(embed.get("description") or "")), indent="       │ ", limit=6)
        footer = plain(str((embed.get("footer") or {}).get("text") or ""))
        buttons = [c.split(":")[1] for c in review.custom_ids() if c.startswith("approvals:")]
        self.t.say(f"     {footer} · buttons: {', '.join(buttons) or 'none'}")

    async def _click(self, post: Post, action: str) -> FakeInteraction:
        assert post.item is not None and post.review is not None
        shown = self.sb.discord.component_id(post.review.id, f"approvals:{action}:{post.item.id}")
        return await self.sb.discord.click_button(post.review.id, shown, self.sb.maintainer)

    async def _answer(self, interaction: FakeInteraction) -> str:
        response = await interaction.wait_for(
            lambda r: bool(r.content), timeout=STEP_TIMEOUT_SECONDS
        )
        return response.content or ""

    async def _submit(self, opened: FakeInteraction, post: Post, values: dict[str, str]) -> str:
        modal = await opened.wait_response(timeout=STEP_TIMEOUT_SECONDS)
        if modal.type != 9 or modal.custom_id is None:
            raise DemoStepError(f"expected a form, the bot answered: {modal.content!r}")
        assert post.review is not None
        submitted = await self.sb.discord.submit_modal(
            modal.custom_id, values, self.sb.maintainer, message_id=post.review.id
        )
        return await self._answer(submitted)

    async def _settled(self, post: Post, status: ItemStatus) -> FeedbackItem:
        assert post.item is not None and post.item.id is not None
        post.item = await self.sb.wait_for_item_status(
            post.item.id, status, within=STEP_TIMEOUT_SECONDS
        )
        return post.item

    async def _tell_reporter(self, post: Post) -> None:
        notices = await _wait(
            self.sb, lambda: _reporter_notices(self.sb, post) or None, "the note to the reporter"
        )
        where = (
            "in a reply"
            if notices[0].channel_id == self.sb.discord.feedback_channel_id
            else "by DM"
        )
        self.t.say(f"   {post.author.name} is told ({where}):")
        self.t.quote(notices[0].content)

    def _skip(self, post: Post, action: str) -> bool:
        if post.item is not None and post.item.status == ItemStatus.AWAITING_REVIEW:
            return False
        self.t.say()
        self.t.say(f"({post.label} was not sent to review, so there is nothing to {action})")
        return True

    async def approve(self, post: Post) -> int | None:
        """Approve: the issue is filed on GitHub and the reporter gets the link."""
        if self._skip(post, "approve"):
            return None
        self.t.say()
        self.t.say(f"✅ {self.sb.maintainer.name} clicks Approve on item #{post.item.id}")  # type: ignore[union-attr]
        self.t.say(
            f"   bot (only to them): {await self._answer(await self._click(post, 'approve'))}"
        )
        item = await self._settled(post, ItemStatus.FILED)
        issue = self.sb.github.repo(self.sb.repo).issues[item.issue_number or 0]
        self.t.say(f"   GitHub issue #{issue.number} created in {self.sb.repo}: {issue.title}")
        self.t.say(f"   labels: {', '.join(issue.labels) or 'none'} · {item.issue_url}")
        self.t.quote(issue.body or "", indent="   │ ", limit=26)
        await self._tell_reporter(post)
        return issue.number

    async def reject(self, post: Post, reason: str) -> None:
        """Reject with a reason the reporter sees."""
        if self._skip(post, "reject"):
            return
        self.t.say()
        self.t.say(f"❌ {self.sb.maintainer.name} clicks Reject on item #{post.item.id}")  # type: ignore[union-attr]
        self.t.say(f"   and gives the reason: {reason}")
        answer = await self._submit(await self._click(post, "reject"), post, {"reason": reason})
        self.t.say(f"   bot (only to them): {answer}")
        await self._settled(post, ItemStatus.REJECTED)
        await self._tell_reporter(post)

    async def mark_duplicate(self, post: Post, issue_number: int | None) -> None:
        """Link the near-duplicate to the issue filed for the bug."""
        if issue_number is None or self._skip(post, "mark as duplicate"):
            return
        self.t.say()
        self.t.say(
            f"🔁 {self.sb.maintainer.name} clicks Duplicate on item #{post.item.id} "  # type: ignore[union-attr]
            f"and enters issue #{issue_number}"
        )
        answer = await self._submit(
            await self._click(post, "duplicate"), post, {"issue_number": str(issue_number)}
        )
        self.t.say(f"   bot (only to them): {answer}")
        await self._settled(post, ItemStatus.DUPLICATE)
        issue = self.sb.github.repo(self.sb.repo).issues[issue_number]
        with contextlib.suppress(TimeoutError):
            await _wait(self.sb, lambda: issue.comments or None, "the comment on GitHub")
        for comment in issue.comments:
            self.t.say(f"   comment on GitHub issue #{issue_number}:")
            self.t.quote(str(comment.get("body") or ""), indent="   │ ", limit=6)
        await self._tell_reporter(post)

    async def summary(self) -> None:
        """Where every item ended up, and what GitHub holds."""
        self.t.heading("Outcome")
        for post in self.posts.values():
            if post.item is None or post.item.id is None:
                continue
            item = await self.sb.item(post.item.id) or post.item
            issue = f" → issue #{item.issue_number}" if item.issue_number else ""
            self.t.say(
                f"   item #{item.id} ({post.label}, {post.author.name}): {item.status}{issue}"
            )
        issues = self.sb.github.issues_in(self.sb.repo)
        self.t.say(f"   GitHub {self.sb.repo} holds {len(issues)} issue(s)")
        if self.sb.discord.pings:
            raise DemoStepError("a bot message would have pinged someone")
        self.t.say("   no message the bot sent could ping anyone")


@contextlib.contextmanager
def _quiet_logs(level: str, verbose: bool) -> Iterator[None]:
    """Keep INFO logs out of the transcript unless asked for (warnings still show)."""
    root, discord_log = logging.getLogger(), logging.getLogger("discord")
    before = root.level, discord_log.level
    if not verbose and level == "INFO":
        root.setLevel(logging.WARNING)
        discord_log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(before[0])
        discord_log.setLevel(before[1])


async def run_demo(
    settings: Settings,
    *,
    data_dir: Path | None = None,
    verbose: bool = False,
    out: TextIO | None = None,
    model: Any = None,
) -> int:
    """Run the scripted demo and print its transcript.

    Args:
        settings: Process settings (only the log level is used). The demo lives in a world
            of its own: it never reaches Discord, GitHub or an LLM, and ignores DATABASE_URL,
            CHROMA_URL, HEALTH_PORT and every other setting of the environment.
        data_dir: Where the demo keeps its database and index (default: a temporary directory).
        verbose: Show the bot's INFO logs on stderr.
        out: Where the transcript goes (default: stdout).
        model: An already loaded embedding model to use.

    Returns:
        0 when every step completed, 1 when a step timed out or failed.
    """
    transcript = Transcript(out or sys.stdout)
    with _quiet_logs(settings.log_level, verbose), contextlib.ExitStack() as cleanup:
        if data_dir is None:
            data_dir = Path(
                cleanup.enter_context(tempfile.TemporaryDirectory(prefix="iterateswarm-demo-"))
            )
        transcript.say(
            "IterateSwarm local demo: the real bot, a fake Discord server and a fake GitHub"
        )
        transcript.say(f"on this machine, no tokens needed. State: {data_dir}")
        transcript.say("Loading the embedding model…")
        loaded_at = time.monotonic()
        if model is None:
            from storage.embeddings import load_model

            model = await asyncio.to_thread(load_model)
        ready_at = time.monotonic()
        transcript.say(f"Model loaded in {ready_at - loaded_at:.1f}s; starting the bot.")
        try:
            async with sandbox_stack(
                data_dir=data_dir, model=model, inherit_environment=False, start_bot=False
            ) as sb:
                forum_id = add_forum(sb)
                channels = f"{sb.discord.feedback_channel_id},{forum_id}"
                sb.env["FEEDBACK_CHANNEL_IDS"] = channels
                sb.settings = settings_from_env(sb.env, inherit_environment=False)
                await sb.start()
                transcript.say(
                    f"Bot connected to guild '{sb.discord.state.guilds[sb.discord.guild_id].name}' "
                    f"in {time.monotonic() - ready_at:.1f}s (engine: {sb.services.engine.name})."
                )
                await DemoScript(sb, transcript).run()
                with transcript.step("a forum post's whole life"):
                    await ForumScene(sb, transcript, forum_id, STEP_TIMEOUT_SECONDS).run()
        except (DemoStepError, TimeoutError, RuntimeError) as exc:
            print(f"\niterateswarm demo failed: {exc}", file=sys.stderr)
            return 1
        total = time.monotonic() - ready_at
        transcript.heading("Timing")
        for name, seconds in transcript.timings:
            transcript.say(f"   {name:<38} {seconds:6.2f}s")
        transcript.say(f"   {'model load':<38} {ready_at - loaded_at:6.2f}s")
        transcript.say(f"   {'total after the model was loaded':<38} {total:6.2f}s")
        return 0
