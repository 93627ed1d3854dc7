"""engine/exact.py: the convolutions' integer epilogue moved into the product's kernel,
and squares as products, give the same floats bit for bit; what they cannot prove exact
is left alone. (The real vocoder, rewritten, is checked against the whole model in
test_split.py.)"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.test_int8 import run
from tests.test_int8_float import conv_model
from wyoming_kokoro.engine.exact import (
    EXACT_LIMIT,
    rewrite_epilogues,
    rewrite_squares,
    sum_bound,
)
from wyoming_kokoro.engine.int8 import rewrite_convolutions


def quantized_conv(
    channels: int,
    outputs: int,
    taps: int,
    *,
    bias: bool = True,
    weights: np.ndarray | None = None,
    weight_zero: int = 131,
) -> Any:
    """The export's quantized convolution, with its bias quantized at run time."""
    return conv_model(
        taps, pads=(taps // 2, taps // 2), bias=bias, channels=channels, outputs=outputs,
        weights=weights, weight_zero=weight_zero,
    )  # fmt: skip


def ops(model: Any) -> list[str]:
    return [node.op_type for node in model.graph.node]


@pytest.mark.parametrize(("taps", "bias"), [(3, True), (7, True), (1, True), (5, False)])
def test_the_epilogue_in_the_kernel_gives_the_same_floats(taps: int, bias: bool) -> None:
    original = quantized_conv(32, 16, taps, bias=bias)
    rewritten = quantized_conv(32, 16, taps, bias=bias)
    assert rewrite_convolutions(rewritten) == 1
    assert rewrite_epilogues(rewritten) == 1
    assert "MatMulIntegerToFloat" in ops(rewritten) and "MatMulInteger" not in ops(rewritten)
    # The sums' cast is gone; the int8 input and its zero point, and the bias, are cast.
    assert ops(rewritten).count("Cast") == (4 if bias else 2)
    # The last input spans so little that the quantized bias is over 2^24 (~10^8).
    for length, centre, spread in ((97, 0.0, 1.0), (400, 2.0, 0.5), (64, 0.0, 1e-4)):
        rng = np.random.default_rng(length)
        x = rng.normal(centre, spread, (1, 32, length)).astype(np.float32)
        expected = run(original, x)
        got = run(rewritten, x)
        assert got.shape == expected.shape
        assert np.array_equal(got, expected)


def test_sums_the_weights_do_not_bound_are_left_alone() -> None:
    # All-255 weights at zero point 0 over 64 · 5 inputs: sums up to 320 · 255 · 255 > 2^24.
    heavy = np.full((4, 64, 5), 255, dtype=np.uint8)
    assert sum_bound(heavy.transpose(0, 2, 1).reshape(4, -1), 0) >= EXACT_LIMIT
    model = quantized_conv(64, 4, 5, weights=heavy, weight_zero=0)
    assert rewrite_convolutions(model) == 1
    before = model.SerializeToString()
    assert rewrite_epilogues(model) == 0
    assert model.SerializeToString() == before
    # Just under the bound, rewritten.
    light = np.full((4, 64, 3), 20, dtype=np.uint8)
    assert sum_bound(light.transpose(0, 2, 1).reshape(4, -1), 0) < EXACT_LIMIT
    model = quantized_conv(64, 4, 3, weights=light, weight_zero=0)
    rewrite_convolutions(model)
    assert rewrite_epilogues(model) == 1


def test_an_epilogue_read_elsewhere_is_left_alone() -> None:
    model = quantized_conv(32, 16, 3)
    rewrite_convolutions(model)
    # The int32 sums with the bias are an output too: the cast is not their only reader.
    summed = next(n for n in model.graph.node if n.op_type == "Add").output[0]
    model.graph.output.append(helper.make_tensor_value_info(summed, TensorProto.INT32, None))
    assert rewrite_epilogues(model) == 0
    # So is a product whose sums go on as integers.
    plain = quantized_conv(32, 16, 3, bias=False)
    rewrite_convolutions(plain)
    cast = next(n for n in plain.graph.node if n.op_type == "Cast" and n.output[0] == "as_float")
    cast.attribute[0].i = TensorProto.INT64
    assert rewrite_epilogues(plain) == 0


def square_model(exponent: float) -> Any:
    nodes = [helper.make_node("Sin", ["x"], ["s"]), helper.make_node("Pow", ["s", "e"], ["y"])]
    graph = helper.make_graph(
        nodes,
        "snake",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.array(exponent, dtype=np.float32), "e")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    return model


def test_squares_become_products_with_the_same_floats() -> None:
    x = np.random.default_rng(3).normal(0, 4, (2, 64, 1000)).astype(np.float32)
    original, rewritten = square_model(2.0), square_model(2.0)
    assert rewrite_squares(rewritten) == 1
    assert ops(rewritten) == ["Sin", "Mul"]
    assert np.array_equal(run(rewritten, x), run(original, x))
    cube = square_model(3.0)
    assert rewrite_squares(cube) == 0 and ops(cube) == ["Sin", "Pow"]
