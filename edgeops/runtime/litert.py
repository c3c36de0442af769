"""A ``.tflite`` model run by the LiteRT interpreter."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeops.runtime.images import normalize


class LiteRTRunner:
    """A single-input, single-output ``.tflite`` model run by the LiteRT interpreter."""

    def __init__(self, model: Path | bytes, num_threads: int = 2) -> None:
        from edgeops.runtime.quiet import captured

        # LiteRT logs "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." from native code
        with captured("LiteRT interpreter"):
            from ai_edge_litert.interpreter import Interpreter

            if isinstance(model, bytes):
                self._interp = Interpreter(model_content=model, num_threads=num_threads)
            else:
                self._interp = Interpreter(model_path=str(model), num_threads=num_threads)
            self._interp.allocate_tensors()
        self.input = self._interp.get_input_details()[0]
        self.output = self._interp.get_output_details()[0]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """One example (no batch axis) in, the raw output (no batch axis) out."""
        # no copy when ``x`` already has the input's type: set_tensor copies it in anyway
        self._interp.set_tensor(self.input["index"], np.asarray(x, self.input["dtype"])[None])
        self._interp.invoke()
        return np.array(self._interp.get_tensor(self.output["index"])[0])

    def scores(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 pixels -> float scores, whatever the model's input/output types."""
        out = self(pixels) if self.input["dtype"] == np.uint8 else self(normalize(pixels))
        if self.output["dtype"] in (np.uint8, np.int8):
            scale, zero = self.output["quantization"]
            return (out.astype(np.float32) - zero) * scale
        return out.astype(np.float32)
