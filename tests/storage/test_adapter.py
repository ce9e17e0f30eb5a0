"""The embedding adapter: file format, merging, the shipped file, and training on the real model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from agents.engines.fine_tune import FineTuneConfig, train_adapter
from storage.adapter import (
    ADAPTER_PATH,
    BASE_TAG,
    TARGETS,
    apply_adapter,
    load_adapter,
    merge_factors,
    model_tag,
    save_adapter,
    target_layers,
    transformer_of,
)
from storage.embeddings import Embedder, load_model

BUGS = [
    "app crashes when i open settings",
    "login button does nothing since the update",
    "the export freezes at 99 percent",
    "sound cuts out after a minute",
    "black screen on launch",
    "messages fail to send",
]
FEATURES = [
    "please add a dark mode",
    "would love an option to export as pdf",
    "add keyboard shortcuts for the editor",
    "support for multiple accounts please",
    "let us pin favourite channels",
    "add a widget for the home screen",
]
QUESTIONS = [
    "how do i reset my password?",
    "is there a way to change the language?",
    "where are my saved files stored?",
    "does it work offline?",
    "can i use it on two phones?",
    "what does the sync icon mean?",
]


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def _separation(embedder: Embedder) -> float:
    """Mean cosine within a kind minus mean cosine across kinds."""
    groups = [embedder.encode(texts) for texts in (BUGS, FEATURES, QUESTIONS)]
    within = np.mean([np.mean(g @ g.T) for g in groups])
    across = np.mean([np.mean(a @ b.T) for i, a in enumerate(groups) for b in groups[i + 1 :]])
    return float(within - across)


@pytest.fixture(scope="module")
def base_model():  # type: ignore[no-untyped-def]
    """The bundled model without an adapter."""
    return load_model(adapter=None)


def test_every_linear_layer_of_each_block_is_a_target(base_model) -> None:  # type: ignore[no-untyped-def]
    layers = target_layers(transformer_of(base_model))
    blocks = transformer_of(base_model).config.num_hidden_layers
    assert len(layers) == blocks * len(TARGETS)
    assert all(isinstance(layer, torch.nn.Linear) for layer in layers.values())


def test_saved_factors_load_back_and_merge_as_scaled_product(tmp_path: Path) -> None:
    model = load_model(adapter=None)
    name = "encoder.layer.0.attention.self.query"
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 384)).astype(np.float32)
    b = rng.normal(size=(384, 4)).astype(np.float32)
    path = tmp_path / "adapter.npz"
    save_adapter(path, {name: (a, b)}, scale=0.5)
    factors, scale = load_adapter(path)
    assert scale == 0.5
    np.testing.assert_allclose(factors[name][0], a, atol=2e-3)

    before = target_layers(transformer_of(model))[name].weight.detach().clone()
    assert apply_adapter(model, path)
    after = target_layers(transformer_of(model))[name].weight.detach()
    expected = 0.5 * factors[name][1] @ factors[name][0]
    np.testing.assert_allclose((after - before).numpy(), expected, atol=1e-4)


def test_an_adapter_that_does_not_fit_the_model_is_refused(tmp_path: Path) -> None:
    model = load_model(adapter=None)
    wrong = {"encoder.layer.0.attention.self.query": (np.zeros((2, 10)), np.zeros((384, 2)))}
    with pytest.raises(ValueError, match="does not fit"):
        merge_factors(model, wrong, 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="does not fit"):
        merge_factors(model, {"encoder.layer.9.nothing": (np.zeros((2, 384)),) * 2}, 1.0)  # type: ignore[dict-item]


def test_a_missing_adapter_leaves_the_base_model(tmp_path: Path, base_model) -> None:  # type: ignore[no-untyped-def]
    model = load_model(adapter=tmp_path / "absent.npz")
    assert not apply_adapter(model, tmp_path / "absent.npz")
    assert all(torch.equal(p, _weights(base_model)[n]) for n, p in _weights(model).items())
    assert model_tag(tmp_path / "absent.npz") == BASE_TAG


def test_the_tag_follows_the_adapter_file(tmp_path: Path) -> None:
    first, second = tmp_path / "first.npz", tmp_path / "second.npz"
    name = "encoder.layer.0.output.dense"
    save_adapter(first, {name: (np.ones((1, 1536)), np.ones((384, 1)))}, 1.0)  # type: ignore[dict-item]
    save_adapter(second, {name: (np.ones((1, 1536)), np.full((384, 1), 2.0))}, 1.0)  # type: ignore[dict-item]
    assert model_tag(first) != model_tag(second)
    assert model_tag(first).startswith("minilm-")


def test_the_shipped_adapter_changes_the_model_and_still_traces(base_model) -> None:  # type: ignore[no-untyped-def]
    assert ADAPTER_PATH.exists()
    adapted = Embedder(load_model())
    base = Embedder(base_model)
    try:
        assert adapted.scripted  # traced forward pass agrees with the eager adapted model
        texts = ["app crashes on login", "please add dark mode"]
        assert float(np.abs(adapted.encode(texts) - base.encode(texts)).max()) > 1e-3
        np.testing.assert_allclose(np.linalg.norm(adapted.encode(texts), axis=1), 1.0, atol=1e-5)
    finally:
        adapted.close()
        base.close()


def test_training_separates_the_kinds_and_leaves_the_model_alone() -> None:
    model = load_model(adapter=None)
    before = _weights(model)
    texts = BUGS + FEATURES + QUESTIONS
    labels = [0] * len(BUGS) + [1] * len(FEATURES) + [2] * len(QUESTIONS)
    config = FineTuneConfig(epochs=4, batch_size=6, learning_rate=2e-3)
    factors = train_adapter(model, texts, labels, config)

    assert all(torch.equal(p, before[n]) for n, p in _weights(model).items())
    assert not any(type(m).__name__ == "LowRankLinear" for m in model.modules())
    assert set(factors) == set(target_layers(transformer_of(model)))
    assert any(np.abs(b).max() > 0 for _, b in factors.values())

    untouched = Embedder(model)
    base_separation = _separation(untouched)
    untouched.close()
    merge_factors(model, factors, config.scale)
    tuned = Embedder(model)
    try:
        assert _separation(tuned) > base_separation + 0.05
    finally:
        tuned.close()
