"""The int8 encoder: the fast tokenizer and ONNX Runtime on the quantized artifact, no PyTorch."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from storage.encoders.artifact import MODEL_FILE, PROBES_FILE
from storage.encoders.base import Runtime
from storage.memory import return_free_memory

log = logging.getLogger(__name__)

DIMENSIONS = 384

#: Mean cosine to the fp32 model's probe vectors below which the artifact is not used.
MIN_PROBE_COSINE = 0.99
#: Word pieces the model reads (its `sentence_bert_config.json` says the same).
DEFAULT_MAX_TOKENS = 256
#: A run of a pass holds texts up to this many times (plus `_SLACK` pieces) as long as its
#: shortest: activations are quantized per run, so a short text padded to a long one's length
#: would lose precision (and time) to the padding.
_SPREAD = 2
_SLACK = 8
#: Most word pieces (rows x padded width) in one run. Activations grow with it, and ONNX
#: Runtime keeps its largest run's memory: 64 long texts at once held 1.7 GB. Runs this
#: small cost no speed on these CPUs (measured: long texts as fast, short ones faster).
RUN_TOKENS = 1024


class ProbeMismatchError(RuntimeError):
    """The int8 artifact's vectors are too far from the fp32 model's."""


class OnnxInt8Encoder:
    """Tokenizes with the model's fast tokenizer and runs the int8 graph in ONNX Runtime.

    Pooling and normalisation are inside the graph (exported from the same modules the
    sentence-transformers pipeline runs). A pass is cut into runs of similar length
    (`runs_by_length`), each padded to its own longest text only.
    `forward` may be called from several threads at once: each has its own tokenizer, and
    ONNX Runtime sessions run concurrent calls.
    """

    runtime: Runtime = "int8"

    def __init__(self, artifact: Path, model_dir: Path, *, threads: int = 1) -> None:
        import onnxruntime

        self._model_dir = model_dir
        self.max_tokens = _max_tokens(model_dir)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        # Every run has its own shape: a memory plan per shape would only be kept, not reused.
        options.enable_mem_pattern = False
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(
            str(artifact / MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._local = threading.local()
        self.artifact = artifact
        # `release_memory` runs on a timer thread: it would load a tokenizer for one word.
        self._idle_ids = self._tokenizer().encode("idle", add_special_tokens=True).ids
        self._shrink = onnxruntime.RunOptions()
        self._shrink.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def _tokenizer(self) -> Any:
        """This thread's tokenizer, truncating at `max_tokens` and padding nothing."""
        tokenizer = getattr(self._local, "tokenizer", None)
        if tokenizer is None:
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(self._model_dir / "tokenizer.json"))
            tokenizer.enable_truncation(max_length=self.max_tokens)
            tokenizer.no_padding()
            self._local.tokenizer = tokenizer
        return tokenizer

    def forward(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """Unit-length vectors of `texts`, shape (len(texts), 384)."""
        out = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        if not texts:
            return out
        pieces = [e.ids for e in self._tokenizer().encode_batch(texts, add_special_tokens=True)]
        for run in runs_by_length([len(ids) for ids in pieces]):
            out[run] = self._run([pieces[i] for i in run])
        return out

    def release_memory(self) -> None:
        """Give back the memory the largest runs left in ONNX Runtime's arena (when idle).

        One tiny run with arena shrinkage frees every chunk no run is using, then the C
        heap's free pages go back to the system.
        """
        self._run([self._idle_ids], self._shrink)
        return_free_memory()

    def _run(self, pieces: list[list[int]], options: Any = None) -> npt.NDArray[np.float32]:
        """One session call on texts padded to the longest of them."""
        width = max(len(ids) for ids in pieces)
        input_ids = np.zeros((len(pieces), width), dtype=np.int64)
        attention_mask = np.zeros((len(pieces), width), dtype=np.int64)
        for row, ids in enumerate(pieces):
            input_ids[row, : len(ids)] = ids
            attention_mask[row, : len(ids)] = 1
        feeds = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "token_type_ids": np.zeros_like(input_ids),
        }
        wanted = {k: v for k, v in feeds.items() if k in self._inputs}
        outputs = self._session.run(None, wanted, options)
        return np.asarray(outputs[0], dtype=np.float32)

    def probe_cosine(self) -> float:
        """Mean cosine between this encoder's and the fp32 model's vectors of the probe texts."""
        with np.load(self.artifact / PROBES_FILE) as data:
            texts = [str(t) for t in data["texts"]]
            expected = np.asarray(data["vectors"], dtype=np.float32)
        got = self.forward(texts)
        return float(np.mean(np.sum(got * expected, axis=1)))

    def check(self, minimum: float = MIN_PROBE_COSINE) -> float:
        """The probe cosine, when it reaches `minimum`.

        Raises:
            ProbeMismatchError: It does not.
        """
        cosine = self.probe_cosine()
        if not cosine >= minimum:  # NaN fails too
            raise ProbeMismatchError(f"probe mean cosine {cosine:.4f} < {minimum}")
        return cosine


def runs_by_length(lengths: list[int], budget: int = RUN_TOKENS) -> list[list[int]]:
    """Positions of `lengths`, shortest first, cut where a text outgrows its run's shortest.

    A run is also cut before its rows, padded to its longest, would pass `budget` pieces.
    """
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    runs: list[list[int]] = []
    for i in order:
        if (
            runs
            and lengths[i] <= lengths[runs[-1][0]] * _SPREAD + _SLACK
            and (len(runs[-1]) + 1) * lengths[i] <= budget
        ):
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def _max_tokens(model_dir: Path) -> int:
    try:
        config = json.loads((model_dir / "sentence_bert_config.json").read_text())
        return int(config.get("max_seq_length", DEFAULT_MAX_TOKENS))
    except (OSError, ValueError):
        return DEFAULT_MAX_TOKENS
