"""The Kokoro ONNX model: phoneme tokens + style row + speed → 24 kHz float audio."""

from __future__ import annotations

import json
import logging
import os
from importlib import resources
from pathlib import Path

import numpy as np

# Switch off onnxruntime's telemetry before it is imported anywhere.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
os.environ.setdefault("ORT_TELEMETRY_DISABLED", "1")

import onnxruntime as ort  # noqa: E402

_LOGGER = logging.getLogger(__name__)

_NUMPY_TYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
}


def load_vocab() -> dict[str, int]:
    """Kokoro's phoneme alphabet: one token id per symbol."""
    text = resources.files("wyoming_kokoro").joinpath("data/vocab.json").read_text("utf-8")
    vocab = json.loads(text)["vocab"]
    return {str(symbol): int(token) for symbol, token in vocab.items()}


class ModelLoadError(RuntimeError):
    """The model file cannot be loaded; the message names the file and the fix."""


class KokoroModel:
    """One onnxruntime session, shared by every connection (``run`` is thread-safe)."""

    def __init__(
        self,
        path: Path,
        providers: list[str] | None = None,
        intra_op_threads: int = 0,
    ) -> None:
        self.path = path
        self.vocab = load_vocab()
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if intra_op_threads > 0:
            options.intra_op_num_threads = intra_op_threads
        try:
            self.session = ort.InferenceSession(
                str(path), options, providers=providers or ["CPUExecutionProvider"]
            )
        except Exception as err:  # onnxruntime raises its own exception types
            raise ModelLoadError(
                f"cannot load model {path}: {err}. If the file is truncated or corrupt, delete "
                "it and run `python -m wyoming_kokoro.assets` to fetch it again."
            ) from None
        self.provider = self.session.get_providers()[0]
        self._inputs = self._map_inputs()
        self._output = self.session.get_outputs()[0].name

    def _map_inputs(self) -> dict[str, tuple[str, type]]:
        """Which model input takes tokens, style and speed (exports name them differently)."""
        mapping: dict[str, tuple[str, type]] = {}
        for item in self.session.get_inputs():
            dtype = _NUMPY_TYPES.get(item.type, np.float32)
            name = item.name.lower()
            if name in ("tokens", "input_ids") or "token" in name:
                mapping["tokens"] = (item.name, dtype)
            elif "style" in name or name in ("ref_s", "s"):
                mapping["style"] = (item.name, dtype)
            elif "speed" in name:
                mapping["speed"] = (item.name, dtype)
        missing = {"tokens", "style", "speed"} - set(mapping)
        if missing:
            found = [i.name for i in self.session.get_inputs()]
            raise ModelLoadError(
                f"model {self.path} has inputs {found}; cannot find {sorted(missing)}"
            )
        return mapping

    def filter_phonemes(self, phonemes: str) -> str:
        """Drop symbols the model has no token for (each kept symbol is one token)."""
        return "".join(symbol for symbol in phonemes if symbol in self.vocab)

    def infer(self, phonemes: str, style: np.ndarray, speed: float) -> np.ndarray:
        """Audio for at most 510 phoneme symbols; ``style`` is the (1, 256) row for them."""
        tokens = [self.vocab[symbol] for symbol in phonemes if symbol in self.vocab]
        if not tokens:
            return np.zeros(0, dtype=np.float32)
        tokens_name, tokens_type = self._inputs["tokens"]
        style_name, style_type = self._inputs["style"]
        speed_name, speed_type = self._inputs["speed"]
        feeds: dict[str, np.ndarray] = {
            tokens_name: np.array([[0, *tokens, 0]], dtype=tokens_type),
            style_name: np.asarray(style, dtype=style_type).reshape(1, -1),
            speed_name: np.array([speed], dtype=speed_type),
        }
        audio = self.session.run([self._output], feeds)[0]
        return np.asarray(audio, dtype=np.float32).reshape(-1)
