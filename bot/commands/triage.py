"""`iterateswarm triage`: classify and draft specs for a JSONL file or one `--text`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from agents.engines.base import Classification, Spec, TriageEngine
from agents.text import has_substance, normalize
from bot.cli import UserError
from bot.settings import Settings

BATCH = 256


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


def _engine(settings: Settings, choice: str) -> tuple[TriageEngine, Any]:
    from agents.engines.offline import OfflineEngine
    from storage.embeddings import Embedder

    embedder = Embedder()
    offline = OfflineEngine(embedder)
    if choice == "offline" or (choice == "auto" and not settings.llm.enabled):
        return offline, embedder
    if not settings.llm.enabled:
        raise UserError("--engine llm needs OPENAI_API_KEY")
    from bot.services import build_llm

    llm = build_llm(settings)
    if choice == "llm":
        return llm, embedder
    from agents.engines.fallback import FallbackEngine

    return FallbackEngine(primary=llm, fallback=offline), embedder


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
    """Triage the input and write the results."""
    engine, embedder = _engine(settings, args.engine)
    try:
        if args.text is not None:
            return await _one(args.text, engine, settings)
        with _open_in(args.input) as source, _open_out(args.output) as sink:
            await _many(source, sink, engine, settings)
        return 0
    finally:
        embedder.close()


async def _one(text: str, engine: TriageEngine, settings: Settings) -> int:
    if not has_substance(text):
        raise UserError("--text is empty or has no words to triage")
    clean = normalize(text)
    verdict = await engine.classify(clean)
    spec = await engine.draft_spec(clean, verdict, labels=_labels(settings))
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


async def _many(source: IO[str], sink: IO[str], engine: TriageEngine, settings: Settings) -> None:
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


async def _line(number: int, line: str, engine: TriageEngine, labels: list[str]) -> dict[str, Any]:
    record_id: Any = None
    try:
        record = json.loads(line)
        if not isinstance(record, dict):
            raise ValueError("line is not a JSON object")
        record_id = record.get("id")
        text = _text_of(record)
        if not has_substance(text):
            raise ValueError("no words to triage")
        clean = normalize(text)
        verdict = await engine.classify(clean)
        spec = await engine.draft_spec(clean, verdict, labels=labels)
    except (ValueError, TypeError) as exc:
        return {"id": record_id, "line": number, "error": str(exc)}
    return _result(record_id, verdict, spec, engine.name)


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
