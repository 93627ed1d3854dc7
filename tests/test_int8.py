"""engine/int8.py: dynamically quantized convolutions rewritten onto the fast integer kernels
give the same output, bit for bit, for every shape Kokoro's vocoder has; anything else is
left alone. (The real vocoder, rewritten, is checked against the whole model in
test_split.py.)"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from wyoming_kokoro.engine.int8 import rewrite_convolutions


def conv_model(
    channels: int,
    outputs: int,
    taps: int,
    *,
    dilation: int = 1,
    stride: int = 1,
    pads: tuple[int, int] = (0, 0),
    opset: int = 20,
    group: int = 1,
) -> Any:
    """float input → DynamicQuantizeLinear → ConvInteger → int32, as the int8 export has it."""
    rng = np.random.default_rng(taps * 100 + dilation * 10 + stride)
    weights = rng.integers(0, 256, (outputs, channels // group, taps), dtype=np.uint8)
    nodes = [
        helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "scale", "zero"]),
        helper.make_node(
            "ConvInteger",
            ["xq", "w", "zero", "wzero"],
            ["y"],
            kernel_shape=[taps],
            dilations=[dilation],
            strides=[stride],
            pads=list(pads),
            group=group,
        ),
    ]
    graph = helper.make_graph(
        nodes,
        "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels, None])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, None)],
        [
            numpy_helper.from_array(weights, "w"),
            numpy_helper.from_array(np.array(131, dtype=np.uint8), "wzero"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 9
    return model


def run(model: Any, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {"x": x})[0])


@pytest.mark.parametrize(
    ("taps", "dilation", "stride", "pads"),
    [
        (1, 1, 1, (0, 0)),  # conv1x1
        (3, 1, 1, (1, 1)),
        (7, 3, 1, (9, 9)),
        (11, 5, 1, (25, 25)),
        (3, 1, 2, (1, 1)),  # strided, as the F0 path
        (12, 1, 6, (3, 3)),  # the noise convolution
        (5, 1, 1, (0, 0)),  # no padding: the output is shorter
    ],
)
def test_the_rewritten_convolution_gives_the_same_integers(
    taps: int, dilation: int, stride: int, pads: tuple[int, int]
) -> None:
    original = conv_model(16, 8, taps, dilation=dilation, stride=stride, pads=pads)
    rewritten = conv_model(16, 8, taps, dilation=dilation, stride=stride, pads=pads)
    assert rewrite_convolutions(rewritten) == 1
    assert "ConvInteger" not in [n.op_type for n in rewritten.graph.node]
    assert "MatMulInteger" in [n.op_type for n in rewritten.graph.node]
    # Several lengths (the time axis is dynamic), and inputs centred away from zero, whose
    # zero point is far from the middle.
    for length, centre in ((97, 0.0), (1 + (taps - 1) * dilation, 0.5), (300, 3.0)):
        x = np.random.default_rng(length).normal(centre, 1, (1, 16, length)).astype(np.float32)
        expected = run(original, x)
        got = run(rewritten, x)
        assert got.shape == expected.shape
        assert np.array_equal(got, expected)


def test_other_convolutions_and_old_opsets_are_left_alone() -> None:
    grouped = conv_model(16, 8, 3, pads=(1, 1), group=2)
    assert rewrite_convolutions(grouped) == 0
    old = conv_model(16, 8, 3, pads=(1, 1), opset=17)  # no BitwiseXor before opset 18
    before = old.SerializeToString()
    assert rewrite_convolutions(old) == 0
    assert old.SerializeToString() == before
