"""The fake GitHub reads bodies as GitHub would: references, mentions and images outside code."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from githubkit import GitHub, TokenAuthStrategy

from bot.sandbox._github_markdown import effects
from bot.sandbox.fake_github import FakeGitHub

REPO = "acme/widgets"


def test_references_mentions_and_images_in_prose_are_found() -> None:
    body = (
        "Broken since #12 and GH-7, see acme/other#3 and "
        "https://github.com/acme/widgets/issues/9 or [this](https://github.com/a/b/pull/4).\n"
        "Ping @octocat, @acme/core and &#64;hidden; ![pixel](https://x.y/p) <img src=x>"
    )
    found = effects(body, repo=REPO)
    assert sorted(found.references) == sorted(
        [
            "acme/widgets#12",
            "acme/widgets#7",
            "acme/other#3",
            "acme/widgets#9",
            "a/b#4",
        ]
    )
    assert found.mentions == ["octocat", "acme/core", "hidden"]
    assert len(found.images) == 2


def test_code_comments_and_emails_make_nothing() -> None:
    body = (
        "```java\n@Override public void run() { // #1 @x\n```\n"
        "~~~~\n#2\n~~~~\n"
        "> ```\n> @quoted #4\n> ```\n"
        "Inline `@code #3` and ``a ` @b``; mail me@example.com, issue#5 is no ref.\n"
        "<!-- @hidden #6 -->\n"
        "\n    @indented #7\n"
    )
    found = effects(body, repo=REPO)
    assert found.references == [] and found.mentions == [] and found.images == []


def test_an_unclosed_fence_or_a_quote_ending_closes_the_code() -> None:
    assert effects("> ```\n> code\n@after #8", repo=REPO).mentions == ["after"]
    assert effects("```\n@inside #9", repo=REPO).mentions == []
    listed = effects("- item\n\n    @in-list-item", repo=REPO)
    assert listed.mentions == ["in-list-item"]


def test_invisible_joiners_break_references_and_mentions() -> None:
    found = effects("see #\u20601, GH-\u20602, @\u2060someone, acme/x#\u20603", repo=REPO)
    assert found.references == [] and found.mentions == []


@pytest.fixture
async def fake() -> AsyncIterator[FakeGitHub]:
    async with FakeGitHub(repos=[REPO]) as server:
        yield server


async def test_every_body_written_is_rendered(fake: FakeGitHub) -> None:
    gh = GitHub(TokenAuthStrategy(fake.token), base_url=fake.url, trust_env=False)
    issue = (await gh.rest.issues.async_create("acme", "widgets", title="t", body="#1")).parsed_data
    await gh.rest.issues.async_create_comment("acme", "widgets", issue.number, body="@a")
    await gh.rest.issues.async_update("acme", "widgets", issue.number, body="![](u)")
    assert [r.where for r in fake.rendered] == ["issue #1", "comment on #1", "edit of #1"]
    total = fake.effects_total()
    assert (total.references, total.mentions, len(total.images)) == (["acme/widgets#1"], ["a"], 1)
