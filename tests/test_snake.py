"""engine/snake.py: a Snake activation rewritten around one Cos computes the export's
``x + sin²(αx)/α`` to float rounding, with or without a normalization before it to fold
2α into (bound: 1e-6 of max|x| + max|c|, c = 1/(2α), over these cases; measured under
half of it); Snakes of another shape, or with a tiny α, are left alone. (The real
vocoder, rewritten, is checked against the exported one in test_split.py.)"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from wyoming_kokoro.engine.snake import rewrite_snake

CHANNELS = 8


def snake_model(
    alpha: np.ndarray,
    *,
    norm: bool = False,
    divide: bool = False,
    square_by_mul: bool = False,
    shared: bool = False,
) -> Any:
    """x [1, C, T] → (``norm``: InstanceNormalization with style scale g and offset b) →
    x + sin(αx)²·(1/(α+1e-9)), as the Kokoro export spells it (``divide``: a Div by α
    instead; ``square_by_mul``: Mul(s, s) instead of Pow(s, 2)); ``shared``: sin(αx) is
    an output too (the chain must stay)."""
    nodes = []
    x = "x"
    if norm:
        nodes.append(helper.make_node("InstanceNormalization", ["x", "g", "b"], ["n"]))
        x = "n"
    nodes.append(helper.make_node("Mul", ["alpha", x], ["ax"]))
    nodes.append(helper.make_node("Sin", ["ax"], ["s"]))
    if square_by_mul:
        nodes.append(helper.make_node("Mul", ["s", "s"], ["s2"]))
    else:
        nodes.append(helper.make_node("Pow", ["s", "two"], ["s2"]))
    if divide:
        nodes.append(helper.make_node("Div", ["s2", "alpha_eps"], ["t"]))
    else:
        nodes.append(helper.make_node("Mul", ["reciprocal", "s2"], ["t"]))
    nodes.append(helper.make_node("Add", [x, "t"], ["y"]))
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    if shared:
        outputs.append(helper.make_tensor_value_info("s", TensorProto.FLOAT, None))
    column = alpha.reshape(1, -1, 1).astype(np.float32)
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, CHANNELS, None])]
    if norm:
        inputs += [
            helper.make_tensor_value_info("g", TensorProto.FLOAT, [CHANNELS]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, [CHANNELS]),
        ]
    graph = helper.make_graph(
        nodes,
        "snake",
        inputs,
        outputs,
        [
            numpy_helper.from_array(column, "alpha"),
            numpy_helper.from_array(np.array(2.0, dtype=np.float32), "two"),
            numpy_helper.from_array((1 / (column + 1e-9)).astype(np.float32), "reciprocal"),
            numpy_helper.from_array((column + np.float32(1e-9)).astype(np.float32), "alpha_eps"),
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
    wanted = {i.name for i in session.get_inputs()}
    return np.asarray(session.run(["y"], {k: v for k, v in feeds.items() if k in wanted})[0])


def alphas(low: float, high: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    signs = np.where(rng.random(CHANNELS) < 0.2, -1.0, 1.0)
    return (signs * rng.uniform(low, high, CHANNELS)).astype(np.float32)


CASES = [  # alpha range, activations' centre and spread, length
    ((0.1, 2.5), 0.0, 1.0, 500),
    ((0.5, 1.5), 3.0, 0.01, 97),
    ((1e-3, 2e-3), 0.0, 1.0, 300),
    ((0.01, 2.5), 0.0, 20.0, 2000),
    ((0.1, 2.5), 0.0, 1.0, 1),
]


@pytest.mark.parametrize("fold", [True, False])
@pytest.mark.parametrize(("divide", "square_by_mul"), [(False, False), (True, True)])
@pytest.mark.parametrize("norm", [True, False])
@pytest.mark.parametrize(("span", "centre", "spread", "length"), CASES)
def test_the_rewritten_snake_computes_the_same(
    span: tuple[float, float],
    centre: float,
    spread: float,
    length: int,
    norm: bool,
    divide: bool,
    square_by_mul: bool,
    fold: bool,
) -> None:
    if norm and length == 1:
        # One sample has variance 0: the normalization's own rounding is then ~x·g/√ε
        # ulp, different for 2αg, whatever the Snake does.
        pytest.skip("a one-sample normalization is degenerate")
    alpha = alphas(*span, seed=length)
    shape = {"norm": norm, "divide": divide, "square_by_mul": square_by_mul}
    original, rewritten = snake_model(alpha, **shape), snake_model(alpha, **shape)
    assert rewrite_snake(rewritten, fold_into_norm=fold) == 1
    ops = [n.op_type for n in rewritten.graph.node]
    assert "Sin" not in ops and ops.count("Cos") == 1
    if norm and fold:
        assert ops == ["Mul", "Mul", "InstanceNormalization", "Cos", "Sub", "BatchNormalization"]
    else:
        assert ops[-4:] == ["Mul", "Cos", "BatchNormalization", "Add"]
    rng = np.random.default_rng(length)
    feeds = {
        "x": rng.normal(centre, spread, (1, CHANNELS, length)).astype(np.float32),
        "g": rng.normal(1, 0.3, CHANNELS).astype(np.float32) * spread,
        "b": rng.normal(centre, 1, CHANNELS).astype(np.float32),
    }
    expected, got = run(original, feeds), run(rewritten, feeds)
    assert got.shape == expected.shape
    scale = float(np.abs(expected).max() + np.abs(0.5 / alpha).max())
    assert float(np.abs(got - expected).max()) <= 1e-6 * scale


def test_other_snakes_are_left_alone() -> None:
    for model in (
        snake_model(alphas(0.1, 1, 0), shared=True),
        snake_model(np.full(CHANNELS, 1e-4, dtype=np.float32)),  # c = 5000: too coarse
        snake_model(np.zeros(CHANNELS, dtype=np.float32)),
    ):
        before = model.SerializeToString()
        assert rewrite_snake(model) == 0
        assert model.SerializeToString() == before


def test_a_normalization_used_elsewhere_is_not_folded() -> None:
    model = snake_model(alphas(0.1, 1, 1), norm=True)
    model.graph.output.append(helper.make_tensor_value_info("n", TensorProto.FLOAT, None))
    assert rewrite_snake(model) == 1
    ops = [n.op_type for n in model.graph.node]
    assert ops == ["InstanceNormalization", "Mul", "Cos", "BatchNormalization", "Add"]
