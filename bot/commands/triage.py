"""`iterateswarm triage`: classify and draft specs for a JSONL file or one `--text`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from agents.engines.base import Classification, Spec, TriageEngine
from agents.text import has_substance, normalize
from bot.cli import UserError
from bot.settings import Settings

BATCH = 256
#: Consecutive server failures after which the remaining lines are not sent to the LLM.
STOP_AFTER = 5


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `triage` subcommand."""
    parser = subparsers.add_parser(
        "triage",
        help="triage feedback from a JSONL file or one text, without Discord",
        description='Reads lines {"id", "title", "body"} (or {"id", "text"}) and writes one result '
        "line per input, in order. A bad line gets an error record instead of stopping the run.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", "-i", help="JSONL file, or - for stdin")
    source.add_argument("--text", "-t", help="triage this one text and print the result readably")
    parser.add_argument("--output", "-o", default="-", help="JSONL file, or - for stdout (default)")
    parser.add_argument(
        "--engine",
        choices=["offline", "llm", "auto"],
        default="auto",
        help="offline: embedding classifier; llm: OpenAI-compatible endpoint; "
        "auto: llm when OPENAI_API_KEY is set, with offline fallback (default)",
    )
    parser.set_defaults(handler=handler)


def _engine(settings: Settings, choice: str) -> tuple[TriageEngine, Callable[[], None]]:
    """The engine to use and what closes it (`llm` alone loads no embedding model)."""
    if choice == "llm" and not settings.llm.enabled:
        raise UserError("--engine llm needs OPENAI_API_KEY (any value for a local server)")
    if choice == "llm":
        from bot.services import build_llm

        return build_llm(settings), lambda: None
    from agents.engines.offline import OfflineEngine
    from storage.embeddings import Embedder

    embedder = Embedder(runtime=settings.embedding_runtime, data_dir=settings.data_dir)
    offline = OfflineEngine(embedder)
    if choice == "offline" or not settings.llm.enabled:
        return offline, embedder.close
    from agents.engines.fallback import FallbackEngine
    from bot.services import build_llm

    return FallbackEngine(primary=build_llm(settings), fallback=offline), embedder.close


def _text_of(record: dict[str, Any]) -> str:
    if "text" in record:
        text = record["text"]
        if not isinstance(text, str):
            raise ValueError('"text" must be a string')
        return text
    title, body = record.get("title", ""), record.get("body", "")
    if not isinstance(title, str) or not isinstance(body, str) or not (title or body):
        raise ValueError('need "text", or "title" and/or "body" as strings')
    return f"{title}\n\n{body}".strip()


def _labels(settings: Settings) -> list[str]:
    return sorted(set(settings.github.label_map.values()))


def _result(record_id: Any, verdict: Classification, spec: Spec, engine: str) -> dict[str, Any]:
    return {
        "id": record_id,
        "kind": verdict.kind,
        "severity": verdict.severity,
        "confidence": round(verdict.confidence, 4),
        "actionable": verdict.actionable,
        "title": spec.title,
        "labels": spec.labels,
        "engine": engine,
        "reasoning": verdict.reasoning,
    }


async def handler(args: argparse.Namespace, settings: Settings) -> int:
    """Triage the input and write the results; 1 when the LLM left items untriaged."""
    engine, close = _engine(settings, args.engine)
    try:
        if args.text is not None:
            return await _one(args.text, engine, settings)
        with _open_in(args.input) as source, _open_out(args.output) as sink:
            guarded = _Guarded(engine, settings.llm.max_concurrency)
            failures = await _many(source, sink, guarded, settings)
        return _report_failures(failures, settings)
    finally:
        close()


async def _one(text: str, engine: TriageEngine, settings: Settings) -> int:
    if not has_substance(text):
        raise UserError("--text is empty or has no words to triage")
    from agents.engines.llm import LLMUnavailableError

    clean = normalize(text)
    try:
        verdict = await engine.classify(clean)
        spec = await engine.draft_spec(clean, verdict, labels=_labels(settings))
    except LLMUnavailableError as exc:
        print(f"iterateswarm: the LLM at {_endpoint(settings)} did not triage it:", file=sys.stderr)
        for line in _cause_lines(exc):
            print(f"  {line}", file=sys.stderr)
        return 1
    print(f"kind:        {verdict.kind}")
    print(f"severity:    {verdict.severity}")
    print(f"confidence:  {verdict.confidence:.2f}")
    print(f"actionable:  {'yes' if verdict.actionable else 'no (praise or chatter)'}")
    print(f"engine:      {engine.name}")
    print(f"title:       {spec.title}")
    print(f"labels:      {', '.join(spec.labels) or '-'}")
    print(f"reasoning:   {verdict.reasoning}")
    print(f"\n{spec.description}")
    for heading, lines in (
        ("Steps", spec.steps_to_reproduce),
        ("Criteria", spec.acceptance_criteria),
    ):
        for n, line in enumerate(lines, 1):
            print(f"{heading if n == 1 else '':<9}{n}. {line}")
    return 0


