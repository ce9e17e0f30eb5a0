"""The whole bot in-process against loopback fakes of Discord, GitHub and the LLM API.

`sandbox_stack` is what the wire-level tests and the local demo run: the real bot, the
real services and the real database, with only the outside world replaced.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic_settings import BaseSettings

from bot.app import BotRuntime, bot_running
from bot.github import RetryPolicy
from bot.sandbox.discord import FakeDiscord, FakeUser
from bot.sandbox.fake_github import FakeGitHub
from bot.settings import SECTIONS, Settings
from storage.models import FeedbackItem, ItemStatus

if TYPE_CHECKING:
    from bot.client import IterateSwarmBot
    from bot.sandbox.fake_openai import FakeOpenAI
    from bot.services import Services

log = logging.getLogger(__name__)

SANDBOX_REPO = "acme/widgets"
SANDBOX_OPENAI_KEY = "sk-sandbox-not-a-real-key"
READY_TIMEOUT_SECONDS = 60.0
INTERACTION_DEADLINE_SECONDS = 3.0
#: How the sandbox bot authenticates to the fake GitHub: a personal token, GitHub App
#: credentials, or one installation token pasted into GITHUB_TOKEN.
GitHubAuthMode = Literal["token", "app", "installation-token"]


def github_credentials(
    github: FakeGitHub, mode: GitHubAuthMode, *, token_lifetime: float = 3600.0
) -> dict[str, str]:
    """Environment that makes a bot authenticate to `github` as `mode` says.

    For `app` and `installation-token` a GitHub App (with a fresh key) is installed on
    the fake; its installation tokens live `token_lifetime` seconds.
    """
    if mode == "token":
        return {"GITHUB_TOKEN": github.token}
    from bot.sandbox._github_auth import generate_app_key

    private_key, public_key = generate_app_key()
    app = github.add_app(public_key_pem=public_key, token_lifetime=token_lifetime)
    if mode == "installation-token":
        minted = github.auth.mint_installation_token(app.installation_id)
        assert minted is not None
        return {"GITHUB_TOKEN": minted[0]}
    return {
        "GITHUB_TOKEN": "",
        "GITHUB_APP_ID": str(app.app_id),
        "GITHUB_APP_PRIVATE_KEY": private_key,
        "GITHUB_APP_INSTALLATION_ID": str(app.installation_id),
    }


S = TypeVar("S", bound=BaseSettings)


def sandbox_env(
    *,
    discord: FakeDiscord,
    github: FakeGitHub,
    data_dir: Path | str,
    database_url: str | None = None,
    openai: FakeOpenAI | None = None,
    repo: str = SANDBOX_REPO,
    extra_env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Environment variables that point a bot (in-process or a subprocess) at the fakes.

    Args:
        discord: A started fake Discord.
        github: A started fake GitHub holding `repo`.
        data_dir: DATA_DIR of the bot (SQLite file, vector index, checkpoints).
        database_url: DATABASE_URL; None keeps SQLite under `data_dir`.
        openai: A started fake LLM API, or None for the offline engine.
        repo: `owner/name` issues are filed in.
        extra_env: Overrides applied last (e.g. `{"ASK_FOR_DETAILS": "true"}` to let the
            bot ask reporters of thin bug reports for details first).

    Returns:
        Variable name -> value, ready for `os.environ` or a subprocess `env`.
    """
    owner, name = repo.split("/", 1)
    env = {
        **discord.env(),
        "GITHUB_API_URL": github.url,
        "GITHUB_TOKEN": github.token,
        "GITHUB_OWNER": owner,
        "GITHUB_REPO": name,
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url or "",
        "OPENAI_API_KEY": "",
        "OPENAI_BASE_URL": "",
        # Scenarios decide and answer themselves; the details conversation and the
        # reporter's duplicate confirmation are opted into.
        "ASK_FOR_DETAILS": "false",
        "DUPLICATE_CONFIRM": "off",
    }
    if openai is not None:
        env["OPENAI_API_KEY"] = openai.api_key or SANDBOX_OPENAI_KEY
        env["OPENAI_BASE_URL"] = openai.url
    env.update(extra_env or {})
    return env


def _from_arguments_only(section: type[S]) -> type[S]:
    """`section`, reading only the values it is given (no environment, no `.env`)."""

    class Isolated(section):  # type: ignore[valid-type,misc]
        @classmethod
        def settings_customise_sources(
            cls, settings_cls: Any, init_settings: Any, *_sources: Any, **_named: Any
        ) -> tuple[Any, ...]:
            return (init_settings,)

    Isolated.__name__ = Isolated.__qualname__ = section.__name__
    return Isolated


