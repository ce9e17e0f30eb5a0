"""Folds of `triage_eval.py` on int8: a fold's model quantized as the shipped artifact is."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from agents.engines.base import KINDS
from agents.engines.training import IssueSet, embed_issues
from storage.embeddings import Embedder

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


def quantized_embedder(model: SentenceTransformer) -> Embedder:
    """An embedder running `model` exported and quantized as the shipped int8 artifact is."""
    from storage.embeddings import model_path
    from storage.encoders.artifact import MODEL_FILE
    from storage.encoders.export import export_onnx, quantize
    from storage.encoders.onnx_int8 import OnnxInt8Encoder

    with tempfile.TemporaryDirectory(prefix="int8-fold-") as work:
        fp32 = Path(work) / "model.fp32.onnx"
        export_onnx(model, fp32)
        quantize(fp32, Path(work) / MODEL_FILE)
        # The session holds the graph in memory: the files may go once it is open.
        return Embedder(encoder=OnnxInt8Encoder(Path(work), Path(model_path())))


def held_out_int8(issues: IssueSet, test: np.ndarray, quantized: Embedder) -> IssueSet:
    """The held-out issues embedded by the int8 encoder."""
    held_out = issues.subset(test)
    names = [KINDS[label] for label in held_out.labels]
    return embed_issues(held_out.full_texts, held_out.titles, names, quantized.encode)
