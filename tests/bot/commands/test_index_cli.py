"""`iterateswarm index import|query|stats` through `bot.cli.main` with a temporary data dir."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.settings import load_settings
from storage.adapter import model_tag
from storage.db import Database, upgrade
from storage.sync_state import SyncStateRepository

REPORTS = [
    {
        "id": "101",
        "title": "Crash when exporting a spreadsheet to PDF",
        "body": "Choosing File > Export as PDF on a large spreadsheet closes the application.",
        "url": "https://bugs.example/101",
    },
    {
        "id": "102",
        "title": "Add spell checking for German",
        "body": "Please include a German dictionary for the spell checker.",
        "state": "closed",
    },
    {"id": 103, "title": "Slide transitions stutter", "body": "Animations lag on slides."},
]


def _write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text(
        "".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows),
        encoding="utf-8",
    )
    return path


def _read_jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _stats(data: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, str]:
    assert main(["--data-dir", str(data), "index", "stats", *extra]) == 0
    lines = capsys.readouterr().out.splitlines()
    return {key.strip(): value.strip() for key, value in (line.split(":", 1) for line in lines)}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No repository or database configured from the environment."""
    for name in ("GITHUB_OWNER", "GITHUB_REPO", "DATABASE_URL", "CHROMA_URL", "DATA_DIR"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("clean_env")
def test_import_query_and_stats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    corpus = _write_jsonl(tmp_path / "corpus.jsonl", REPORTS)  # type: ignore[arg-type]

    assert main(["--data-dir", str(data), "index", "import", str(corpus)]) == 0
    assert "3 document(s) imported" in capsys.readouterr().err
    assert main(["--data-dir", str(data), "index", "import", str(corpus)]) == 0
    capsys.readouterr()
    stats = _stats(data, capsys)
    assert stats["repository"] == "local/default"
    assert stats["documents"] == "3"
    assert stats["last sync"] == "never"
    assert stats["model"] == model_tag()
    assert stats["store"].startswith(str((data / "chroma").resolve()))

    queries = _write_jsonl(
        tmp_path / "queries.jsonl",
        [
            {
                "id": "q1",
                "title": "Application quits on PDF export",
                "body": "Exporting my big spreadsheet as PDF makes the program close.",
            },
            {"id": "101", "title": REPORTS[0]["title"], "body": REPORTS[0]["body"]},
        ],
    )
    out = tmp_path / "out.jsonl"
    args = ["--data-dir", str(data), "index", "query", str(queries), "--k", "2"]
    assert main([*args, "--output", str(out)]) == 0
    first, second = _read_jsonl(out)
    assert first["id"] == "q1"
    assert first["verdict"] in ("duplicate", "possible_duplicate")
    assert first["matches"][0]["id"] == "101"  # type: ignore[index]
    assert len(first["matches"]) == 2  # type: ignore[arg-type]
    assert "101" not in [m["id"] for m in second["matches"]]  # type: ignore[attr-defined]
    assert _stats(data, capsys)["documents"] == "3"

    assert main(args) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert printed == [first, second]


@pytest.mark.usefixtures("clean_env")
def test_bad_lines_are_named_and_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    corpus = _write_jsonl(
        tmp_path / "mixed.jsonl",
        [REPORTS[0], "{not json", {"title": "no id"}, "", {"id": "5", "title": 7}, REPORTS[1]],
    )
    assert main(["--data-dir", str(data), "index", "import", str(corpus), "--repo", "a/b"]) == 1
    err = capsys.readouterr().err
    assert f"{corpus}:2: skipped: not valid JSON" in err
    assert f"{corpus}:3: skipped" in err and '"id"' in err
    assert f"{corpus}:5: skipped" in err and '"title" must be a string' in err
    assert "2 document(s) imported, 3 bad line(s) skipped" in err
    assert _stats(data, capsys, "--repo", "a/b")["documents"] == "2"
    assert _stats(data, capsys)["documents"] == "0"


@pytest.mark.usefixtures("clean_env")
def test_query_without_an_index_is_read_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    queries = _write_jsonl(tmp_path / "q.jsonl", [{"id": "1", "title": "anything", "body": ""}])
    assert main(["--data-dir", str(data), "index", "query", str(queries)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"id": "1", "verdict": "new", "matches": []}
    assert "no index" in captured.err
    assert not (data / "chroma").exists()


@pytest.mark.usefixtures("clean_env")
def test_stats_reports_the_last_sync(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"

    async def record_sync() -> None:
        settings = load_settings(DATA_DIR=data)
        await upgrade(settings.db_url)
        db = Database(settings.db_url)
        try:
            await SyncStateRepository(db).save(repo="octo/widgets", since=None, issues_seen=12)
        finally:
            await db.close()

    asyncio.run(record_sync())
    stats = _stats(data, capsys, "--repo", "Octo/Widgets")
    assert "UTC (12 issues read)" in stats["last sync"]
    assert _stats(data, capsys, "--repo", "other/repo")["last sync"] == "never"


@pytest.mark.usefixtures("clean_env")
def test_user_mistakes_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = ["--data-dir", str(tmp_path)]
    assert main([*data, "index", "import", str(tmp_path / "missing.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main([*data, "index", "stats", "--repo", "not-a-repo"]) == 2
    assert "owner/name" in capsys.readouterr().err