def settings_from_env(env: Mapping[str, str], *, inherit_environment: bool = True) -> Settings:
    """`Settings` built from `env`, ignoring `.env`.

    Args:
        env: The variables to use.
        inherit_environment: Read variables missing from `env` from the process
            environment; when False every other setting keeps its default (the demo's
            world of its own: no CHROMA_URL, HEALTH_PORT or SHARD_IDS from outside).
    """
    values: dict[str, Any] = dict(env)
    sections: dict[str, type[BaseSettings]] = dict(SECTIONS)
    root: type[Settings] = Settings
    if not inherit_environment:
        sections = {key: _from_arguments_only(cls) for key, cls in sections.items()}
        root = _from_arguments_only(Settings)
    built: dict[str, Any] = {key: cls(_env_file=None, **values) for key, cls in sections.items()}
    return root(_env_file=None, **values, **built)  # type: ignore[call-arg]


@dataclass
class Sandbox:
    """A running bot and the fakes around it, with the simulated people of the demo guild."""

    discord: FakeDiscord
    github: FakeGitHub
    openai: FakeOpenAI | None
    env: dict[str, str]
    settings: Settings
    maintainer: FakeUser
    reporter: FakeUser
    outsider: FakeUser
    _start: Callable[[Settings], Any] = field(repr=False)
    github_retry: RetryPolicy | None = None
    _runtime: BotRuntime | None = field(default=None, repr=False)
    _stack: AsyncExitStack | None = field(default=None, repr=False)

    @property
    def runtime(self) -> BotRuntime:
        """The running bot's runtime."""
        if self._runtime is None:
            raise RuntimeError("the sandbox bot is not running")
        return self._runtime

    @property
    def services(self) -> Services:
        """The running bot's services."""
        return self.runtime.services

    @property
    def bot(self) -> IterateSwarmBot:
        """The running bot."""
        return self.runtime.bot

    @property
    def repo(self) -> str:
        """`owner/name` issues are filed in."""
        return f"{self.env['GITHUB_OWNER']}/{self.env['GITHUB_REPO']}"

    def configure(self, **env: str) -> None:
        """Change settings before the next start, e.g. ids of guilds added to the fake."""
        self.env.update(env)
        self.settings = settings_from_env(self.env)

    async def start(self) -> None:
        """Start the bot (services, gateway, READY, recovery)."""
        stack = AsyncExitStack()
        try:
            runtime: BotRuntime = await stack.enter_async_context(self._start(self.settings))
        except BaseException:
            await stack.aclose()
            raise
        if not runtime.ready:
            await stack.aclose()
            raise RuntimeError("the sandbox bot did not become ready")
        self._runtime, self._stack = runtime, stack
        github = runtime.services.github
        if github is not None and self.github_retry is not None:
            github.retry = self.github_retry
        await self._wait_for_guild()

    async def _wait_for_guild(self, within: float = 20.0) -> None:
        """READY can come before a slow GUILD_CREATE; wait until the guild is cached."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while self.bot.get_guild(self.discord.guild_id) is None:
            if loop.time() >= deadline:
                raise TimeoutError(f"the bot never saw guild {self.discord.guild_id}")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        """Stop the bot and close its services (the fakes keep running)."""
        stack, self._stack = self._stack, None
        self._runtime = None
        if stack is not None:
            await stack.aclose()

    async def restart(self) -> None:
        """Stop the bot cleanly and start it again on the same data directory and database."""
        await self.stop()
        await self.discord.state.signal.wait_for(
            lambda: True if not self.discord.sessions else None, 10.0, "gateway sessions to close"
        )
        await self.start()

    async def item(self, item_id: int) -> FeedbackItem | None:
        """The item as stored now."""
        return await self.services.items.get(item_id)

    async def wait_for_item(
        self,
        predicate: Callable[[FeedbackItem], bool],
        *,
        item_id: int | None = None,
        within: float = 20.0,
        what: str = "a matching item",
    ) -> FeedbackItem:
        """Poll the database until an item (or `item_id`) satisfies `predicate`.

        Raises:
            TimeoutError: Nothing matched in time.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            if item_id is not None:
                found = await self.services.items.get(item_id)
                candidates = [found] if found is not None else []
            else:
                statuses = list(ItemStatus)
                candidates = await self.services.items.list_by_status(statuses)
            match = next((i for i in candidates if predicate(i)), None)
            if match is not None:
                return match
            if loop.time() >= deadline:
                raise TimeoutError(f"timed out after {within}s waiting for {what}")
            await asyncio.sleep(0.05)

    async def wait_for_item_status(
        self, item_id: int, status: ItemStatus | str, within: float = 20.0
    ) -> FeedbackItem:
        """Wait until the item reaches `status` (and its graph has finished reacting to it)."""
        wanted = ItemStatus(status)
        return await self.wait_for_item(
            lambda i: i.status == wanted, item_id=item_id, within=within, what=f"status {wanted}"
        )

    async def wait_for_item_from_message(
        self, message_id: int, within: float = 20.0
    ) -> FeedbackItem:
        """Wait for the item created from a Discord message."""
        key = f"message:{message_id}"
        return await self.wait_for_item(
            lambda i: i.source_key == key, within=within, what=f"the item of message {message_id}"
        )

    async def wait_for_review_message(self, item_id: int, within: float = 20.0) -> int:
        """Wait until the item's review message is posted; returns its id."""
        item = await self.wait_for_item(
            lambda i: i.review_message_id is not None,
            item_id=item_id,
            within=within,
            what=f"the review message of item {item_id}",
        )
        assert item.review_message_id is not None
        await self.discord.state.signal.wait_for(
            lambda: self.discord.message(item.review_message_id or 0),
            within,
            "the review message at the fake",
        )
        return item.review_message_id


