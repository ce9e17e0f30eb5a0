"""How often the "missing details" check fires, on GitHub bug reports and short app feedback.

Prints the share of bug reports that would get questions, and a random sample of each
with what was found missing, for a reading by hand.

    .venv/bin/python benchmarks/details_rate.py [--data DIR] [--sample 8]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from pathlib import Path

from agents.text import normalize
from agents.triage.details import missing_parts, questions_for

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _nlbse_bugs(data: Path) -> list[str]:
    csv.field_size_limit(sys.maxsize)
    with (data / "nlbse24_issues_train.csv").open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["label"] == "bug"]
    return [normalize(f"{r['title']}\n\n{r['body']}") for r in rows]


def _short_bugs(data: Path) -> list[str]:
    with (data / "short_feedback_dev.jsonl").open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return [normalize(r["text"]) for r in rows if r["label"] == "bug"]


def _report(name: str, texts: list[str], sample: int, rng: random.Random) -> None:
    asked = [t for t in texts if questions_for(t)]
    share = len(asked) / len(texts)
    print(f"{name}: {len(asked)}/{len(texts)} bug reports get questions ({share:.1%})")
    for text in rng.sample(texts, min(sample, len(texts))):
        missing = [p.name for p in missing_parts(text)]
        verdict = "asks" if questions_for(text) else "ok  "
        print(f"  {verdict} missing={missing} | {text[:110]!r}")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sample", type=int, default=8)
    args = parser.parse_args()
    rng = random.Random(7)
    _report("NLBSE'24 GitHub bug reports", _nlbse_bugs(args.data), args.sample, rng)
    _report("short app feedback labeled bug", _short_bugs(args.data), args.sample, rng)


if __name__ == "__main__":
    main()
