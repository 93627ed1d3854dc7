"""engine/int8_float.py: a dynamically quantized convolution with the export's float
epilogue, rewritten onto MatMulIntegerToFloat, computes the export's output to float
rounding (bound: 2^-21 of max|y| + max|bias|; the integer product is exact, the epilogue
rounds twice instead of once), for every shape Kokoro's vocoder has; anything else is
left alone. (The real vocoder, rewritten, is checked against the exported one in
test_split.py.)"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from wyoming_kokoro.engine.int8_float import rewrite_convolutions_to_float

CHANNELS, OUTPUTS = 16, 8


def conv_model(
    taps: int,
    *,
    dilation: int = 1,
    stride: int = 1,
    pads: tuple[int, int] = (0, 0),
    group: int = 1,
    bias: bool = True,
    channels: int = CHANNELS,
    outputs: int = OUTPUTS,
    weights: np.ndarray | None = None,
    weight_zero: int = 131,
) -> Any:
    """float x → DynamicQuantizeLinear → ConvInteger → Add(bias quantized with the dynamic
    scale, floored, as the export does) → Cast → Mul(input scale · weight scale)."""
    rng = np.random.default_rng(taps * 100 + dilation * 10 + stride)
    if weights is None:
        weights = rng.integers(0, 256, (outputs, channels // group, taps), dtype=np.uint8)
    nodes = [
        helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xscale", "zero"]),
        helper.make_node(
            "ConvInteger",
            ["xq", "w", "zero", "wzero"],
            ["acc"],
            kernel_shape=[taps],
            dilations=[dilation],
            strides=[stride],
            pads=list(pads),
            group=group,
        ),
        helper.make_node("Mul", ["xscale", "wscale"], ["s"]),
    ]
    summed = "acc"
    if bias:
        nodes += [
            helper.make_node("Div", ["b", "s"], ["b_steps"]),
            helper.make_node("Floor", ["b_steps"], ["b_floor"]),
            helper.make_node("Cast", ["b_floor"], ["b_int"], to=TensorProto.INT32),
            helper.make_node("Reshape", ["b_int", "column"], ["qbias"]),
            helper.make_node("Add", ["acc", "qbias"], ["summed"]),
        ]
        summed = "summed"
    nodes += [
        helper.make_node("Cast", [summed], ["as_float"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["as_float", "s"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels, None])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [
            numpy_helper.from_array(weights, "w"),
            numpy_helper.from_array(np.array(weight_zero, dtype=np.uint8), "wzero"),
            numpy_helper.from_array(np.array(0.004, dtype=np.float32), "wscale"),
            numpy_helper.from_array(rng.normal(0, 2, outputs).astype(np.float32), "b"),
            numpy_helper.from_array(np.array([1, -1, 1], dtype=np.int64), "column"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    model.ir_version = 9
    return model


def run(model: Any, x: np.ndarray) -> np.ndarray:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    return np.asarray(session.run(None, {"x": x})[0])


@pytest.mark.parametrize("bias", [True, False])
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
def test_the_rewritten_convolution_computes_the_same(
    taps: int, dilation: int, stride: int, pads: tuple[int, int], bias: bool
) -> None:
    original, rewritten = (
        conv_model(taps, dilation=dilation, stride=stride, pads=pads, bias=bias) for _ in "ab"
    )
    assert rewrite_convolutions_to_float(rewritten) == 1
    ops = [n.op_type for n in rewritten.graph.node]
    assert "ConvInteger" not in ops and "BitwiseXor" not in ops
    assert ops.count("MatMulIntegerToFloat") == 1
    b = numpy_helper.to_array(next(t for t in original.graph.initializer if t.name == "b"))
    for length, centre in ((97, 0.0), (1 + (taps - 1) * dilation, 0.5), (300, 3.0)):
        x = np.random.default_rng(length).normal(centre, 1, (1, CHANNELS, length))
        expected = run(original, x.astype(np.float32))
        got = run(rewritten, x.astype(np.float32))
        assert got.shape == expected.shape
        scale = float(np.abs(expected).max() + (np.abs(b).max() if bias else 0))
        assert float(np.abs(got - expected).max()) <= 2.0**-21 * scale


def test_other_convolutions_are_left_alone() -> None:
    grouped = conv_model(3, pads=(1, 1), group=2)
    before = grouped.SerializeToString()
    assert rewrite_convolutions_to_float(grouped) == 0
    assert grouped.SerializeToString() == before
    bare = conv_model(3, pads=(1, 1), bias=False)  # the int32 output itself is wanted
    del bare.graph.node[-2:]
    bare.graph.output[0].name = "acc"
    before = bare.SerializeToString()
    assert rewrite_convolutions_to_float(bare) == 0
    assert bare.SerializeToString() == before
