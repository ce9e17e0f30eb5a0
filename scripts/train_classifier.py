"""Regenerate the embedding adapter and the classifier head from the NLBSE'24 training issues.

First a low-rank adapter of the embedding model is trained on every issue (full text and
title) and written to storage/embedding_adapter.npz; then the issues and hand-written
examples are embedded by the adapted model and the classifier's heads are fitted on those
vectors, with the chat path's bug/feature prior fitted on the hand-labelled app reviews
(CLAP), and written to agents/engines/classifier_head.npz. About 10 minutes on 2 CPUs.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from agents.engines.base import KINDS  # noqa: E402
from agents.engines.classifier import ARTIFACT_PATH  # noqa: E402
from agents.engines.fine_tune import FineTuneConfig, fine_tuned_model  # noqa: E402
from agents.engines.text_prep import embedding_text  # noqa: E402
from agents.engines.training import (  # noqa: E402
    adapter_examples,
    default_data_dir,
    embed_issues,
    embed_prototypes,
    fit_classifier,
    fit_review_prior,
    read_issues,
    read_reviews,
)
from storage.adapter import ADAPTER_PATH, save_adapter  # noqa: E402
from storage.embeddings import Embedder, data_dir_from_env, load_model, model_path  # noqa: E402
from storage.encoders.artifact import artifact_dir  # noqa: E402
from storage.encoders.export import build_artifact  # noqa: E402

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Train the adapter, embed the issues and examples with it, fit the heads, write both.

    Args:
        argv: Command-line arguments (defaults to `sys.argv[1:]`).

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--output", type=Path, default=ARTIFACT_PATH)
    parser.add_argument("--adapter", type=Path, default=ADAPTER_PATH)
    parser.add_argument(
        "--keep-adapter", action="store_true", help="refit the heads on the adapter in place"
    )
    parser.add_argument(
        "--int8-dir",
        type=Path,
        default=data_dir_from_env(),
        help="data directory that gets the int8 model of the new adapter (default: DATA_DIR)",
    )
    parser.add_argument("--no-int8", action="store_true", help="do not build the int8 model")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    started = time.perf_counter()
    full_texts, titles, labels = read_issues(args.data_dir)
    if not args.keep_adapter:
        config = FineTuneConfig()
        texts, targets = adapter_examples(full_texts, titles, [KINDS.index(k) for k in labels])
        log.info("training the embedding adapter on %d texts", len(texts))
        _, factors = fine_tuned_model(texts, targets, config)
        save_adapter(args.adapter, factors, config.scale)
        log.info("wrote %s (%.0f KiB)", args.adapter, args.adapter.stat().st_size / 1024)
    # The heads learn from the vectors the bot will make: the adapter as saved, merged at load.
    embedder = Embedder(load_model(adapter=args.adapter))
    try:
        log.info("embedding %d issues (full text and title)", len(full_texts))
        issues = embed_issues(full_texts, titles, labels, embedder.encode)
        prototypes = embed_prototypes(embedder.encode)
        reviews = read_reviews(args.data_dir)
        log.info("embedding %d app reviews for the chat path's bug/feature prior", len(reviews))
        review_vectors = embedder.encode([embedding_text(r["text"]) for r in reviews])
        prior = fit_review_prior(
            review_vectors, [r["category"] for r in reviews], embedder.encode, prototypes
        )
    finally:
        embedder.close()
    classifier = fit_classifier(issues, prototypes, short_prior=prior)
    classifier.save(args.output)
    size_kib = args.output.stat().st_size / 1024
    log.info("wrote %s (%.0f KiB) in %.0f s", args.output, size_kib, time.perf_counter() - started)
    if not args.no_int8:
        build_artifact(artifact_dir(args.int8_dir, Path(model_path()), args.adapter), args.adapter)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
