"""The int8 encoder's artifact: where it lives, what names it, and building it when missing.

An artifact is a directory under `DATA_DIR/encoders/` named by a hash of the bundled
model's weights and tokenizer, the adapter, and the exporter (its version and the versions
of the libraries that export and quantize). It holds the quantized ONNX model and the fp32
model's vectors of the probe texts (`storage.encoders.probes`), which the int8 encoder is
checked against at load. It is built by `storage.encoders.export` in a child process, so
the process that serves inference never imports PyTorch.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import threading
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

log = logging.getLogger(__name__)

#: Bumped whenever the export or quantization changes what the artifact holds.
EXPORTER_VERSION = "2"
MODEL_FILE = "model.int8.onnx"
PROBES_FILE = "probes.npz"
#: Files of the bundled model that decide the vectors.
_MODEL_INPUTS = ("model.safetensors", "tokenizer.json", "config.json", "sentence_bert_config.json")
_LIBRARIES = ("torch", "onnx", "onnxruntime")
#: A build takes about a minute on 2 CPUs; a stuck one is given up after this.
BUILD_TIMEOUT_SECONDS = 1800
_build_lock = threading.Lock()


def _library_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "none"


def artifact_key(model_dir: Path, adapter: Path | None) -> str:
    """Hash of everything the artifact is made from (first 16 hex digits)."""
    digest = hashlib.sha256(f"exporter {EXPORTER_VERSION}\n".encode())
    for name in _LIBRARIES:
        digest.update(f"{name} {_library_version(name)}\n".encode())
    for name in _MODEL_INPUTS:
        digest.update(name.encode())
        digest.update(hashlib.sha256((model_dir / name).read_bytes()).digest())
    if adapter is not None and adapter.exists():
        digest.update(b"adapter")
        digest.update(hashlib.sha256(adapter.read_bytes()).digest())
    return digest.hexdigest()[:16]


def artifact_dir(data_dir: Path, model_dir: Path, adapter: Path | None) -> Path:
    """Where the artifact for this model and adapter lives (built or not)."""
    return data_dir / "encoders" / f"int8-{artifact_key(model_dir, adapter)}"


def is_built(directory: Path) -> bool:
    """True when `directory` holds a complete artifact."""
    return (directory / MODEL_FILE).is_file() and (directory / PROBES_FILE).is_file()


def ensure_artifact(data_dir: Path, model_dir: Path, adapter: Path | None) -> Path:
    """The artifact's directory, built first in a child process when missing (blocking).

    Call it from a worker thread, never the event loop. The child writes into a temporary
    directory that is renamed into place, so an interrupted build leaves no half artifact.

    Raises:
        RuntimeError: The build failed.
    """
    target = artifact_dir(data_dir, model_dir, adapter)
    with _build_lock:
        if is_built(target):
            return target
        log.info("building the int8 embedding model in %s (once, about a minute)", target)
        command = [sys.executable, "-m", "storage.encoders.export", "--out", str(target)]
        if adapter is not None:
            command += ["--adapter", str(adapter)]
        else:
            command += ["--no-adapter"]
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_SECONDS,
            env={**os.environ, "PYTHONPATH": _import_root()},
            check=False,
        )
        if result.returncode != 0 or not is_built(target):
            tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
            raise RuntimeError(f"int8 model build failed: {' | '.join(tail) or result.returncode}")
    return target


def _import_root() -> str:
    """`PYTHONPATH` for the child: this checkout first, so it builds with this code."""
    root = str(Path(__file__).resolve().parents[2])
    inherited = os.environ.get("PYTHONPATH")
    return f"{root}{os.pathsep}{inherited}" if inherited else root
