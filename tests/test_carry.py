"""engine/carry.py on small synthetic graphs: with neutral priors the carried graph computes
the original's output bit for bit; in two parts, the second (the last) normalizes over all
the frames seen and continues the running phase, so it makes the whole sequence's output
for its frames to float rounding; graphs of another shape are left alone. (The real
generator is checked in test_split.py.)"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from wyoming_kokoro.engine.carry import PHASE, CarrySites, carry_state

CHANNELS = 6


def norm_model(*, square_of_other: bool = False) -> Any:
    """x [1, C, T] normalized over time as the Kokoro export spells it, plus a running sum
    over time of p [1, T, 3] (the source's phase); ``square_of_other``: the variance is
    taken of something else (not a normalization: left alone)."""
    square = ["centred", "x"] if square_of_other else ["centred", "centred"]
    nodes = [
        helper.make_node("ReduceMean", ["x", "axes"], ["mean"]),
        helper.make_node("Sub", ["x", "mean"], ["centred"]),
        helper.make_node("Mul", square, ["squares"]),
        helper.make_node("ReduceMean", ["squares", "axes"], ["var"]),
        helper.make_node("Add", ["var", "eps"], ["var_eps"]),
        helper.make_node("Sqrt", ["var_eps"], ["std"]),
        helper.make_node("Div", ["centred", "std"], ["y"]),
        helper.make_node("CumSum", ["p", "time"], ["running"]),
        helper.make_node("Sin", ["running"], ["wave"]),
    ]
    graph = helper.make_graph(
        nodes,
        "norm",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, CHANNELS, None]),
            helper.make_tensor_value_info("p", TensorProto.FLOAT, [1, None, 3]),
        ],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
            helper.make_tensor_value_info("wave", TensorProto.FLOAT, None),
        ],
        [
            numpy_helper.from_array(np.array([2], dtype=np.int64), "axes"),
            numpy_helper.from_array(np.array(1e-5, dtype=np.float32), "eps"),
            numpy_helper.from_array(np.array(1, dtype=np.int64), "time"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    model.ir_version = 9
    return model


def session(model: Any) -> Any:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def inputs(length: int, centre: float, spread: float) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(length)
    x = rng.normal(centre, spread, (1, CHANNELS, length)).astype(np.float32)
    x[:, :, length // 2 :] *= 3.0  # the two halves differ: their own statistics are wrong
    p = rng.uniform(0.0, 0.4, (1, length, 3)).astype(np.float32)
    return {"x": x, "p": p}


@pytest.mark.parametrize(
    ("centre", "spread", "length"), [(0.0, 1.0, 400), (5.0, 0.1, 97), (-2.0, 3.0, 1000)]
)
def test_neutral_priors_compute_the_original_bit_for_bit(
    centre: float, spread: float, length: int
) -> None:
    original, carried = norm_model(), norm_model()
    sites = carry_state(carried)
    assert len(sites.norms) == 1 and sites.phase
    feeds = inputs(length, centre, spread)
    expected = session(original).run(["y", "wave"], feeds)
    made = session(carried).run(["y", "wave"], {**feeds, **sites.priors(None, length, 0)})
    for want, got in zip(expected, made, strict=True):
        assert np.array_equal(want, got)


@pytest.mark.parametrize(
    ("centre", "spread", "length", "cut"),
    [(0.0, 1.0, 400, 120), (5.0, 0.1, 97, 40), (-2.0, 3.0, 1000, 700)],
)
def test_the_last_part_makes_the_whole_sequences_output(
    centre: float, spread: float, length: int, cut: int
) -> None:
    original, carried = norm_model(), norm_model()
    sites = carry_state(carried)
    feeds = inputs(length, centre, spread)
    y, wave = session(original).run(["y", "wave"], feeds)
    run = session(carried)
    names = ["y", "wave", *sites.outputs]

    def part(start: int, end: int, state: dict[str, np.ndarray] | None, seen: int) -> Any:
        own = {"x": feeds["x"][:, :, start:end], "p": feeds["p"][:, start:end]}
        carried = sites.priors(state, end - start, seen, start)
        return dict(zip(names, run.run(names, {**own, **carried}), strict=True))

    first = part(0, cut, None, 0)
    second = part(cut, length, first, cut)
    scale = float(np.abs(y).max())
    assert np.abs(second["y"] - y[:, :, cut:]).max() <= 1e-5 * scale
    assert np.abs(second["wave"] - wave[:, cut:]).max() <= 1e-4
    # The first part alone normalized over its own frames: not the whole's (what the
    # carried state is for), and its running phase is the whole's.
    assert np.abs(first["y"] - y[:, :, :cut]).max() > 1e-2 * scale
    assert np.abs(first[PHASE] - np.cumsum(feeds["p"][:, :cut], axis=1)).max() <= 1e-4


def test_other_shapes_are_left_alone() -> None:
    model = norm_model(square_of_other=True)
    sites = carry_state(model)
    assert sites.norms == [] and sites.phase  # the running sum is still carried
    names = [i.name for i in model.graph.input] + [o.name for o in model.graph.output]
    assert not [n for n in names if n.startswith(("carry/prior_mean", "carry/mean", "carry/own"))]


def test_the_sites_are_found_again_by_name() -> None:
    model = norm_model()
    sites = carry_state(model)
    inputs_ = [i.name for i in model.graph.input]
    outputs = [o.name for o in model.graph.output]
    assert CarrySites.of(inputs_, outputs) == sites
    assert CarrySites.of(["x"], ["y"]) == CarrySites()


def test_a_float16_generator_is_refused_untouched() -> None:
    model = norm_model()
    eps = next(i for i in model.graph.initializer if i.name == "eps")
    eps.CopyFrom(numpy_helper.from_array(np.array(1e-5, dtype=np.float16), "eps"))
    before = model.SerializeToString()
    with pytest.raises(ValueError, match="float16"):
        carry_state(model)
    assert model.SerializeToString() == before
