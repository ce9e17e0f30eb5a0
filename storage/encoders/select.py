"""Which encoder a process runs: the checked int8 artifact, or the fp32 model as fallback."""

from __future__ import annotations

import logging
from pathlib import Path

from storage.adapter import ADAPTER_PATH
from storage.encoders.base import Encoder, Runtime

log = logging.getLogger(__name__)


def open_int8(data_dir: Path, *, adapter: Path | None = ADAPTER_PATH, threads: int = 1) -> Encoder:
    """The int8 encoder of the bundled model and `adapter`, built when missing and checked.

    Blocking (a build takes about a minute, in a child process): call it off the event loop.

    Raises:
        Exception: The artifact cannot be built or loaded, or fails the probe check.
    """
    from storage.embeddings import model_path
    from storage.encoders.artifact import ensure_artifact
    from storage.encoders.onnx_int8 import OnnxInt8Encoder

    model_dir = Path(model_path())
    artifact = ensure_artifact(data_dir, model_dir, adapter)
    encoder = OnnxInt8Encoder(artifact, model_dir, threads=threads)
    cosine = encoder.check()
    log.info("int8 embedding model %s in use (probe cosine %.4f)", artifact.name, cosine)
    return encoder


def open_fp32(*, adapter: Path | None = ADAPTER_PATH, scripted: bool = True) -> Encoder:
    """The fp32 PyTorch encoder of the bundled model with `adapter` merged."""
    from storage.embeddings import load_model
    from storage.encoders.torch_fp32 import TorchEncoder

    return TorchEncoder(load_model(adapter=adapter), scripted=scripted)


def open_encoder(
    runtime: Runtime,
    data_dir: Path,
    *,
    adapter: Path | None = ADAPTER_PATH,
    threads: int = 1,
    scripted: bool = True,
) -> Encoder:
    """The encoder `runtime` names; int8 falls back to fp32 (with a log line) when it fails."""
    if runtime == "int8":
        try:
            return open_int8(data_dir, adapter=adapter, threads=threads)
        except Exception as exc:
            log.warning("int8 embedding model not used (%s); falling back to fp32", exc)
    return open_fp32(adapter=adapter, scripted=scripted)