async def _many(
    source: IO[str], sink: IO[str], engine: _Guarded, settings: Settings
) -> dict[str, int]:
    """Write one result per line; return how many lines each LLM failure cause left."""
    from tqdm import tqdm

    lines = source.readlines()
    progress = tqdm(total=len(lines), unit="item", file=sys.stderr, disable=len(lines) < 50)
    labels = _labels(settings)
    for start in range(0, len(lines), BATCH):
        chunk = lines[start : start + BATCH]
        results = await asyncio.gather(
            *(_line(n, line, engine, labels) for n, line in enumerate(chunk, start + 1))
        )
        for result in results:
            sink.write(json.dumps(result, ensure_ascii=False) + "\n")
        sink.flush()
        progress.update(len(chunk))
    progress.close()
    return engine.failures


async def _line(number: int, line: str, engine: _Guarded, labels: list[str]) -> dict[str, Any]:
    record_id: Any = None
    try:
        record = json.loads(line)
        if not isinstance(record, dict):
            raise ValueError("line is not a JSON object")
        record_id = record.get("id")
        text = _text_of(record)
        if not has_substance(text):
            raise ValueError("no words to triage")
        verdict, spec = await engine.triage(normalize(text), labels)
    except _NotTriagedError as exc:
        return {"id": record_id, "line": number, "error": f"not triaged: {exc}"}
    except (ValueError, TypeError) as exc:
        return {"id": record_id, "line": number, "error": str(exc)}
    return _result(record_id, verdict, spec, engine.name)


class _NotTriagedError(Exception):
    """The LLM did not answer for this line (the message says why)."""


class _Guarded:
    """The engine behind a breaker: once the server failed `STOP_AFTER` times in a row, the
    remaining lines are not sent, and every cause is counted for the closing report."""

    def __init__(self, engine: TriageEngine, concurrency: int) -> None:
        self.engine = engine
        self.failures: dict[str, int] = {}
        self._in_a_row = 0
        self._slots = asyncio.Semaphore(concurrency)

    @property
    def name(self) -> str:
        """The wrapped engine's name."""
        return self.engine.name

    async def triage(self, text: str, labels: list[str]) -> tuple[Classification, Spec]:
        """Classify and draft, or raise `_NotTriagedError` with the cause."""
        from agents.engines.llm import LLMUnavailableError

        async with self._slots:
            if self._in_a_row >= STOP_AFTER:
                self._count(f"not sent: the LLM failed {STOP_AFTER} times in a row")
                raise _NotTriagedError(f"not sent after {STOP_AFTER} LLM failures in a row")
            try:
                verdict = await self.engine.classify(text)
                spec = await self.engine.draft_spec(text, verdict, labels=labels)
            except LLMUnavailableError as exc:
                self._in_a_row = self._in_a_row + 1 if exc.server_failure else 0
                for line in _cause_lines(exc):
                    self._count(line)
                raise _NotTriagedError(f"llm unavailable: {exc.reason}") from None
            self._in_a_row = 0
            return verdict, spec

    def _count(self, cause: str) -> None:
        self.failures[cause] = self.failures.get(cause, 0) + 1


def _cause_lines(exc: Any) -> list[str]:
    """`model: reason` for each model an `LLMUnavailableError` tried."""
    return [f"{model}: {reason}" for model, reason in exc.causes] or [exc.reason]


def _endpoint(settings: Settings) -> str:
    return (settings.llm.base_url or "https://api.openai.com/v1").rstrip("/")


def _report_failures(failures: dict[str, int], settings: Settings) -> int:
    """One line per cause on stderr; 1 when any line was left untriaged."""
    if not failures:
        return 0
    print(f"iterateswarm: the LLM at {_endpoint(settings)} left lines untriaged:", file=sys.stderr)
    for cause, count in sorted(failures.items(), key=lambda kv: -kv[1]):
        print(f"  {cause}: {count} line{'s' if count != 1 else ''}", file=sys.stderr)
    return 1


@contextmanager
def _open_in(path: str) -> Iterator[IO[str]]:
    if path == "-":
        yield sys.stdin
        return
    if not Path(path).is_file():
        raise UserError(f"--input: no such file: {path}")
    with open(path, encoding="utf-8") as handle:
        yield handle


@contextmanager
def _open_out(path: str) -> Iterator[IO[str]]:
    if path == "-":
        yield sys.stdout
        return
    with open(path, "w", encoding="utf-8") as handle:
        yield handle
