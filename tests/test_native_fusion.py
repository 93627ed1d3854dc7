"""benchmarks/native_fusion.py: the fused kernels compute the export's Snake and AdaIN
chains to float rounding, the Snake sites are found (engine/snake.py's find_snakes) as
the int8 kernels' version spells them, and the generator run in stages around them gives
the whole graph's output. Needs a C compiler with OpenMP (skipped without one)."""

from __future__ import annotations

import shutil
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from benchmarks.native_fusion import (
    StagedGenerator,
    build,
    chain_sessions,
    fused_snake,
    native_adain,
    native_snake,
    numpy_snake,
)
from wyoming_kokoro.engine.snake import find_snakes

pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> Any:
    try:
        return build(tmp_path_factory.mktemp("fused"))
    except RuntimeError as err:  # a compiler without OpenMP, or none that works
        pytest.skip(str(err))


def test_fused_kernels_compute_the_chains(lib: Any) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(0, 2, (1, 8, 1000)).astype(np.float32)
    alpha = rng.uniform(0.2, 3.0, 8).astype(np.float32)
    gamma, beta = (rng.normal(0, 0.3, 8).astype(np.float32) for _ in range(2))
    sessions = chain_sessions()
    column = (1, 8, 1)
    snake = sessions["snake"].run(
        None,
        {
            "x": x,
            "alpha": alpha.reshape(column),
            "reciprocal": (1 / (alpha + 1e-9)).astype(np.float32).reshape(column),
        },
    )[0]
    adain = sessions["adain"].run(
        None, {"x": x, "scale": (1 + gamma).reshape(column), "beta": beta.reshape(column)}
    )[0]
    np.testing.assert_allclose(native_snake(lib, x, alpha), snake, atol=2e-5)
    np.testing.assert_allclose(native_adain(lib, x, gamma, beta), adain, atol=2e-5)
    assert np.abs(snake - x).max() > 0.1  # the chains do something to compare


def snake_nodes(prefix: str, x: str, y: str) -> list[Any]:
    return [
        helper.make_node("Mul", [f"{prefix}alpha", x], [f"{prefix}ax"], name=f"{prefix}m"),
        helper.make_node("Sin", [f"{prefix}ax"], [f"{prefix}s"], name=f"{prefix}sin"),
        helper.make_node("Mul", [f"{prefix}s", f"{prefix}s"], [f"{prefix}s2"], name=f"{prefix}sq"),
        helper.make_node(
            "Mul", [f"{prefix}reciprocal", f"{prefix}s2"], [f"{prefix}r"], name=f"{prefix}w"
        ),
        helper.make_node("Add", [x, f"{prefix}r"], [y], name=f"{prefix}add"),
    ]


def generator_like() -> Any:
    """x → Snake → Relu → Snake → Add(residual x) → y, as a small stand-in generator; the
    residual crosses both Snakes (a tensor read two stages later)."""
    rng = np.random.default_rng(2)
    nodes = [
        *snake_nodes("a/", "x", "a_out"),
        helper.make_node("Relu", ["a_out"], ["h"], name="relu"),
        *snake_nodes("b/", "h", "b_out"),
        helper.make_node("Add", ["b_out", "x"], ["y"], name="residual"),
    ]
    inits = []
    for prefix in ("a/", "b/"):
        alpha = rng.uniform(0.5, 2.0, (1, 4, 1)).astype(np.float32)
        inits.append(numpy_helper.from_array(alpha, f"{prefix}alpha"))
        reciprocal = (1 / (alpha + 1e-9)).astype(np.float32)
        inits.append(numpy_helper.from_array(reciprocal, f"{prefix}reciprocal"))
    graph = helper.make_graph(
        nodes,
        "generator",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, None])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize("kernel", ["compiled", "numpy"])
def test_staged_generator_gives_the_whole_graphs_output(lib: Any, kernel: str) -> None:
    model = generator_like()
    snakes = find_snakes(model.graph)
    assert [s.x for s in snakes] == ["x", "h"] and [s.output for s in snakes] == ["a_out", "b_out"]
    x = np.random.default_rng(3).normal(0, 1, (1, 4, 300)).astype(np.float32)
    snake = fused_snake(lib, 2) if kernel == "compiled" else numpy_snake(rows=3)
    staged = StagedGenerator(model, snake, {"x": x})
    assert len(staged.sessions) == 3
    whole = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    want = whole.run(None, {"x": x})[0]
    np.testing.assert_allclose(staged.run({"x": x})[0], want, atol=2e-5)


def test_a_sin_that_is_not_a_snake_is_left_in_the_graph() -> None:
    model = generator_like()
    model.graph.node[2].input[0] = "a/ax"  # the square now reads Sin's input: no Snake
    assert [s.x for s in find_snakes(model.graph)] == ["h"]
