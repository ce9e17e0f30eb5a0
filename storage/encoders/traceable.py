"""The transformer as a module of positional tensors, the form tracing and ONNX export take.

Imports PyTorch: only code that runs the model in PyTorch imports this module
(`storage.scripted` traces `TokenEmbeddings`, `storage.encoders.export` exports `PooledEncoder`).
"""

from __future__ import annotations

import torch

#: Tokeniser outputs the transformer reads, in the modules' argument order.
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class TokenEmbeddings(torch.nn.Module):
    """The transformer's last hidden state from positional tensors (traceable)."""

    def __init__(self, transformer: torch.nn.Module) -> None:
        super().__init__()
        self.transformer = transformer

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor,
    ) -> torch.Tensor:
        """Token embeddings of shape (batch, tokens, hidden)."""
        outputs = self.transformer(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            return_dict=False,
        )
        hidden: torch.Tensor = outputs[0]
        return hidden


class PooledEncoder(TokenEmbeddings):
    """The transformer with mean pooling and normalisation, as one exportable module."""

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor,
    ) -> torch.Tensor:
        """Unit-length sentence embeddings of shape (batch, hidden)."""
        hidden = super().forward(input_ids, attention_mask, token_type_ids)
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        summed = (hidden * mask).sum(dim=1)
        pooled = summed / mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2, dim=1)
