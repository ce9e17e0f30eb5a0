"""Sentence encoders behind the `Embedder`: the int8 ONNX runtime and the fp32 PyTorch model.

Both turn a pass of texts into unit-length mean-pooled vectors (`Encoder`). The int8 one
runs an artifact built once from the bundled model with the adapter merged
(`storage.encoders.artifact`) and imports no PyTorch; the fp32 one is the fallback.
"""

from __future__ import annotations

from storage.encoders.base import Encoder, Runtime, default_runtime

__all__ = ["Encoder", "Runtime", "default_runtime"]
