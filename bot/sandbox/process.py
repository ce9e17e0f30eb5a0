"""The bot as a separate `python -m bot` process against loopback fakes: start, ready, kill."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import aiohttp
from pydantic import AliasChoices

from bot.sandbox.discord import FakeDiscord
from bot.settings import SECTIONS, Settings

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 15.0


class BotProcessError(RuntimeError):
    """The bot process did not start, did not become ready, or died; carries its log tail."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def settings_variables() -> set[str]:
    """Every environment variable `Settings` reads."""
    names: set[str] = set()
    for section in (Settings, *SECTIONS.values()):
        for spec in section.model_fields.values():
            alias = spec.validation_alias
            if isinstance(alias, AliasChoices):
                names.update(str(choice) for choice in alias.choices)
            elif isinstance(alias, str):
                names.add(alias)
    return names


def child_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The parent's environment minus every bot setting (endpoints, secrets), then `env`."""
    withheld = settings_variables()
    base = {k: v for k, v in os.environ.items() if k not in withheld}
    base["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    base["PYTHONUNBUFFERED"] = "1"
    base.setdefault("LOG_FORMAT", "json")
    base.setdefault("LOG_LEVEL", "INFO")
    base.update(env)
    return base


class BotProcess:
    """One `python -m bot` process whose stdout and stderr go to a log file.

    Readiness is observed from outside: a new IDENTIFY reaches the fake gateway and the
    bot's own `/healthz` (on `health_port`) answers 200, which it does once READY was
    handled and the database answers.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        discord: FakeDiscord,
        log_path: Path,
        workdir: Path,
        health_port: int | None = None,
    ) -> None:
        self.discord = discord
        self.log_path = log_path
        self.workdir = workdir
        self.health_port = health_port or free_port()
        self.env = child_environment({**env, "HEALTH_PORT": str(self.health_port)})
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0
        self.ready_seconds: float | None = None

    @property
    def pid(self) -> int | None:
        """Process id of the running process."""
        return self.process.pid if self.process is not None else None

    @property
    def alive(self) -> bool:
        """Whether the process is running."""
        return self.process is not None and self.process.returncode is None

    @property
    def returncode(self) -> int | None:
        """Exit code of the last process, None while it runs."""
        return self.process.returncode if self.process is not None else None

    @property
    def health_url(self) -> str:
        """The bot's /healthz."""
        return f"http://127.0.0.1:{self.health_port}/healthz"

    def log_size(self) -> int:
        """Bytes written to the log so far."""
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_text(self, *, since: int = 0, max_chars: int = 30_000) -> str:
        """The log from byte `since`, keeping the last `max_chars` characters."""
        try:
            with self.log_path.open("rb") as handle:
                handle.seek(since)
                text = handle.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        if len(text) > max_chars:
            return "…" + text[-max_chars:]
        return text

    async def start(self, *, ready_timeout: float = READY_TIMEOUT_SECONDS) -> None:
        """Spawn the process and wait until it is ready.

        Raises:
            BotProcessError: It exited or was not ready within `ready_timeout` seconds.
        """
        if self.alive:
            raise BotProcessError("the bot process is already running")
        self.workdir.mkdir(parents=True, exist_ok=True)
        identified_before = len(self.discord.hub.identifies)
        started = time.monotonic()
        with self.log_path.open("ab") as sink:
            sink.write(f"\n===== start #{self.starts + 1} =====\n".encode())
            sink.flush()
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                cwd=str(self.workdir),
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=sink,
                stderr=sink,
            )
        self.starts += 1
        try:
            await self._wait_ready(identified_before, ready_timeout)
        except BaseException:
            await self.kill()
            raise
        self.ready_seconds = time.monotonic() - started
        log.info("bot process %s ready after %.1fs", self.pid, self.ready_seconds)

    async def _wait_ready(self, identified_before: int, timeout: float) -> None:  # noqa: ASYNC109
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            while True:
                if not self.alive:
                    raise BotProcessError(
                        f"the bot exited with code {self.returncode} before it was ready:\n"
                        + self.log_text(max_chars=6000)
                    )
                if len(self.discord.hub.identifies) > identified_before and await self._healthy(
                    http
                ):
                    return
                if loop.time() >= deadline:
                    raise BotProcessError(
                        f"the bot was not ready within {timeout:.0f}s:\n"
                        + self.log_text(max_chars=6000)
                    )
                await asyncio.sleep(0.2)

    async def _healthy(self, http: aiohttp.ClientSession) -> bool:
        try:
            async with http.get(self.health_url) as response:
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def terminate(self, *, timeout: float = STOP_TIMEOUT_SECONDS) -> int:  # noqa: ASYNC109
        """Send SIGTERM and wait for the exit code.

        Raises:
            BotProcessError: It was still running after `timeout` seconds (it is killed).
        """
        process = self.process
        if process is None or process.returncode is not None:
            return self.returncode if self.returncode is not None else 0
        process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            await self.kill()
            raise BotProcessError(
                f"the bot did not exit within {timeout:.0f}s of SIGTERM:\n"
                + self.log_text(max_chars=6000)
            ) from None

    async def kill(self) -> int | None:
        """SIGKILL the process (no cleanup at all) and reap it."""
        process = self.process
        if process is None or process.returncode is not None:
            return self.returncode
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        return await process.wait()

    async def dump_state(self, *, within: float = 3.0) -> None:
        """Have the process write its threads and tasks to the log (see `bot.diagnostics`).

        SIGUSR1 goes through the event loop; if nothing is written within `within` seconds
        the loop is stuck, and SIGUSR2 dumps the threads from the signal handler.
        """
        process = self.process
        if process is None or process.returncode is not None:
            return
        before = self.log_size()
        process.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            if "asyncio task(s) waiting at" in self.log_text(since=before):
                return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGUSR2)
        await asyncio.sleep(0.5)

    async def stop(self) -> None:
        """Terminate politely, kill if that does not work; never raises."""
        with contextlib.suppress(BotProcessError):
            await self.terminate()
        await self.kill()

    async def restart(self, *, ready_timeout: float = READY_TIMEOUT_SECONDS) -> None:
        """Start again (after it exited) on the same environment and data."""
        await self.wait_gateway_closed()
        await self.start(ready_timeout=ready_timeout)

    async def wait_gateway_closed(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until the fake Discord has seen every gateway socket close."""
        await self.discord.state.signal.wait_for(
            lambda: True if not self.discord.sessions else None,
            timeout,
            "the old gateway sessions to close",
        )
