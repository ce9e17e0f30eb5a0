"""Loopback fake of Discord's gateway and REST API for wire-level tests and the local demo."""

from bot.sandbox.discord._attachments import FakeFile
from bot.sandbox.discord._driver import FakeDiscord
from bot.sandbox.discord._gateway import GatewaySession
from bot.sandbox.discord._interaction_records import FakeInteraction, InteractionResponse
from bot.sandbox.discord._models import (
    EPHEMERAL_FLAG,
    FailureRule,
    FakeGuild,
    FakeRole,
    FakeUser,
    MentionCheck,
    RecordedRequest,
    StoredMessage,
)

__all__ = [
    "EPHEMERAL_FLAG",
    "FailureRule",
    "FakeDiscord",
    "FakeFile",
    "FakeGuild",
    "FakeInteraction",
    "FakeRole",
    "FakeUser",
    "GatewaySession",
    "InteractionResponse",
    "MentionCheck",
    "RecordedRequest",
    "StoredMessage",
]
