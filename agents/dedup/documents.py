"""How issues, feedback and imported reports become indexed documents and query text."""

from __future__ import annotations

from collections.abc import Sequence

from storage.vectors import MetadataValue, StoredDocument

#: Body characters kept per document; the model reads about 256 word pieces anyway.
MAX_BODY_CHARS = 2000
#: Characters of a feedback item shown as its title in matches.
FEEDBACK_TITLE_CHARS = 80


def _clip(text: str, limit: int) -> str:
    """Cut at a word boundary near `limit` characters."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", int(limit * 0.8), limit)
    return text[: cut if cut > 0 else limit].rstrip()


def document_text(title: str, body: str | None) -> str:
    """The text embedded and matched for a report: its title, a blank line, the clipped body.

    Args:
        title: Issue or report title.
        body: Markdown body, possibly empty or None.

    Returns:
        `title` alone when there is no body.
    """
    title = " ".join(title.split())
    body_text = _clip(body or "", MAX_BODY_CHARS)
    return f"{title}\n\n{body_text}".strip() if body_text else title


#: Issues carrying one of these labels are kept out of the index.
SPAM_LABELS = frozenset({"spam"})


def issue_id(number: int) -> str:
    """Document id of a GitHub issue."""
    return f"issue:{number}"


def issue_number(document_id: str) -> int | None:
    """The issue number of an `issue:<number>` document id, else None."""
    kind, _, number = document_id.partition(":")
    return int(number) if kind == "issue" and number.isdigit() else None


def is_spam(labels: Sequence[str]) -> bool:
    """Whether an issue's labels mark it as spam."""
    return any(label.strip().lower() in SPAM_LABELS for label in labels)


def feedback_id(item_id: int) -> str:
    """Document id of a feedback item."""
    return f"feedback:{item_id}"


def issue_document(
    *,
    number: int,
    title: str,
    body: str | None,
    url: str,
    state: str,
    labels: Sequence[str] = (),
) -> StoredDocument:
    """A GitHub issue as a stored document (`issue:<number>`)."""
    return StoredDocument(
        id=issue_id(number),
        text=document_text(title, body),
        metadata={
            "kind": "issue",
            "number": int(number),
            "state": "closed" if str(state).lower() == "closed" else "open",
            "url": url,
            "title": title,
            "labels": ",".join(labels),
        },
    )


def feedback_document(*, item_id: int, text: str, url: str | None = None) -> StoredDocument:
    """A feedback item as a stored document (`feedback:<item id>`)."""
    metadata: dict[str, MetadataValue] = {
        "kind": "feedback",
        "title": _clip(" ".join(text.split()), FEEDBACK_TITLE_CHARS),
    }
    if url:
        metadata["url"] = url
    return StoredDocument(
        id=feedback_id(item_id), text=_clip(text, MAX_BODY_CHARS), metadata=metadata
    )


def imported_document(
    *,
    doc_id: str,
    title: str,
    body: str | None,
    url: str | None = None,
    state: str | None = None,
) -> StoredDocument:
    """A report from an import file; its id is kept exactly as given."""
    metadata: dict[str, MetadataValue] = {"kind": "import", "title": title}
    if url:
        metadata["url"] = url
    if state:
        metadata["state"] = "closed" if state.lower() == "closed" else "open"
    return StoredDocument(id=doc_id, text=document_text(title, body), metadata=metadata)
