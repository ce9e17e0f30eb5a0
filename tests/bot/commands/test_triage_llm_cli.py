"""`iterateswarm triage --engine llm` against quirky, failing and unreachable servers."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.sandbox.fake_openai import NAMED_QUIRKS, FakeOpenAI

MODEL = "gemma3-270m"
CRASH = "The app crashes every time I open the settings page"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    """A fake OpenAI server on its own loop and thread, for a CLI that runs `asyncio.run`."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = FakeOpenAI(models=[MODEL], hang_seconds=3)
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def _point_at(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, base_url: str) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OPENAI_API_KEY", "local")
    monkeypatch.setenv("OPENAI_BASE_URL", base_url)
    monkeypatch.setenv("OPENAI_MODEL_NAME", MODEL)
    monkeypatch.setenv("LLM_TIMEOUT_SECONDS", "2")
    monkeypatch.setenv("LLM_REQUESTS_PER_MINUTE", "6000")
    monkeypatch.delenv("OPENAI_FALLBACK_MODELS", raising=False)


def _input_file(tmp_path: Path, count: int) -> Path:
    source = tmp_path / "in.jsonl"
    lines = [json.dumps({"id": n, "text": f"{CRASH} ({n})"}) for n in range(count)]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return source


@pytest.mark.parametrize("quirk", sorted(NAMED_QUIRKS))
def test_every_server_quirk_is_triaged_by_the_llm(
    fake: FakeOpenAI,
    quirk: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake.quirks = NAMED_QUIRKS[quirk]
    _point_at(monkeypatch, tmp_path, fake.url)
    code = main(["triage", "--engine", "llm", "--text", CRASH])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "kind:        bug" in out
    assert f"engine:      llm:{MODEL}" in out
    assert "title:       The app crashes every time I open" in out
    assert "Traceback" not in err


def test_an_unreachable_server_gives_one_line_per_cause_and_no_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _point_at(monkeypatch, tmp_path, "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_FALLBACK_MODELS", "backup-model")
    code = main(["triage", "--engine", "llm", "--text", CRASH])
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert err.splitlines() == [
        "iterateswarm: the LLM at http://127.0.0.1:9/v1 did not triage it:",
        f"  {MODEL}: connection failed",
        "  backup-model: connection failed",
    ]


def test_a_failing_server_stops_being_asked_and_every_line_is_accounted_for(
    fake: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake.set_default("500")
    _point_at(monkeypatch, tmp_path, fake.url)
    monkeypatch.setenv("LLM_MAX_CONCURRENCY", "1")
    source = _input_file(tmp_path, 7)
    out_path = tmp_path / "out.jsonl"
    code = main(["triage", "--engine", "llm", "--input", str(source), "-o", str(out_path)])
    _, err = capsys.readouterr()
    assert code == 1
    results = [json.loads(line) for line in out_path.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in results] == list(range(7))
    assert [r["error"] for r in results[:5]] == ["not triaged: llm unavailable: HTTP 500"] * 5
    assert all("not sent after 5 LLM failures" in r["error"] for r in results[5:])
    assert len(fake.requests) == 5 * 3, "three attempts for each of the first five, then none"
    assert err.splitlines() == [
        f"iterateswarm: the LLM at {fake.url} left lines untriaged:",
        f"  {MODEL}: HTTP 500: 5 lines",
        "  not sent: the LLM failed 5 times in a row: 2 lines",
    ]
    assert "Traceback" not in err


def test_answers_outside_the_schema_are_counted_but_do_not_stop_the_run(
    fake: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake.set_default("malformed")
    _point_at(monkeypatch, tmp_path, fake.url)
    source = _input_file(tmp_path, 7)
    code = main(["triage", "--engine", "llm", "--input", str(source), "-o", "out.jsonl"])
    _, err = capsys.readouterr()
    assert code == 1
    assert err.splitlines()[1:] == [f"  {MODEL}: invalid output: 7 lines"]
    assert len(fake.requests) == 7 * 2, "one corrective retry each"
