"""Logging: JSON lines carry the item id; secrets never reach the output."""

from __future__ import annotations

import json
import logging

import pytest

from bot.log import configure_logging, item_context, redact, register_secret


def test_json_lines_carry_item_id_and_redact(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    register_secret("super-secret-value-123")
    log = logging.getLogger("iterateswarm.test")
    with item_context(42):
        log.info("calling with token super-secret-value-123")
    log.info("no item here")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    assert lines[0]["item_id"] == 42
    assert "super-secret-value-123" not in lines[0]["message"]
    assert "item_id" not in lines[1]


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Bot MTAxMjM0NTY3ODkwMTIzNDU2.GAbCdE.abcdefghijklmnopqrstuvwxyz0123",
        "token=ghp_0123456789abcdefghijABCDEFGHIJ012345",
        "api_key='sk-proj-abcdefghijklmnopqrstuvwxyz'",
    ],
)
def test_token_shapes_are_redacted(text: str) -> None:
    cleaned = redact(text)
    assert "[redacted]" in cleaned
    assert "abcdefghijklmnopqrstuvwxyz" not in cleaned and "0123456789abcdefghij" not in cleaned
