"""How a message's files are shown on GitHub and to the classifier."""

from __future__ import annotations

from agents.attachments import (
    Attachment,
    attachments_section,
    classifier_excerpt,
    is_text_file,
)
from agents.markdown import github_length

JUMP = "https://discord.com/channels/1/2/3"


def test_text_files_are_recognised_by_type_or_name() -> None:
    assert is_text_file("a.bin", "text/plain; charset=utf-8")
    assert is_text_file("data", "application/json")
    assert is_text_file("CRASH.LOG", None)
    assert not is_text_file("shot.png", "image/png")


def test_a_fence_in_the_file_cannot_close_the_block() -> None:
    text = "before\n````\n</details>\n```\nafter\n"
    section = attachments_section([Attachment("x.txt", text=text)], limit=10_000, jump_url=JUMP)
    assert "`````\n" + text + "`````" in section


def test_a_file_over_the_room_is_cut_at_a_line_and_says_so() -> None:
    text = "".join(f"line {i}\n" for i in range(5_000))
    section = attachments_section([Attachment("x.log", text=text)], limit=3_000, jump_url=JUMP)
    assert github_length(section) <= 3_000
    assert "line 0\nline 1\n" in section and "line 4999" not in section
    assert f"whole file is [on Discord]({JUMP})" in section


def test_names_are_shown_inert() -> None:
    files = [Attachment("@alice <b>#1</b>.png", content_type="image/png", size=2048)]
    section = attachments_section(files, limit=10_000, jump_url=None)
    assert "`@alice <b>#1</b>.png` (2 KiB, `image/png`): on Discord" in section


def test_the_classifier_reads_a_bounded_excerpt() -> None:
    files = [
        Attachment("a.log", text="x" * 5_000),
        Attachment("b.png"),
        Attachment("c.txt", text="y"),
    ]
    excerpt = classifier_excerpt(files, limit=100)
    assert excerpt.startswith("Attached a.log:\n" + "x" * 100) and "b.png" not in excerpt
    assert "c.txt" not in excerpt
