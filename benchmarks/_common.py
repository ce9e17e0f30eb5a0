"""Helpers shared by the benchmark scripts: memory, percentiles, load, test data and settings."""

from __future__ import annotations

import csv
import json
import os
import resource
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from bot.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT.parent / "shared" / "data"
BENCH_REPO = "bench/widgets"

if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


def _proc_mib(path: str, field: str) -> float:
    """The kB figure `field` of a `/proc` file, in MiB (0 once the process is gone)."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _own_rss_mb(pid: int | str) -> float:
    return _proc_mib(f"/proc/{pid}/status", "VmRSS:")


def _descendants(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def rss_mb(pid: int | None = None) -> float:
    """Resident set size in MiB of `pid` (this process by default) and its child processes.

    The children count: the embedded vector database runs in one (`storage/chroma.py`).
    """
    root = pid or os.getpid()
    if not Path(f"/proc/{root}/status").exists():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return _own_rss_mb(root) + sum(_own_rss_mb(child) for child in _descendants(root))


def _process_name(pid: int) -> str:
    """A short name of the process: its command line's module or script, else `comm`."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    words = [a.decode(errors="replace") for a in argv if a]
    if "-m" in words[:-1]:
        return words[words.index("-m") + 1]
    if "-c" in words[:-1]:
        code = words[words.index("-c") + 1]
        return "forkserver" if "forkserver" in code else "spawned" if "spawn" in code else "-c"
    return Path(words[0]).name if words else "?"


def _own_pss_mb(pid: int) -> float:
    """Proportional set size in MiB: shared pages split between the processes that map them."""
    return _proc_mib(f"/proc/{pid}/smaps_rollup", "Pss:")


def memory_by_process(pid: int) -> dict[str, tuple[float, float]]:
    """(RSS, PSS) in MiB of `pid` and each of its descendants, keyed `name[pid]`.

    RSS counts pages shared between a forked process and its parent once in each; PSS
    splits them, so the PSS values add up to what the tree really holds.
    """
    return {
        f"{_process_name(p)}[{p}]": (_own_rss_mb(p), _own_pss_mb(p))
        for p in sorted({pid} | _descendants(pid))
    }


def format_memory(by_process: Mapping[str, tuple[float, float]]) -> str:
    """One line per process: RSS and PSS in MiB, then the total of each."""
    lines = [
        f"  {name:<32} RSS {rss:6.0f}  PSS {pss:6.0f}" for name, (rss, pss) in by_process.items()
    ]
    total_rss = sum(rss for rss, _ in by_process.values())
    total_pss = sum(pss for _, pss in by_process.values())
    lines.append(f"  {'total':<32} RSS {total_rss:6.0f}  PSS {total_pss:6.0f}")
    return "\n".join(lines)


def _cpu_seconds(stat_path: str) -> float:
    """User + system CPU seconds from a `/proc/.../stat` file (0 once it is gone)."""
    try:
        fields = Path(stat_path).read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_by_part(worker_prefix: str = "embedder") -> dict[str, float]:
    """CPU seconds used so far by each part of this process and by its child processes.

    Parts: `loop` (the main thread, which runs the event loop), `inference` (threads whose
    name starts with `worker_prefix`), `other threads` (the rest of the process, exited
    threads included) and `children` (the vector database's process, for one).
    """
    import threading

    pid = os.getpid()
    total = _cpu_seconds(f"/proc/{pid}/stat")
    loop = _cpu_seconds(f"/proc/{pid}/task/{pid}/stat")
    workers = sum(
        _cpu_seconds(f"/proc/{pid}/task/{thread.native_id}/stat")
        for thread in threading.enumerate()
        if thread.name.startswith(worker_prefix) and thread.native_id is not None
    )
    children = sum(_cpu_seconds(f"/proc/{child}/stat") for child in _descendants(pid))
    return {
        "loop": loop,
        "inference": workers,
        "other threads": max(0.0, total - loop - workers),
        "children": children,
    }


def percentile_ms(samples: Sequence[float], q: float) -> float:
    """The `q`-th percentile of `samples` (seconds) in milliseconds; 0 when empty."""
    if not samples:
        return 0.0
    return float(np.percentile(np.asarray(samples) * 1000, q))


def describe_ms(samples: Sequence[float]) -> str:
    """`p50 / p99 / max` of `samples` (seconds) in milliseconds."""
    if not samples:
        return "no samples"
    return (
        f"p50 {percentile_ms(samples, 50):7.1f} ms  p99 {percentile_ms(samples, 99):7.1f} ms  "
        f"max {max(samples) * 1000:7.1f} ms  (n={len(samples)})"
    )


def machine_line() -> str:
    """CPU count, load average and Python version, printed at the top of every benchmark."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load}"


def verdict(ok: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if ok else "FAIL"


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """Yields a list that holds the elapsed seconds once the block ends."""
    box: list[float] = []
    started = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - started)


def feedback_texts(limit: int, data: Path = DATA_DIR, *, seed: int = 11) -> list[str]:
    """Up to `limit` distinct feedback texts: short Play Store reviews and NLBSE issues.

    Half (or as many as exist) are short reviews, the rest `title + body` of NLBSE issues,
    shuffled so short and long texts arrive interleaved, as in a busy feedback channel.
    """
    short: list[str] = []
    with (data / "short_feedback_dev.jsonl").open(encoding="utf-8") as stream:
        short += [json.loads(line)["text"] for line in stream if line.strip()]
    issues: list[str] = []
    csv.field_size_limit(2**30)
    with (data / "nlbse24_issues_train.csv").open(encoding="utf-8", newline="") as stream:
        for row in csv.DictReader(stream):
            body = (row["body"] or "").strip()
            issues.append(f"{row['title'].strip()}\n\n{body}".strip())
    short = list(dict.fromkeys(t.strip() for t in short if t.strip()))
    issues = list(dict.fromkeys(t for t in issues if t))
    take_short = min(len(short), limit // 2)
    texts = short[:take_short] + issues[: limit - take_short]
    rng = np.random.default_rng(seed)
    return [texts[i] for i in rng.permutation(len(texts))]


def issue_records(count: int, data: Path = DATA_DIR) -> list[dict[str, Any]]:
    """`count` GitHub-like issues (title, body, state, labels), cycling through the NLBSE data."""
    csv.field_size_limit(2**30)
    with (data / "nlbse24_issues_train.csv").open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    records = []
    for n in range(count):
        row = rows[n % len(rows)]
        suffix = "" if n < len(rows) else f" ({n // len(rows) + 1})"
        records.append(
            {
                "title": row["title"].strip() + suffix,
                "body": row["body"] or "",
                "state": "closed" if n % 5 == 0 else "open",
                "labels": [row["label"]],
            }
        )
    return records


def bench_settings(data_dir: Path, env: Mapping[str, str] | None = None) -> Settings:
    """Settings for an offline bot on `data_dir` that triages into `BENCH_REPO`."""
    from bot.sandbox.stack import settings_from_env

    owner, name = BENCH_REPO.split("/")
    values = {
        "DATA_DIR": str(data_dir),
        "GITHUB_OWNER": owner,
        "GITHUB_REPO": name,
        "GITHUB_TOKEN": "",
        "OPENAI_API_KEY": "",
        "DATABASE_URL": "",
        "CHROMA_URL": "",
        **(env or {}),
    }
    return settings_from_env(values)


def load_model() -> Any:
    """The bundled sentence-transformer, warmed up once."""
    from storage.embeddings import load_model as load

    model = load()
    model.encode(["warm up the model"], show_progress_bar=False)
    return model
