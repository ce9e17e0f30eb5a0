"""The int8 encoder: built from the bundled model and adapter, checked, with an fp32 fallback."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from storage.adapter import ADAPTER_PATH
from storage.embeddings import Embedder, model_path
from storage.encoders.artifact import (
    MODEL_FILE,
    PROBES_FILE,
    artifact_dir,
    artifact_key,
    ensure_artifact,
)
from storage.encoders.onnx_int8 import runs_by_length

TEXTS = [
    "app crashes when i open settings since the update",
    "pls add dark mode",
    "Export to PDF fails\n\nSteps:\n1. Open a document\n2. Choose File > Export\n" * 8,
    "崩溃 😱 on login",
    "",
    "how do I change my password?",
]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding the int8 artifact of the shipped model and adapter."""
    data_dir = tmp_path_factory.mktemp("int8-data")
    ensure_artifact(data_dir, Path(model_path()), ADAPTER_PATH)
    return data_dir


@pytest.fixture
def int8(built: Path) -> Iterator[Embedder]:
    own = Embedder(runtime="int8", data_dir=built, workers=2)
    yield own
    own.close()


def _copy_artifact(source: Path, target: Path) -> Path:
    """`source`'s artifact copied into the data directory `target`; its new directory."""
    model_dir = Path(model_path())
    copied = artifact_dir(target, model_dir, ADAPTER_PATH)
    shutil.copytree(artifact_dir(source, model_dir, ADAPTER_PATH), copied)
    return copied


def test_int8_vectors_are_close_to_the_fp32_models(int8: Embedder, embedder: Embedder) -> None:
    got = int8.encode(TEXTS * 3)
    assert int8.runtime == "int8"
    assert got.shape == (len(TEXTS) * 3, 384) and got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-4)
    cosines = np.sum(got[: len(TEXTS)] * embedder.encode(TEXTS), axis=1)
    assert cosines.mean() >= 0.99 and cosines.min() >= 0.97, cosines


def test_short_texts_are_never_padded_to_a_long_ones_length(int8: Embedder) -> None:
    """Activations are quantized per run: a long text runs apart from short ones."""
    alone = np.stack([int8.encoder.forward([text])[0] for text in TEXTS])
    together = int8.encoder.forward(TEXTS)
    np.testing.assert_allclose(together[2], alone[2], atol=1e-5)
    cosines = np.sum(alone * together, axis=1)
    assert cosines.mean() >= 0.99 and cosines.min() >= 0.96, cosines
    assert runs_by_length([3, 120, 5, 9, 40, 250, 4]) == [[0, 6, 2, 3], [4], [1], [5]]


def test_a_run_holds_a_bounded_number_of_word_pieces() -> None:
    assert runs_by_length([250] * 9, budget=1024) == [[0, 1, 2, 3], [4, 5, 6, 7], [8]]
    assert runs_by_length([20] * 60, budget=1024) == [list(range(51)), list(range(51, 60))]
    assert runs_by_length([2000], budget=1024) == [[0]]  # one text is never split


_BURST = """
import json, sys, time
from pathlib import Path
from storage.embeddings import Embedder

def rss():
    status = Path("/proc/self/status").read_text().splitlines()
    return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmRSS"))

release = None if sys.argv[2] == "never" else 0.5
embedder = Embedder(runtime="int8", data_dir=Path(sys.argv[1]), workers=2,
                    idle_release_seconds=release)
embedder.encode(["warm up"])
time.sleep(1.0)
before = rss()
words = "export fails with a stack trace in the renderer when the document is large".split()
texts = [" ".join(words[(n + i) % len(words)] for i in range(300)) + str(n) for n in range(96)]
embedder.encode(texts)
time.sleep(2.0)
print(json.dumps({"growth": rss() - before, "releases": embedder.idle_releases}))
"""


def _burst_growth(data_dir: Path, release: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _BURST, str(data_dir), release],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_memory_held_after_a_burst_of_long_texts_is_given_back(built: Path) -> None:
    """The model's activations for long texts do not stay resident once the bot is idle."""
    kept = _burst_growth(built, "never")
    released = _burst_growth(built, "after-idle")
    assert released["releases"] >= 1 and kept["releases"] == 0
    assert released["growth"] <= 0.5 * kept["growth"], (released, kept)
    assert released["growth"] < 80, released


