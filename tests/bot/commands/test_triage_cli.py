"""`iterateswarm triage`: JSONL in, one result per line in order, errors per line, --text."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from bot.cli import main

FIELDS = {
    "id",
    "kind",
    "severity",
    "confidence",
    "actionable",
    "title",
    "labels",
    "engine",
    "reasoning",
}


@pytest.fixture(autouse=True)
def offline_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)


def test_jsonl_in_order_with_error_records(
    tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with (shared_data / "nlbse24_issues_train.csv").open(encoding="utf-8") as handle:
        rows = [row for _, row in zip(range(12), csv.DictReader(handle), strict=False)]
    lines = [
        json.dumps({"id": f"n{i}", "title": r["title"], "body": r["body"]})
        for i, r in enumerate(rows)
    ]
    lines.insert(3, "{not json")
    lines.insert(5, json.dumps({"id": "empty", "text": "   "}))
    lines.append(json.dumps({"id": "short", "text": "pls add dark mode"}))
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"

    assert (
        main(["triage", "--engine", "offline", "--input", str(source), "--output", str(out)]) == 0
    )

    results = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(results) == len(lines)
    assert results[3]["line"] == 4 and "error" in results[3]
    assert results[5]["id"] == "empty" and "no words" in results[5]["error"]
    good = [r for r in results if "error" not in r]
    assert [r["id"] for r in good] == [f"n{i}" for i in range(12)] + ["short"]
    for result in good:
        assert set(result) == FIELDS
        assert result["kind"] in {"bug", "feature", "question"}
        assert 0 <= result["confidence"] <= 1 and len(result["title"]) <= 80
        assert result["engine"] == "offline"
    assert good[-1]["kind"] == "feature" and good[-1]["actionable"] is True


def test_text_prints_a_readable_result(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["triage", "--engine", "offline", "--text", "the app crashes when I open settings"])
        == 0
    )
    out = capsys.readouterr().out
    assert "kind:        bug" in out and "actionable:  yes" in out and "title:" in out


def test_empty_text_is_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["triage", "--engine", "offline", "--text", "  😀 "]) == 2
    assert "no words" in capsys.readouterr().err


def test_missing_input_file_is_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["triage", "--input", "nope.jsonl"]) == 2
    assert "no such file" in capsys.readouterr().err