@asynccontextmanager
async def _discord_endpoints_restored() -> AsyncIterator[None]:
    """Put discord.py's global REST base and gateway URL back as they were."""
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

    base, gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    try:
        yield
    finally:
        Route.BASE = base
        DiscordWebSocket.DEFAULT_GATEWAY = gateway


@asynccontextmanager
async def sandbox_stack(
    *,
    data_dir: Path | str,
    database_url: str | None = None,
    llm: bool = False,
    extra_env: Mapping[str, str] | None = None,
    model: Any = None,
    start_bot: bool = True,
    interaction_deadline: float | None = INTERACTION_DEADLINE_SECONDS,
    github_retry: RetryPolicy | None = None,
    github_auth: GitHubAuthMode = "token",
    github_token_lifetime: float = 3600.0,
    inherit_environment: bool = True,
) -> AsyncIterator[Sandbox]:
    """Start the fakes and the real bot wired to them; stop everything on exit.

    Args:
        data_dir: DATA_DIR for the bot (created if missing).
        database_url: DATABASE_URL; None uses SQLite under `data_dir`.
        llm: Also start the fake LLM API and use the LLM engine (offline engine otherwise).
        extra_env: More settings, e.g. {"APPROVAL_REMINDER_AFTER": "2s"}.
        model: A loaded SentenceTransformer to share instead of loading one.
        start_bot: Start the bot at once (otherwise call `await sb.start()`).
        interaction_deadline: Seconds after which the fake refuses an interaction's first
            response, as Discord does after 3 s (None: no deadline).
        github_retry: Retry policy of the bot's GitHub client (e.g. short backoffs in tests).
        github_auth: A personal token, GitHub App credentials, or an installation token.
        github_token_lifetime: Seconds the fake's installation tokens live.

        inherit_environment: Let the process environment fill settings the sandbox does not
            set (False for the demo: it never reads CHROMA_URL, HEALTH_PORT and the like).
    """
    await asyncio.to_thread(Path(data_dir).mkdir, parents=True, exist_ok=True)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(_discord_endpoints_restored())
        discord_fake = await stack.enter_async_context(
            FakeDiscord(interaction_deadline=interaction_deadline)
        )
        github_fake = await stack.enter_async_context(FakeGitHub(repos=(SANDBOX_REPO,)))
        openai_fake = None
        if llm:
            from bot.sandbox.fake_openai import FakeOpenAI

            openai_fake = await stack.enter_async_context(FakeOpenAI(api_key=SANDBOX_OPENAI_KEY))
        credentials = github_credentials(
            github_fake, github_auth, token_lifetime=github_token_lifetime
        )
        env = sandbox_env(
            discord=discord_fake,
            github=github_fake,
            data_dir=data_dir,
            database_url=database_url,
            openai=openai_fake,
            extra_env={**credentials, **(extra_env or {})},
        )
        settings = settings_from_env(env, inherit_environment=inherit_environment)
        maintainer = discord_fake.add_user(
            "maya-maintainer", roles=[discord_fake.maintainer_role_id]
        )
        reporter = discord_fake.add_user("riley-reporter")
        outsider = discord_fake.add_user("olly-outsider")

        def start(current: Settings) -> Any:
            return bot_running(
                current, ready_timeout=READY_TIMEOUT_SECONDS, model=model, load_model_now=True
            )

        sandbox = Sandbox(
            discord=discord_fake,
            github=github_fake,
            openai=openai_fake,
            env=env,
            settings=settings,
            maintainer=maintainer,
            reporter=reporter,
            outsider=outsider,
            _start=start,
            github_retry=github_retry,
        )
        stack.push_async_callback(sandbox.stop)
        if start_bot:
            await sandbox.start()
        yield sandbox
