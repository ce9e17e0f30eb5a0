"""An `Embedder` whose vectors persist on disk between benchmark runs.

Keys are a digest of the model's fingerprint (the adapter file's bytes, or "base") and the
text as the model reads it, so a retrained adapter never reuses stale vectors.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from storage.adapter import ADAPTER_PATH
from storage.embeddings import Embedder, load_model

#: Where the benchmarks keep their vectors (ignored by git).
CACHE_DIR = Path(__file__).resolve().parent.parent / ".benchmarks" / "vectors"
_MAX_CHARS = 4000


def model_fingerprint(adapter: Path | None) -> str:
    """A short digest naming the model: the adapter's bytes, or `base`."""
    if adapter is None:
        return "base"
    return hashlib.sha1(adapter.read_bytes()).hexdigest()[:16]


class CachedEmbedder(Embedder):
    """`Embedder` backed by an `.npz` file per model fingerprint; `save` writes new vectors."""

    def __init__(self, adapter: Path | None = ADAPTER_PATH, cache_dir: Path = CACHE_DIR) -> None:
        super().__init__(load_model(adapter=adapter), cache_size=1)
        self.fingerprint = model_fingerprint(adapter)
        self.path = cache_dir / f"{self.fingerprint}.npz"
        self._disk: dict[str, npt.NDArray[np.float32]] = {}
        self._dirty = False
        if self.path.exists():
            with np.load(self.path) as data:
                self._disk = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha1(text[:_MAX_CHARS].encode("utf-8")).hexdigest()

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Vectors from the disk cache; only unseen texts go through the model."""
        keys = [self._key(text) for text in texts]
        missing = sorted({i for i, key in enumerate(keys) if key not in self._disk})
        if missing:
            fresh = super().encode([texts[i] for i in missing])
            for i, vector in zip(missing, fresh, strict=True):
                self._disk[keys[i]] = vector
            self._dirty = True
        if not keys:
            return np.empty((0, 384), dtype=np.float32)
        return np.vstack([self._disk[key] for key in keys]).astype(np.float32)

    def save(self) -> None:
        """Write the cache file if anything new was embedded."""
        if not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = list(self._disk)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, keys=np.array(keys), vectors=np.vstack([self._disk[k] for k in keys]))
        tmp.replace(self.path)
        self._dirty = False

    def close(self) -> None:
        """Save, then release the workers."""
        self.save()
        super().close()
