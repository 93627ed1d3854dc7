"""benchmarks/float_models.py: the fp32 stand-in made from an int8 model turns each
dynamically quantized operator back into its float one on dequantized weights: the
quantizer's own output (onnxruntime's quantize_dynamic, which made Kokoro's int8 export)
comes back to the float model's output within the weights' 8-bit rounding, and the
export's convolution pattern (its bias quantized at run time) to a Conv with the float
bias."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from benchmarks.float_models import dequantize
from tests.test_int8_float import conv_model, run

QUANTIZED = {"DynamicQuantizeLinear", "ConvInteger", "MatMulInteger", "DynamicQuantizeLSTM"}


def float_model() -> Any:
    """Conv → LSTM (both directions) → MatMul, with weights of unequal dimensions so that
    a weight left in the quantized operator's layout cannot load."""
    rng = np.random.default_rng(3)
    hidden, channels, steps = 4, 6, 9
    nodes = [
        helper.make_node("Conv", ["x", "cw", "cb"], ["c"], kernel_shape=[3], pads=[1, 1]),
        helper.make_node("Transpose", ["c"], ["ct"], perm=[2, 0, 1]),
        helper.make_node(
            "LSTM", ["ct", "lw", "lr", "lb"], ["h"], hidden_size=hidden, direction="bidirectional"
        ),
        helper.make_node("Reshape", ["h", "shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "mw"], ["y"]),
    ]
    weights = {
        "cw": (channels, channels, 3),
        "cb": (channels,),
        "lw": (2, 4 * hidden, channels),
        "lr": (2, 4 * hidden, hidden),
        "lb": (2, 8 * hidden),
        "mw": (2 * hidden, 5),
    }
    inits = [
        numpy_helper.from_array(rng.normal(0, 0.3, shape).astype(np.float32), name)
        for name, shape in weights.items()
    ]
    inits.append(numpy_helper.from_array(np.array([steps, 2 * hidden], np.int64), "shape"))
    graph = helper.make_graph(
        nodes,
        "float",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels, steps])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_quantize_dynamic_comes_back_to_the_float_model(tmp_path: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    original = float_model()
    onnx.save(original, str(tmp_path / "float.onnx"))
    quantize_dynamic(
        str(tmp_path / "float.onnx"), str(tmp_path / "int8.onnx"), weight_type=QuantType.QUInt8
    )
    model = onnx.load(str(tmp_path / "int8.onnx"))
    assert {node.op_type for node in model.graph.node} >= QUANTIZED
    counts = dequantize(model)
    assert counts == {"Conv": 1, "MatMul": 1, "LSTM": 1, "Gather": 0}
    kinds = {node.op_type for node in model.graph.node}
    assert not kinds & QUANTIZED and {"Conv", "LSTM", "MatMul"} <= kinds
    x = np.random.default_rng(5).normal(0, 1, (1, 6, 9)).astype(np.float32)
    want, got = run(original, x), run(model, x)
    assert got.shape == want.shape
    assert np.abs(got - want).max() < 0.02 * np.abs(want).max()  # the weights' rounding
    assert np.abs(got - want).max() > 0  # dequantized weights, not the float ones


def test_the_exports_convolution_becomes_conv_with_its_float_bias() -> None:
    quantized = conv_model(7, dilation=3, pads=(9, 9), channels=16, outputs=8)
    model = onnx.ModelProto()
    model.CopyFrom(quantized)
    assert dequantize(model)["Conv"] == 1
    [conv] = [node for node in model.graph.node if node.op_type == "Conv"]
    values = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    weights = {i.name: numpy_helper.to_array(i) for i in quantized.graph.initializer}
    expected = (weights["w"].astype(np.int32) - 131) * np.float32(0.004)
    np.testing.assert_array_equal(values[conv.input[1]], expected.astype(np.float32))
    assert conv.input[2] == "b"
    x = np.random.default_rng(9).normal(0, 1, (1, 16, 300)).astype(np.float32)
    want, got = run(quantized, x), run(model, x)
    step = float(np.abs(x).max()) * 2 / 255  # the input's quantization step, at most
    bound = step * float(np.abs(expected).sum(axis=(1, 2)).max())
    assert got.shape == want.shape and np.abs(got - want).max() < bound
