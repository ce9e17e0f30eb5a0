"""Records of interactions the fake dispatched and of every answer the bot gave to them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.sandbox.discord._models import EPHEMERAL_FLAG, ChangeSignal, Payload


@dataclass
class InteractionResponse:
    """One thing the bot did with an interaction: its callback, a followup, an edit or a delete."""

    kind: str
    type: int | None
    data: Payload
    message_id: int | None = None

    @property
    def content(self) -> str | None:
        """Text content, if any was sent."""
        return self.data.get("content")

    @property
    def embeds(self) -> list[Payload]:
        """Embeds sent."""
        return list(self.data.get("embeds") or [])

    @property
    def components(self) -> list[Payload]:
        """Components sent (for a modal: its rows or labels)."""
        return list(self.data.get("components") or [])

    @property
    def flags(self) -> int:
        """Flags sent."""
        return int(self.data.get("flags") or 0)

    @property
    def ephemeral(self) -> bool:
        """Whether the ephemeral flag (64) was set."""
        return bool(self.flags & EPHEMERAL_FLAG)

    @property
    def allowed_mentions(self) -> Payload | None:
        """allowed_mentions sent, or None when absent."""
        return self.data.get("allowed_mentions")

    @property
    def custom_id(self) -> str | None:
        """Modal custom_id (type 9 responses)."""
        return self.data.get("custom_id")

    @property
    def title(self) -> str | None:
        """Modal title (type 9 responses)."""
        return self.data.get("title")


class FakeInteraction:
    """An interaction the fake dispatched, and everything the bot answered to it."""

    def __init__(self, payload: Payload, signal: ChangeSignal) -> None:
        self.payload = payload
        self.id = int(payload["id"])
        self.token = str(payload["token"])
        self.type = int(payload.get("type", 0))
        self.created_at = time.monotonic()
        self.responses: list[InteractionResponse] = []
        self.original_message_id: int | None = None
        self.ack_claimed = False
        self._signal = signal

    def __repr__(self) -> str:
        return f"<FakeInteraction id={self.id} type={self.type} responses={len(self.responses)}>"

    @property
    def message_id(self) -> int | None:
        """Id of the message whose component was used, if any."""
        message = self.payload.get("message")
        return int(message["id"]) if isinstance(message, dict) else None

    @property
    def callback(self) -> InteractionResponse | None:
        """The initial response (POST .../callback), if the bot sent one."""
        return next((r for r in self.responses if r.kind == "callback"), None)

    @property
    def acknowledged(self) -> bool:
        """Whether the initial response was sent."""
        return self.callback is not None

    @property
    def followups(self) -> list[InteractionResponse]:
        """Followup messages, in order."""
        return [r for r in self.responses if r.kind == "followup"]

    @property
    def edits(self) -> list[InteractionResponse]:
        """Edits of the original response or of followups, in order."""
        return [r for r in self.responses if r.kind.startswith("edit")]

    def record(self, response: InteractionResponse) -> None:
        """Store a response and wake waiters."""
        self.responses.append(response)
        self._signal.notify()

    async def wait_response(self, timeout: float = 5.0) -> InteractionResponse:  # noqa: ASYNC109
        """Wait for the initial response.

        Args:
            timeout: Seconds to wait.

        Returns:
            The callback response.

        Raises:
            TimeoutError: The bot did not respond in time.
        """
        return await self._signal.wait_for(
            lambda: self.callback, timeout, f"a response to interaction {self.id}"
        )

    async def wait_for(
        self,
        predicate: Callable[[InteractionResponse], bool],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> InteractionResponse:
        """Wait for any response, followup or edit matching `predicate`.

        Args:
            predicate: Test applied to each recorded response.
            timeout: Seconds to wait.

        Returns:
            The first matching record.

        Raises:
            TimeoutError: Nothing matched in time.
        """
        return await self._signal.wait_for(
            lambda: next((r for r in self.responses if predicate(r)), None),
            timeout,
            f"a matching response to interaction {self.id}",
        )
