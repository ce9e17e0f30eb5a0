"""Build the int8 artifact: export the adapted model to ONNX, quantize it, store probe vectors.

Run as `python -m storage.encoders.export --out DIR` (that is how `ensure_artifact` runs it,
in a child process) or call `build_artifact`. Needs PyTorch; the result does not.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from storage.adapter import ADAPTER_PATH
from storage.encoders.artifact import MODEL_FILE, PROBES_FILE
from storage.encoders.probes import PROBE_TEXTS

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

#: Linear layers left in fp32 (by their exported node name), see `quantize`.
_FP32_LAYER = "/output/dense/"
#: Operator set of the export (ONNX Runtime 1.32 supports up to 23).
OPSET = 17


def export_onnx(model: SentenceTransformer, path: Path) -> None:
    """Write `model`'s pooled, normalised encoder as an fp32 ONNX graph with dynamic shapes."""
    import torch

    from storage.adapter import transformer_of
    from storage.encoders.traceable import INPUTS, PooledEncoder

    features = model.preprocess(["a probe sentence", "a second, longer probe sentence here"])
    inputs = tuple(features[name] for name in INPUTS)
    dynamic = {0: "batch", 1: "tokens"}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            PooledEncoder(transformer_of(model)).eval(),
            inputs,
            str(path),
            input_names=list(INPUTS),
            output_names=["sentence_embedding"],
            dynamic_axes={name: dynamic for name in INPUTS} | {"sentence_embedding": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )


def quantize(source: Path, target: Path) -> None:
    """Dynamic int8 quantization of the weights (per channel), activations quantized at run time.

    The feed-forward down projections (`output.dense` of each block) stay fp32: their inputs
    carry the outliers that cost most of the int8 error (probe cosine 0.989 with them
    quantized, 0.993 without, on the adapted model).
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(source), load_external_data=False).graph
    keep_fp32 = [
        node.name
        for node in graph.node
        if node.op_type == "MatMul" and _FP32_LAYER in node.name and "attention" not in node.name
    ]
    quantize_dynamic(
        str(source),
        str(target),
        per_channel=True,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=keep_fp32,
    )


def build_artifact(out: Path, adapter: Path | None = ADAPTER_PATH) -> Path:
    """Export, quantize and store probe vectors into `out` (replaced atomically)."""
    from storage.embeddings import load_model

    model = load_model(adapter=adapter)
    probes = np.asarray(
        model.encode(list(PROBE_TEXTS), batch_size=64, normalize_embeddings=True), np.float32
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}-") as work:
        staging = Path(work) / "artifact"
        staging.mkdir()
        fp32 = Path(work) / "model.fp32.onnx"
        export_onnx(model, fp32)
        quantize(fp32, staging / MODEL_FILE)
        np.savez(staging / PROBES_FILE, texts=np.array(PROBE_TEXTS), vectors=probes)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    log.info("wrote %s (%.1f MB)", out, (out / MODEL_FILE).stat().st_size / 1e6)
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line of `build_artifact`."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--adapter", type=Path, default=ADAPTER_PATH)
    parser.add_argument("--no-adapter", action="store_true", help="export the base model")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.INFO)
    build_artifact(args.out, None if args.no_adapter else args.adapter)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