def test_a_corrupt_artifact_falls_back_to_fp32(
    built: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    copied = _copy_artifact(built, tmp_path)
    (copied / MODEL_FILE).write_bytes((copied / MODEL_FILE).read_bytes()[:4096])
    caplog.set_level(logging.WARNING)
    fallback = Embedder(runtime="int8", data_dir=tmp_path, workers=1)
    try:
        assert fallback.runtime == "fp32"
        assert "falling back to fp32" in caplog.text
        assert fallback.encode(["app crashes on login"]).shape == (1, 384)
    finally:
        fallback.close()


def test_a_failing_probe_check_falls_back_to_fp32(
    built: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    copied = _copy_artifact(built, tmp_path)
    with np.load(copied / PROBES_FILE) as data:
        texts, vectors = data["texts"], data["vectors"]
    np.savez(copied / PROBES_FILE, texts=texts, vectors=np.roll(vectors, 1, axis=0))
    caplog.set_level(logging.WARNING)
    fallback = Embedder(runtime="int8", data_dir=tmp_path, workers=1)
    try:
        assert fallback.runtime == "fp32"
        assert "probe mean cosine" in caplog.text
    finally:
        fallback.close()


def test_the_artifact_is_named_by_the_model_and_the_adapter(tmp_path: Path) -> None:
    model_dir = Path(model_path())
    other = tmp_path / "adapter.npz"
    other.write_bytes(ADAPTER_PATH.read_bytes() + b"\0")
    keys = {artifact_key(model_dir, a) for a in (ADAPTER_PATH, None, other)}
    assert len(keys) == 3
    assert artifact_key(model_dir, ADAPTER_PATH) == artifact_key(model_dir, ADAPTER_PATH)


def test_embedding_runtime_names_a_known_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBEDDING_RUNTIME", "fp16")
    with pytest.raises(ValueError, match="EMBEDDING_RUNTIME"):
        Embedder()


_SERVICES_SCRIPT = """
import asyncio, json, sys

from bot.services import open_services
from bot.settings import Settings


async def main() -> None:
    async with open_services(Settings(_env_file=None), load_model_now=True) as services:
        verdict = await services.engine.classify("app crashes on login")
        heavy = ("torch", "sentence_transformers", "transformers", "langchain_openai", "openai")
        print(json.dumps({
            "runtime": services.embedder.runtime,
            "kind": verdict.kind,
            "loaded": [name for name in heavy if name in sys.modules],
        }))


if __name__ == "__main__":
    asyncio.run(main())
"""


def test_services_on_int8_never_import_torch_or_the_llm_stack(built: Path, tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    script = tmp_path / "serve.py"
    script.write_text(_SERVICES_SCRIPT)
    root = Path(__file__).resolve().parents[2]
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPENAI_", "DISCORD_", "GITHUB_", "DATABASE_URL", "CHROMA_URL"))
    }
    env |= {"EMBEDDING_RUNTIME": "int8", "DATA_DIR": str(built), "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"runtime": "int8", "kind": "bug", "loaded": []}


def test_the_index_is_embedded_again_when_the_runtime_changes(
    int8: Embedder, embedder: Embedder, tmp_path: Path
) -> None:
    """fp32 and int8 vectors differ slightly: a collection is tagged with the runtime too."""
    import asyncio

    from storage.vectors import StoredDocument, VectorStore

    docs = [StoredDocument(f"issue:{n}", text) for n, text in enumerate(TEXTS) if text]
    on_fp32 = VectorStore.open(data_dir=tmp_path, embedder=embedder)
    on_fp32.upsert_sync("octo/widgets", docs)
    assert on_fp32.stale_repositories_sync() == []
    on_fp32.close()

    on_int8 = VectorStore.open(data_dir=tmp_path, embedder=int8)
    assert on_int8.model != on_fp32.model
    assert on_int8.stale_repositories_sync() == ["octo/widgets"]
    assert asyncio.run(on_int8.reembed_stale()) == len(docs)
    ids, stored = on_int8.vectors_sync("octo/widgets", [doc.id for doc in docs])
    texts = {doc.id: doc.text for doc in docs}
    np.testing.assert_allclose(stored, int8.encode([texts[i] for i in ids]), atol=1e-5)
    assert on_int8.stale_repositories_sync() == []
    on_int8.close()

    back = VectorStore.open(data_dir=tmp_path, embedder=embedder)
    assert back.stale_repositories_sync() == ["octo/widgets"]
    back.close()
