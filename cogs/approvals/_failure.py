"""The review message's line on a failed filing: retrying by itself, or what to do now."""

from __future__ import annotations

from datetime import UTC

import discord

from storage.models import FeedbackItem


def failure_line(item: FeedbackItem, reason: str | None, retry_limit: int) -> str:
    """What happened and what comes next; `reason` is already escaped for Discord.

    Args:
        item: A failed item.
        reason: Why the last attempt failed, if known.
        retry_limit: Automatic retries allowed after a maintainer's Approve or Retry.
    """
    why = f": {reason}" if reason else ""
    if item.filing_retry_at is not None:
        when = item.filing_retry_at
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        attempt = item.filing_auto_retries + 1
        of = f" of {retry_limit}" if retry_limit else ""
        last = f" Last error{why}." if reason else ""
        return (
            f"⏳ GitHub is unavailable; retrying automatically at "
            f"{discord.utils.format_dt(when, 't')} (attempt {attempt}{of}).{last} "
            "Edit, Retry now, or Reject."
        )
    if retry_limit and item.filing_auto_retries >= retry_limit:
        return (
            f"⚠️ Filing failed{why}. Stopped after {retry_limit} automatic retries. Edit or Retry."
        )
    return f"⚠️ Filing failed{why}. Edit or Retry."
