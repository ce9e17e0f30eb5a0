"""What reaches GitHub from a reporter: their words verbatim, and nothing that acts on GitHub."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from storage.models import ItemStatus
from tests.cogs.approvals.backends import BACKENDS, sandbox_on

WAIT = 30.0
TRACEBACK = """```python
Traceback (most recent call last):
  File "/app/importer.py", line 88, in <module>
    main()
  File "/app/importer.py", line 12, in main
    rows: List[str] = parse(path)
ValueError: bad header <List<String>> near @types #12
```"""
LOG_URL = "https://paste.example.com/raw/a1b2c3?lines=10-20#L12"
IMPORT_REPORT = (
    "Since 2.4 the CSV import crashes on files whose header has generics like "
    f"List<String>.\nFull log: {LOG_URL}\n\n{TRACEBACK}\n\n    indented line kept as is"
)
JAVA_TRACE = """```java
java.lang.IllegalStateException: export failed for @octocat in #7
    at com.acme.export.Exporter.run(Exporter.java:42)
    @Override public void close() { /* GH-9 acme/widgets#3 */ }
```"""


def _hostile(url_base: str) -> str:
    return (
        "Export crashes again, like #1 and acme/widgets#2 and GH-3, "
        f"see {url_base}/acme/widgets/issues/1 and https://github.com/acme/widgets/pull/1 "
        f"or [this one]({url_base}/acme/widgets/issues/1). @someone @acme/core saw it too, "
        f"and `@inline` is code.\n\n{JAVA_TRACE}\n"
    )


@pytest.mark.parametrize("backend", BACKENDS)
async def test_reporter_text_reaches_github_verbatim_and_inert(
    backend: str, tmp_path: Path, sentence_model: Any, flow_for: Any
) -> None:
    async with sandbox_on(backend, tmp_path, sentence_model) as sb:
        flow = flow_for(sb)
        importer, review = await flow.report(IMPORT_REPORT)
        await flow.click(review, "approve", importer.id)
        filed = await sb.wait_for_item_status(importer.id, ItemStatus.FILED, within=WAIT)
        issue = sb.github.repo(sb.repo).issues[filed.issue_number or 0]
        for verbatim in (TRACEBACK, LOG_URL, "List<String>", "\n    indented line kept as is"):
            assert verbatim in (issue.body or ""), verbatim

        named = sb.discord.add_user("![](https://x.y/p) **boss** <b>@admin</b>")
        hostile, review = await flow.report(_hostile(sb.github.url), author=named)
        await flow.click(review, "approve", hostile.id)
        second = await sb.wait_for_item_status(hostile.id, ItemStatus.FILED, within=WAIT)
        body = sb.github.repo(sb.repo).issues[second.issue_number or 0].body or ""
        assert JAVA_TRACE in body, "code stays byte for byte"
        assert "x.y/p" in body and "boss" in body, "the display name is shown as text"

        echo, review = await flow.report(_hostile(sb.github.url), author=sb.outsider)
        opened = await flow.click(review, "duplicate", echo.id)
        await flow.submit(opened, {"issue_number": str(second.issue_number)}, review)
        await sb.wait_for_item(lambda i: i.flow_done, item_id=echo.id, within=WAIT)
        await flow.delivered(echo.id)
        (comment,) = sb.github.repo(sb.repo).issues[second.issue_number or 0].comments
        assert JAVA_TRACE in comment["body"]

        effects = sb.github.effects_total()
        assert effects.references == []
        assert effects.mentions == []
        assert effects.images == []
        assert [r.where for r in sb.github.rendered] == [
            f"issue #{filed.issue_number}",
            f"issue #{second.issue_number}",
            f"comment on #{second.issue_number}",
        ]
