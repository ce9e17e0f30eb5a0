"""Regenerate agents/engines/classifier_head.npz from the NLBSE'24 training issues."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from agents.engines.classifier import ARTIFACT_PATH  # noqa: E402
from agents.engines.training import (  # noqa: E402
    default_data_dir,
    embed_issues,
    embed_prototypes,
    fit_classifier,
    read_issues,
)
from storage.embeddings import Embedder  # noqa: E402

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Embed the issues and hand-written examples, fit the heads and write the artifact.

    Args:
        argv: Command-line arguments (defaults to `sys.argv[1:]`).

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--output", type=Path, default=ARTIFACT_PATH)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    started = time.perf_counter()
    embedder = Embedder()
    try:
        full_texts, titles, labels = read_issues(args.data_dir)
        log.info("embedding %d issues (full text and title)", len(full_texts))
        issues = embed_issues(full_texts, titles, labels, embedder.encode)
        prototypes = embed_prototypes(embedder.encode)
    finally:
        embedder.close()
    classifier = fit_classifier(issues, prototypes)
    classifier.save(args.output)
    size_kib = args.output.stat().st_size / 1024
    log.info("wrote %s (%.0f KiB) in %.0f s", args.output, size_kib, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
