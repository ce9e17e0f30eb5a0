"""The fp32 encoder: the sentence-transformers model in PyTorch, traced when it can be."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from storage.encoders.base import Runtime
from storage.memory import return_free_memory

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from storage.scripted import SentenceForward


class TorchEncoder:
    """Runs `model` (tokenizer, transformer, pooling, normalisation) on the calling thread.

    The transformer runs traced (`storage.scripted`) unless `scripted` is False or tracing
    fails, so a pass does not queue for the GIL. Each calling thread runs torch on one CPU:
    the inference workers share the CPUs without waiting on each other.
    """

    runtime: Runtime = "fp32"

    def __init__(self, model: SentenceTransformer, *, scripted: bool = True) -> None:
        self.model = model
        self._tokenize_lock = threading.Lock()  # a fast tokenizer is not safe across threads
        self._script_lock = threading.Lock()
        self._script_wanted = scripted
        self._script_done = False
        self._scripted: SentenceForward | None = None
        self._local = threading.local()

    def sentence_forward(self) -> SentenceForward | None:
        """The traced forward pass (built once), or None to run eagerly."""
        if not self._script_done:
            with self._script_lock, self._tokenize_lock:
                if not self._script_done:
                    from storage.scripted import scripted_forward

                    self._scripted = scripted_forward(self.model) if self._script_wanted else None
                    self._script_done = True
        return self._scripted

    def forward(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """One forward pass: unit-length sentence embeddings."""
        import torch

        if not getattr(self._local, "one_thread", False):
            torch.set_num_threads(1)  # per thread
            self._local.one_thread = True
        scripted = self.sentence_forward()
        with self._tokenize_lock:
            features = self.model.preprocess(texts)
        with torch.inference_mode():
            if scripted is not None:
                embeddings = scripted(dict(features))
            else:
                embeddings = self.model(dict(features))["sentence_embedding"]
            embeddings = torch.nn.functional.normalize(embeddings, p=2, dim=1)
        vectors: npt.NDArray[np.float32] = embeddings.float().numpy()
        return vectors

    def release_memory(self) -> None:
        """PyTorch frees its tensors to the C heap: hand its free pages back."""
        return_free_memory()
