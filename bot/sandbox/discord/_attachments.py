"""Attachments on the fake Discord: the objects messages carry and the CDN that serves them."""

from __future__ import annotations

import mimetypes
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from aiohttp import web

from bot.sandbox.discord._models import Payload, SnowflakeFactory

#: Path of the fake's CDN, like cdn.discordapp.com/attachments/{channel}/{attachment}/{name}.
CDN_ROUTE = "/attachments/{channel_id}/{attachment_id}/{filename}"
#: Seconds a signed CDN link stays valid (Discord's expire after about a day).
LINK_LIFETIME = 24 * 3600
#: Content types Discord gives files that the platform's table does not know.
_KNOWN_TYPES = {".log": "text/plain; charset=utf-8", ".md": "text/markdown; charset=utf-8"}


@dataclass(frozen=True)
class FakeFile:
    """A file a simulated user attaches to a message.

    `declared_size` is what the message payload claims (the real length by default), so a
    test can post a file bigger than it says; a file not `served` is a 404 on the CDN.
    """

    filename: str
    data: bytes
    content_type: str | None = None
    declared_size: int | None = None
    served: bool = True

    @property
    def media_type(self) -> str | None:
        """The content type sent with it, guessed from the name when not given."""
        if self.content_type is not None:
            return self.content_type
        guessed, _ = mimetypes.guess_type(self.filename)
        suffix = "." + self.filename.rpartition(".")[2].lower()
        return guessed or _KNOWN_TYPES.get(suffix)


class AttachmentStore:
    """The bytes behind every attachment URL the fake hands out, and the CDN route."""

    def __init__(self, ids: SnowflakeFactory, public_url: Callable[[], str]) -> None:
        self._ids = ids
        self._public_url = public_url
        self.blobs: dict[int, bytes] = {}
        self.downloads: list[int] = []

    def payloads(self, channel_id: int | str, files: Iterable[FakeFile]) -> list[Payload]:
        """Attachment objects for `files` posted in `channel_id`; their bytes are kept."""
        payloads = []
        for file in files:
            payload = self.add(
                channel_id, file.filename, file.data, file.media_type, file.declared_size
            )
            if not file.served:
                self.blobs.pop(int(payload["id"]))
            payloads.append(payload)
        return payloads

    def add(
        self,
        channel_id: int | str,
        filename: str,
        data: bytes,
        content_type: str | None,
        declared_size: int | None = None,
    ) -> Payload:
        """Keep `data` and return its attachment object with a signed CDN link."""
        attachment_id = self._ids.next()
        self.blobs[attachment_id] = data
        expires = int(time.time()) + LINK_LIFETIME
        url = (
            f"{self._public_url()}/attachments/{channel_id}/{attachment_id}/{filename}"
            f"?ex={expires:x}&is={int(time.time()):x}&hm={secrets.token_hex(32)}&"
        )
        payload: Payload = {
            "id": str(attachment_id),
            "filename": filename,
            "size": len(data) if declared_size is None else declared_size,
            "url": url,
            "proxy_url": url,
        }
        if content_type is not None:
            payload["content_type"] = content_type
        return payload

    async def serve(self, request: web.Request) -> web.StreamResponse:
        """GET of a CDN link: the bytes as uploaded (404 for an unknown attachment)."""
        try:
            attachment_id = int(request.match_info["attachment_id"])
        except ValueError:
            raise web.HTTPNotFound() from None
        data = self.blobs.get(attachment_id)
        if data is None:
            raise web.HTTPNotFound()
        self.downloads.append(attachment_id)
        content_type, _ = mimetypes.guess_type(request.match_info["filename"])
        response = web.StreamResponse(
            headers={"Content-Type": content_type or "application/octet-stream"}
        )
        response.content_length = len(data)
        await response.prepare(request)
        chunk = 16 * 1024
        try:
            for start in range(0, len(data), chunk):
                await response.write(data[start : start + chunk])
            await response.write_eof()
        except ConnectionError:
            pass  # the client stopped reading (it had read as much as it wanted)
        return response
