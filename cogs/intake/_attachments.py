"""Reading a feedback message's files at intake: text files downloaded (capped), others named.

Each text file is fetched from its attachment URL with a deadline, and at most
`ATTACHMENT_MAX_BYTES` are read whatever size Discord declared; the bytes are decoded as
UTF-8 with replacement. Only Discord's CDN (or the host of `DISCORD_API_BASE`, for a
self-hosted or fake Discord) is fetched from. A failed download is kept as a name marked
unreadable; nothing else of the message is lost.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import discord
import httpx

from agents.attachments import Attachment, is_text_file
from bot.settings import DiscordSettings

log = logging.getLogger(__name__)

#: Hosts Discord serves attachments from.
DISCORD_CDN_HOSTS = frozenset({"cdn.discordapp.com", "media.discordapp.net"})
#: Files of one message Discord allows; the rest of a (malformed) payload is ignored.
MAX_LISTED = 10


@dataclass(frozen=True)
class AttachmentLimits:
    """How much intake reads: bytes per text file, text files per message, seconds per file."""

    max_bytes: int = 65536
    max_files: int = 5
    timeout: float = 10.0


class AttachmentReader:
    """Turns a message's `discord.Attachment`s into stored `Attachment` records."""

    def __init__(self, limits: AttachmentLimits, *, api_base: str | None = None) -> None:
        self.limits = limits
        hosts = set(DISCORD_CDN_HOSTS)
        if api_base:
            hosts.add(urlsplit(api_base).netloc.lower())
        self._hosts = frozenset(hosts)
        self._client: httpx.AsyncClient | None = None

    @classmethod
    def from_settings(cls, settings: DiscordSettings) -> AttachmentReader:
        """A reader with the ATTACHMENT_* limits, fetching from Discord (or DISCORD_API_BASE)."""
        limits = AttachmentLimits(
            max_bytes=settings.attachment_max_bytes,
            max_files=settings.attachment_max_files,
            timeout=settings.attachment_timeout,
        )
        return cls(limits, api_base=settings.api_base)

    async def read(self, files: Sequence[discord.Attachment]) -> list[Attachment]:
        """Every file named; up to `max_files` text files read, concurrently."""
        listed = list(files)[:MAX_LISTED]
        wanted = [f for f in listed if is_text_file(f.filename, f.content_type)]
        wanted = wanted[: self.limits.max_files]
        read = await asyncio.gather(*(self._read_text(f) for f in wanted))
        texts = dict(zip((f.id for f in wanted), read, strict=True))
        return [texts.get(f.id) or _named(f) for f in listed]

    async def _read_text(self, file: discord.Attachment) -> Attachment:
        try:
            async with asyncio.timeout(self.limits.timeout):
                data, truncated = await self._download(file.url)
        except (httpx.HTTPError, TimeoutError, ValueError) as exc:
            log.warning("could not read attachment %s: %s", file.id, type(exc).__name__)
            return Attachment(
                filename=file.filename,
                content_type=file.content_type,
                size=file.size,
                unreadable=True,
            )
        return Attachment(
            filename=file.filename,
            content_type=file.content_type,
            size=file.size,
            text=_decoded(data, complete=not truncated),
            truncated=truncated,
        )

    async def _download(self, url: str) -> tuple[bytes, bool]:
        """At most `max_bytes` of the file, and whether there was more."""
        if urlsplit(url).netloc.lower() not in self._hosts:
            raise ValueError("not a Discord attachment URL")
        cap = self.limits.max_bytes
        chunks: list[bytes] = []
        size = 0
        async with self._http().stream("GET", url) as response:
            response.raise_for_status()
            async for chunk in response.aiter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size > cap:
                    return b"".join(chunks)[:cap], True
        return b"".join(chunks), False

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=False, timeout=self.limits.timeout)
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _decoded(data: bytes, *, complete: bool) -> str:
    """UTF-8 with replacement; a character cut in two at the cap is left out."""
    return codecs.getincrementaldecoder("utf-8")(errors="replace").decode(data, final=complete)


def _named(file: discord.Attachment) -> Attachment:
    return Attachment(filename=file.filename, content_type=file.content_type, size=file.size)
