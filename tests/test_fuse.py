"""engine/fuse.py: an AdaIN chain folded into InstanceNormalization computes the chain's
output to float rounding (bound: 1e-5 of the output's scale, measured 6e-7 to 3e-5 over
these cases), whatever the activations' mean and spread; chains of another shape are left
alone. (The real vocoder, fused, is checked against the exported one in test_split.py.)"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from wyoming_kokoro.engine.fuse import fuse_adain

CHANNELS = 8


def adain_model(axes: list[int] = [2], *, shared: bool = False, order: bool = True) -> Any:  # noqa: B006
    """x [1, C, T], style scale g and offset b [1, C, 1] → g * (x - mean) / std + b, as the
    Kokoro export spells it (``order``: g on the left of its Mul, as there). ``shared``:
    the centred activations are an output too (the chain must stay)."""
    scale = ["g", "normed"] if order else ["normed", "g"]
    nodes = [
        helper.make_node("ReduceMean", ["x", "axes"], ["mean"]),
        helper.make_node("Sub", ["x", "mean"], ["centred"]),
        helper.make_node("Mul", ["centred", "centred"], ["squares"]),
        helper.make_node("ReduceMean", ["squares", "axes"], ["var"]),
        helper.make_node("Add", ["var", "eps"], ["var_eps"]),
        helper.make_node("Sqrt", ["var_eps"], ["std"]),
        helper.make_node("Div", ["centred", "std"], ["normed"]),
        helper.make_node("Mul", scale, ["scaled"]),
        helper.make_node("Add", ["scaled", "b"], ["y"]),
    ]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    if shared:
        outputs.append(helper.make_tensor_value_info("centred", TensorProto.FLOAT, None))
    graph = helper.make_graph(
        nodes,
        "adain",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, CHANNELS, None]),
            helper.make_tensor_value_info("g", TensorProto.FLOAT, [1, CHANNELS, 1]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, CHANNELS, 1]),
        ],
        outputs,
        [
            numpy_helper.from_array(np.array(axes, dtype=np.int64), "axes"),
            numpy_helper.from_array(np.array(1e-5, dtype=np.float32), "eps"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    model.ir_version = 9
    return model


def run(model: Any, feeds: dict[str, np.ndarray]) -> np.ndarray:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    return np.asarray(session.run(["y"], feeds)[0])


@pytest.mark.parametrize("order", [True, False])
@pytest.mark.parametrize(
    ("centre", "spread", "length"),
    [(0.0, 1.0, 500), (3.0, 0.01, 500), (0.0, 1e-3, 97), (10.0, 1.0, 2000), (0.0, 1.0, 1)],
)
def test_the_fused_chain_computes_the_same(
    centre: float, spread: float, length: int, order: bool
) -> None:
    original, fused = adain_model(order=order), adain_model(order=order)
    assert fuse_adain(fused) == 1
    assert [n.op_type for n in fused.graph.node] == ["Reshape", "Reshape", "InstanceNormalization"]
    rng = np.random.default_rng(length)
    feeds = {
        "x": rng.normal(centre, spread, (1, CHANNELS, length)).astype(np.float32),
        "g": rng.normal(1, 0.3, (1, CHANNELS, 1)).astype(np.float32),
        "b": rng.normal(0, 1, (1, CHANNELS, 1)).astype(np.float32),
    }
    expected, got = run(original, feeds), run(fused, feeds)
    assert got.shape == expected.shape
    scale = float(np.abs(feeds["g"]).max() + np.abs(feeds["b"]).max())
    assert float(np.abs(got - expected).max()) <= 1e-5 * scale


def test_other_chains_are_left_alone() -> None:
    for model in (adain_model([1]), adain_model([1, 2]), adain_model(shared=True)):
        before = model.SerializeToString()
        assert fuse_adain(model) == 0
        assert model.SerializeToString() == before
