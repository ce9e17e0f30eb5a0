"""Fine-tunes the embedding model on labelled issues with a low-rank adapter (CPU, minutes).

Only the adapter's factors train (rank 8 on every linear layer of the transformer, about
330k numbers); the model's own weights stay frozen. The objective is cross-entropy over
bug / feature / question through a cosine head on the sentence embedding, on both views of
each issue (full text and title), so short and long texts of a kind move together.
"""

from __future__ import annotations

import logging
import math
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from agents.engines.base import KINDS
from storage.adapter import Factors, merge_factors, target_layers, transformer_of

if TYPE_CHECKING:
    import torch
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FineTuneConfig:
    """Hyper-parameters of the shipped adapter, chosen by cross-validation on the issues."""

    rank: int = 8
    scale: float = 2.0
    epochs: int = 3
    batch_size: int = 16
    learning_rate: float = 5e-4
    head_learning_rate: float = 1e-2
    weight_decay: float = 0.01
    warmup_share: float = 0.1
    logit_scale: float = 20.0
    seed: int = 0


def _low_rank_class() -> type[torch.nn.Module]:
    import torch

    class LowRankLinear(torch.nn.Module):
        """A frozen linear layer plus a trainable `scale * B @ A` beside it."""

        def __init__(self, base: torch.nn.Linear, rank: int, scale: float) -> None:
            super().__init__()
            self.base = base
            self.scale = scale
            fan_in = base.in_features
            self.a = torch.nn.Parameter(torch.randn(rank, fan_in) / math.sqrt(fan_in))
            self.b = torch.nn.Parameter(torch.zeros(base.out_features, rank))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.base(x) + (x @ self.a.t() @ self.b.t()) * self.scale

    return LowRankLinear


def _length_batches(texts: Sequence[str], size: int, rng: random.Random) -> list[list[int]]:
    """Indices of `texts` in batches of similar length (less padding), in random order."""
    order = sorted(range(len(texts)), key=lambda i: (len(texts[i]), i))
    batches = [order[i : i + size] for i in range(0, len(order), size)]
    rng.shuffle(batches)
    return batches


def train_adapter(
    model: SentenceTransformer,
    texts: Sequence[str],
    labels: Sequence[int],
    config: FineTuneConfig | None = None,
) -> Factors:
    """Train an adapter for `model` on `(texts, labels)`; the model is left unchanged.

    Args:
        model: The base embedding model (frozen during training).
        texts: Training texts, already in the form the classifier embeds.
        labels: Index into `KINDS` per text.
        config: Hyper-parameters; the shipped defaults when omitted.

    Returns:
        The factors `{layer path: (A, B)}` for `storage.adapter.merge_factors`.
    """
    import torch

    config = config or FineTuneConfig()
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
    transformer = transformer_of(model)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    low_rank = _low_rank_class()
    originals = target_layers(transformer)
    adapted = {}
    for name, layer in originals.items():
        parent_name, _, attribute = name.rpartition(".")
        wrapper = low_rank(layer, config.rank, config.scale)
        setattr(transformer.get_submodule(parent_name), attribute, wrapper)
        adapted[name] = wrapper
    head = torch.nn.Linear(transformer.config.hidden_size, len(KINDS))
    optimizer = torch.optim.AdamW(
        [
            {
                "params": [p for w in adapted.values() for p in (w.a, w.b)],
                "lr": config.learning_rate,
            },
            {"params": head.parameters(), "lr": config.head_learning_rate},
        ],
        weight_decay=config.weight_decay,
    )
    steps = config.epochs * math.ceil(len(texts) / config.batch_size)
    warmup = max(1, int(config.warmup_share * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min((step + 1) / warmup, max(0.0, (steps - step) / max(1, steps - warmup))),
    )
    targets = torch.tensor(list(labels), dtype=torch.long)
    started = time.perf_counter()
    model.eval()  # no dropout: few numbers train, and a pass runs 3x faster without it
    try:
        for epoch in range(config.epochs):
            total = 0.0
            for batch in _length_batches(texts, config.batch_size, rng):
                features = model.preprocess([texts[i] for i in batch])
                embeddings = model(dict(features))["sentence_embedding"]
                logits = head(config.logit_scale * torch.nn.functional.normalize(embeddings))
                loss = torch.nn.functional.cross_entropy(logits, targets[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
                total += float(loss.detach()) * len(batch)
            log.info(
                "adapter epoch %d/%d: loss %.3f (%.0f s)",
                epoch + 1,
                config.epochs,
                total / len(texts),
                time.perf_counter() - started,
            )
    finally:
        for name, layer in originals.items():
            parent_name, _, attribute = name.rpartition(".")
            setattr(transformer.get_submodule(parent_name), attribute, layer)
    return {
        name: (
            wrapper.a.detach().numpy().astype(np.float32),
            wrapper.b.detach().numpy().astype(np.float32),
        )
        for name, wrapper in adapted.items()
    }


def fine_tuned_model(
    texts: Sequence[str], labels: Sequence[int], config: FineTuneConfig | None = None
) -> tuple[SentenceTransformer, Factors]:
    """A fresh copy of the bundled model with an adapter trained on `(texts, labels)` merged in.

    Returns:
        `(model, factors)`: the merged model and the adapter's factors (to save).
    """
    from storage.embeddings import load_model

    config = config or FineTuneConfig()
    model = load_model(adapter=None)
    factors = train_adapter(model, texts, labels, config)
    merge_factors(model, factors, config.scale)
    return model, factors
