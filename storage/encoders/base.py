"""What every sentence encoder offers the `Embedder`, and which one a process runs."""

from __future__ import annotations

import os
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

#: `int8`: ONNX Runtime on the quantized artifact (no PyTorch); `fp32`: the PyTorch model.
Runtime = Literal["int8", "fp32"]
RUNTIMES: tuple[Runtime, ...] = ("int8", "fp32")


class Encoder(Protocol):
    """Turns one forward pass of texts into unit-length sentence vectors."""

    runtime: Runtime

    def forward(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """Vectors of shape (len(texts), 384), in the order of `texts`; thread-safe."""
        ...

    def release_memory(self) -> None:
        """Give back memory kept from earlier passes (called when idle; thread-safe)."""
        ...


def default_runtime() -> Runtime:
    """The runtime `EMBEDDING_RUNTIME` names (int8 when unset).

    Raises:
        ValueError: The variable names no runtime.
    """
    value = os.environ.get("EMBEDDING_RUNTIME", "int8").strip().lower() or "int8"
    if value not in RUNTIMES:
        raise ValueError(f"EMBEDDING_RUNTIME must be one of {', '.join(RUNTIMES)}, not {value!r}")
    return value  # type: ignore[return-value]
