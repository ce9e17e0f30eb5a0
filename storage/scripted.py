"""The embedding model's transformer as TorchScript, so a forward pass runs without the GIL.

Run eagerly, the model's modules are called from Python between kernels, and each call
takes the GIL back: with the event loop, the database threads and another inference
worker wanting it too, a forward pass then waits on the GIL for a good part of its time.
A traced transformer runs the whole pass in C++ with the GIL released. Its output is
checked against the eager model before use; pooling and normalisation stay the model's own.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

#: Largest difference from the eager model's embeddings that still counts as the same.
TOLERANCE = 1e-5
_TRACE_TEXTS = ["a probe sentence", "a second, somewhat longer probe sentence for the batch"]
# Other batch size and lengths than the trace, up to the model's truncation: shapes stay dynamic.
_CHECK_TEXTS = [
    "app crashes on login",
    "Dark mode please " * 4,
    "When I open the settings page after the update the whole window freezes. " * 30,
]

SentenceForward = Callable[[dict[str, Any]], "torch.Tensor"]


def scripted_forward(model: SentenceTransformer) -> SentenceForward | None:
    """Tokenised features -> sentence embeddings through a traced transformer.

    Args:
        model: A loaded sentence-transformers model whose first module is its transformer.

    Returns:
        The forward function (call it under `torch.inference_mode()`), or None when the model
        cannot be traced or the traced one disagrees with it; callers then run it eagerly.
    """
    import torch

    from storage.encoders.traceable import INPUTS, TokenEmbeddings

    try:
        modules = list(model)
        transformer = getattr(modules[0], "auto_model", None)
        probe = model.preprocess(_TRACE_TEXTS)
        if not isinstance(transformer, torch.nn.Module) or any(n not in probe for n in INPUTS):
            return None
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(
                TokenEmbeddings(transformer).eval(),
                tuple(probe[name] for name in INPUTS),
                check_trace=False,
            )

        def forward(features: dict[str, Any]) -> torch.Tensor:
            out = dict(features)
            out["token_embeddings"] = traced(*(features[name] for name in INPUTS))
            for module in modules[1:]:
                out = module(out)
            embeddings: torch.Tensor = out["sentence_embedding"]
            return embeddings

        with torch.inference_mode():
            check = model.preprocess(_CHECK_TEXTS)
            expected = model(dict(check))["sentence_embedding"]
            difference = float((forward(check) - expected).abs().max())
    except Exception:
        log.warning("embedding model not traced; it runs eagerly", exc_info=True)
        return None
    if difference > TOLERANCE:
        log.warning("traced embedding model differs by %.2g; it runs eagerly", difference)
        return None
    return forward
