"""Working without the Message Content intent when Discord refuses it.

Discord closes the gateway with 4014 when the application asks for a privileged intent
that is switched off in the developer portal. Instead of stopping, the bot identifies
again without Message Content: channel messages then reach it with their text only when
they mention the bot, while /feedback and the "Send to triage" menu work as before (the
triage reaction fetches the message, whose text Discord then leaves out too).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord
from discord.errors import PrivilegedIntentsRequired
from discord.gateway import ReconnectWebSocket
from discord.shard import EventItem, EventType

log = logging.getLogger(__name__)

PORTAL = "https://discord.com/developers/applications"
MESSAGE_CONTENT_NOT_GRANTED = (
    "The Message Content intent is not granted by Discord, so the bot runs without it: "
    "messages in the feedback channels are read only when they mention the bot "
    "(/feedback and the 'Send to triage' menu work as before; the triage reaction does not). "
    "To read every feedback message, turn on Bot -> Privileged Gateway Intents -> "
    f"Message Content Intent for this application at {PORTAL}, then restart the bot."
)
#: Where discord.py's AutoShardedClient keeps the queue its shards report to.
_SHARD_QUEUE = "_AutoShardedClient__queue"


class IntentFallbackQueue(asyncio.PriorityQueue[Any]):
    """The shards' event queue: a refused Message Content intent becomes a new IDENTIFY.

    Each shard is identified again once without the intent; a shard refused after that
    (another privileged intent) stops the client as discord.py would.
    """

    def __init__(self, client: discord.Client) -> None:
        super().__init__()
        self._client = client
        self._retried: set[int] = set()

    def put_nowait(self, item: Any) -> None:
        """Queue `item`, replacing a 4014 refusal by an IDENTIFY without Message Content."""
        if (
            isinstance(item, EventItem)
            and item.type == EventType.terminate
            and isinstance(item.error, PrivilegedIntentsRequired)
            and item.shard is not None
            and item.shard.id not in self._retried
        ):
            self._retried.add(item.shard.id)
            self._drop_message_content()
            item = EventItem(
                EventType.identify, item.shard, ReconnectWebSocket(item.shard.id, resume=False)
            )
        super().put_nowait(item)

    def _drop_message_content(self) -> None:
        wanted: discord.Intents = self._client._connection._intents
        if wanted.message_content:
            wanted.message_content = False
            log.warning(MESSAGE_CONTENT_NOT_GRANTED)


def fall_back_without_message_content(client: discord.AutoShardedClient) -> None:
    """Have `client` identify again without Message Content when Discord refuses it.

    Call once its event queue exists (after discord.py's `_async_setup_hook`).
    """
    if not isinstance(getattr(client, _SHARD_QUEUE, None), asyncio.PriorityQueue):
        log.warning("this discord.py has no shard queue; a refused intent stops the bot")
        return
    setattr(client, _SHARD_QUEUE, IntentFallbackQueue(client))
