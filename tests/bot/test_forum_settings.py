"""Forum settings: what tags mean, the tags the bot applies, readable errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.forum_settings import TagMeaning
from bot.settings import SettingsError, load_settings

FORUM_VARS = (
    "FORUM_TAG_MAP",
    "FORUM_TRACKED_TAG",
    "FORUM_DUPLICATE_TAG",
    "FORUM_DECLINED_TAG",
    "FORUM_RESOLVED_TAG",
    "FORUM_ARCHIVE_RESOLVED",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in FORUM_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_by_default_tags_named_after_a_kind_hint_it_in_any_case() -> None:
    forums = load_settings().forums
    assert forums.meaning(["Needs Info", "BUG", "feature"]) == ("bug", [])
    assert forums.meaning(["Question"]) == ("question", [])
    assert forums.meaning(["discussion"]) == (None, [])
    assert (forums.tracked_tag, forums.resolved_tag, forums.archive_resolved) == (
        "tracked",
        "resolved",
        True,
    )


def test_a_tag_map_gives_kinds_and_labels(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "FORUM_TAG_MAP", "bug=bug:bug, Feature Request=feature:enhancement,docs=:documentation"
    )
    monkeypatch.setenv("FORUM_DECLINED_TAG", "none")
    forums = load_settings().forums
    assert forums.tag_map["feature request"] == TagMeaning("feature", "enhancement")
    assert forums.meaning(["docs", "feature request"]) == (
        "feature",
        ["documentation", "enhancement"],
    )
    assert forums.declined_tag is None


@pytest.mark.parametrize(
    ("value", "words"),
    [("bug=crash", "unknown kind 'crash'"), ("bug", "expected tag=kind[:label]")],
)
def test_a_bad_tag_map_names_the_variable_and_the_problem(
    monkeypatch: pytest.MonkeyPatch, value: str, words: str
) -> None:
    monkeypatch.setenv("FORUM_TAG_MAP", value)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert "FORUM_TAG_MAP" in str(refused.value) and words in str(refused.value)
