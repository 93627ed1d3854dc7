"""benchmarks/static_int8.py: the measured (not built) static int8 convolutions find the
export's convolution pattern and replace it with a QLinearConv that computes nearly the
same output (within a few steps of its calibrated output quantization)."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from benchmarks.static_int8 import calibrate, make_static, targets
from tests.test_int8 import run
from tests.test_int8_float import conv_model


def test_static_convolution_follows_the_export() -> None:
    original = conv_model(7, dilation=3, pads=(9, 9), channels=16, outputs=8)
    static = conv_model(7, dilation=3, pads=(9, 9), channels=16, outputs=8)
    found = targets(static, channels=8)
    assert len(found) == 1 and found[0]["weight_scale"] == np.float32(0.004)
    assert targets(static, channels=16) == []
    rng = np.random.default_rng(7)
    calibration = [{"x": rng.normal(0, 1, (1, 16, 300)).astype(np.float32)} for _ in range(3)]
    calibrate(static, found, calibration)
    assert make_static(static, found) == 1
    kinds = [node.op_type for node in static.graph.node]
    assert "QLinearConv" in kinds and "DequantizeLinear" in kinds
    ort.InferenceSession(static.SerializeToString(), providers=["CPUExecutionProvider"])
    x = rng.normal(0, 1, (1, 16, 200)).astype(np.float32)
    want, got = run(original, x), run(static, x)
    low, high = found[0]["y_range"]
    step = (high - low) / 255
    assert got.shape == want.shape
    assert np.abs(got - want).max() < 4 * step
    assert np.abs(got - want).mean() > 0  # not the same arithmetic: a measured trade
