"""The fingerprint of what Approve would file: review buttons carry it, decisions check it.

Filing writes the draft (`spec`: title, description, labels, the quoted report), what the
reporter added later (`reporter_more`), their name, the message link and its files. The
fingerprint covers those and the draft's revision (bumped by every drafting, accepted Edit
and Edit folded in), so an Approve clicked on a review message rendered before any of them
changed is refused. Its first characters fingerprint the reporter's additions alone, to say
what changed.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from storage.models import FeedbackItem

#: Hex characters of a fingerprint: the reporter's additions, then everything filed.
REPORTER_CHARS, WHOLE_CHARS = 4, 8
FINGERPRINT_REGEX = rf"[0-9a-f]{{{REPORTER_CHARS + WHOLE_CHARS}}}"


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def filing_fingerprint(item: FeedbackItem, *, edit_pending: bool = False) -> str:
    """The fingerprint of what filing `item` would write.

    Args:
        item: The item as stored.
        edit_pending: An accepted Edit is not folded into the draft yet: the draft shown is
            about to change, so the fingerprint matches no stored item.
    """
    filed = {
        "spec": item.spec,
        "draft_revision": item.draft_revision,
        "more": item.reporter_more,
        "author": item.author_name,
        "jump_url": item.jump_url,
        "attachments": item.attachments,
        "edit_pending": edit_pending,
    }
    reporter = _digest(item.reporter_more or "")[:REPORTER_CHARS]
    return reporter + _digest(filed)[:WHOLE_CHARS]


def reporter_added(shown: str, current: str) -> bool:
    """Whether the reporter's additions differ between two fingerprints of one item."""
    return shown[:REPORTER_CHARS] != current[:REPORTER_CHARS]


def changed_since_shown(action: str, shown: str, current: str) -> str:
    """What to tell a maintainer whose Approve (or Retry) was made on an older fingerprint."""
    what = "The reporter added details" if reporter_added(shown, current) else "The draft changed"
    button = "Retry" if action == "retry" else "Approve"
    return f"{what} since this was shown; the review is updated, check it and {button} again."
