"""engine/native.py: the vocoder's Snake as one compiled onnxruntime kernel makes the
operators' floats to the bit (on synthetic graphs here, on the real vocoder in
test_split.py), a kernel that rounds otherwise is refused, and a machine without the
toolchain is told what is missing. The kernel tests skip where no compiler, Eigen or
onnxruntime headers are installed (``.ci/run`` installs them)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.test_snake import CHANNELS, snake_model
from wyoming_kokoro.engine import native
from wyoming_kokoro.engine.session import SessionConfig
from wyoming_kokoro.engine.split import _native_library


def toolchain() -> None:
    try:
        native.compile_command(Path("probe.so"))
    except native.NativeUnavailable as err:
        pytest.skip(f"no toolchain for the native kernel: {err}")


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    toolchain()
    return native.library(tmp_path_factory.mktemp("native"))


def run(model: Any, x: np.ndarray, path: Path | None, threads: int = 2) -> np.ndarray:
    return np.asarray(run_all(model, {"x": x}, path, threads)[0])


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))


@pytest.mark.parametrize(
    ("divide", "square_by_mul"), [(False, False), (False, True), (True, False)]
)
@pytest.mark.parametrize("steps", [1, 7, 2048, 5003])
def test_the_fused_snake_makes_the_operators_floats(
    library: Path, divide: bool, square_by_mul: bool, steps: int
) -> None:
    alpha = np.random.default_rng(steps).uniform(0.05, 4.0, CHANNELS)
    model = snake_model(alpha, divide=divide, square_by_mul=square_by_mul)
    x = (np.random.default_rng(1).standard_normal((1, CHANNELS, steps)) * 5).astype(np.float32)
    want = run(model, x, None)
    assert native.rewrite_snakes(model) == 1
    assert [n.op_type for n in model.graph.node] == ["Snake"]
    for threads in (1, 2):
        assert same_bits(run(model, x, library, threads), want)


def test_snakes_read_elsewhere_are_left_alone(library: Path) -> None:
    model = snake_model(np.full(CHANNELS, 0.5), shared=True)
    before = [n.op_type for n in model.graph.node]
    assert native.rewrite_snakes(model) == 0
    assert [n.op_type for n in model.graph.node] == before
    assert not any(o.domain == native.DOMAIN for o in model.opset_import)


def test_a_kernel_that_rounds_otherwise_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fused multiply-adds round once where onnxruntime rounds twice: the check must see
    it, and nothing is left in the folder for a later start to load."""
    toolchain()
    if not native._cpu_has("fma"):
        pytest.skip("this CPU has no FMA to build the inexact kernel with")
    command = native.compile_command

    def contracted(output: Path) -> list[str]:
        flags = [f for f in command(output) if f not in ("-ffp-contract=off", "-fno-fast-math")]
        return [*flags[:1], "-mfma", "-mavx2", "-ffp-contract=fast", *flags[1:]]

    monkeypatch.setattr(native, "compile_command", contracted)
    with pytest.raises(native.NativeUnavailable, match="not onnxruntime's to the bit"):
        native.library(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_built_kernel_is_read_again(library: Path) -> None:
    built = library.stat().st_mtime_ns
    assert native.library(library.parent, build=False) == library
    assert library.stat().st_mtime_ns == built


def test_what_is_missing_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(native.NativeUnavailable, match="no C..? compiler"):
        native.library(tmp_path)
    monkeypatch.setenv("CXX", "c++")
    monkeypatch.delenv("EIGEN3_INCLUDE_DIR", raising=False)
    monkeypatch.setattr(native, "EIGEN_DIRS", (str(tmp_path / "nowhere"),))
    with pytest.raises(native.NativeUnavailable, match="libeigen3-dev"):
        native.library(tmp_path)
    eigen = tmp_path / "eigen" / "Eigen"
    eigen.mkdir(parents=True)
    (eigen / "Core").write_text("")
    monkeypatch.setenv("EIGEN3_INCLUDE_DIR", str(eigen.parent))
    monkeypatch.delenv("ONNXRUNTIME_INCLUDE_DIR", raising=False)
    monkeypatch.setattr(native, "ORT_DIRS", (str(tmp_path / "nowhere"),))
    with pytest.raises(native.NativeUnavailable, match="libonnxruntime-dev"):
        native.library(tmp_path)
    # Not built yet, and not to be built: nothing is compiled.
    monkeypatch.setenv("ONNXRUNTIME_INCLUDE_DIR", str(tmp_path))
    (tmp_path / "onnxruntime_cxx_api.h").write_text("")
    with pytest.raises(native.NativeUnavailable, match="not built yet"):
        native.library(tmp_path / "native", build=False)
    assert not (tmp_path / "native").exists()


def test_the_setting_turns_it_off(tmp_path: Path) -> None:
    assert _native_library(SessionConfig(cache_dir=tmp_path, native_kernels=False), True) is None
    assert not (tmp_path / "native").exists()


def test_the_installed_kernel_serves_where_nothing_compiles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An image built with a compiler that it then removes (the add-on) installs a kernel
    for any CPU of its architecture; the server checks and uses it."""
    toolchain()
    assert "-mavx2" not in native.compile_command(Path("x.so"), portable=True)
    target = tmp_path / "share" / "snake.so"
    monkeypatch.setattr(native, "installed", lambda: target)
    assert native.install() == target and target.is_file()
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert native.library(tmp_path / "native") == target
    target.unlink()
    with pytest.raises(native.NativeUnavailable, match="no C..? compiler"):
        native.library(tmp_path / "native")


def test_headers_in_place_are_not_fetched_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "include" / "eigen3" / "Eigen").mkdir(parents=True)
    (tmp_path / "include" / "eigen3" / "Eigen" / "Core").write_text("")
    (tmp_path / "include" / "onnxruntime").mkdir()
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(native.NativeUnavailable, match="apt-get"):
        native.fetch_headers(tmp_path)
    (tmp_path / "include" / "onnxruntime" / "onnxruntime_cxx_api.h").write_text("")
    assert native.fetch_headers(tmp_path) is False


def test_the_image_build_command_installs_a_checked_kernel(tmp_path: Path) -> None:
    """``python -m wyoming_kokoro.engine.native --install``, as addon/Dockerfile runs it
    (the module run as ``__main__``), into a stand-in prefix."""
    toolchain()
    code = (
        "import runpy, sys; sys.prefix = sys.argv[1]; sys.argv = ['native', '--install']; "
        "runpy.run_module('wyoming_kokoro.engine.native', run_name='__main__')"
    )
    env = dict(os.environ)  # the headers where this test run found them
    env["EIGEN3_INCLUDE_DIR"] = str(native._include(native.EIGEN_DIRS, "Eigen/Core", "-"))
    env["ONNXRUNTIME_INCLUDE_DIR"] = str(
        native._include(native.ORT_DIRS, "onnxruntime_cxx_api.h", "-")
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "built and checked" in done.stdout
    assert list((tmp_path / "share" / "wyoming-kokoro").glob("snake-*.so"))


def run_all(model: Any, feeds: dict[str, np.ndarray], path: Path | None, threads: int = 2) -> list:
    session = native._session(model, path, threads)
    return [np.asarray(v) for v in session.run(None, feeds)]


def same_outputs(got: list, want: list) -> bool:
    return len(got) == len(want) and all(
        a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()
        for a, b in zip(got, want, strict=True)
    )


def centred_feeds(rows: int, channels: int, steps: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(steps)
    column = (1, channels, 1)
    return {
        "x": (rng.standard_normal((rows, channels, steps)) * 3 + 1).astype(np.float32),
        "m": rng.standard_normal(column).astype(np.float32),
        "s": rng.uniform(0.1, 3.0, column).astype(np.float32),
        "g": rng.uniform(0.5, 2.0, column).astype(np.float32),
        "b": rng.standard_normal(column).astype(np.float32),
    }


@pytest.mark.parametrize("steps", [1, 3, 7, 8, 9, 2049, 5003])
@pytest.mark.parametrize("rows", [1, 2])
def test_the_centred_normalization_makes_the_operators_floats(
    library: Path, steps: int, rows: int
) -> None:
    """The variance summed in onnxruntime's order (rows starting at every alignment) and
    the Snake on x - m, against Sub, Mul, ReduceMean and the AdaIN's tail."""
    channels = 5
    alpha = np.random.default_rng(3).uniform(0.05, 3.0, (1, channels, 1)).astype(np.float32)
    model = native.snake_model(alpha, alpha, True, "centred")
    feeds = centred_feeds(rows, channels, steps)
    want = run_all(model, feeds, None)
    assert native.rewrite_snakes(model) == 1
    assert native.rewrite_centring(model) == 1
    assert sorted(n.op_type for n in model.graph.node) == ["CentredAdaINSnake", "CentredVariance"]
    for threads in (1, 2):
        assert same_outputs(run_all(model, feeds, library, threads), want)


def test_centred_values_read_elsewhere_are_left_alone() -> None:
    from onnx import TensorProto, helper

    alpha = np.full((1, 4, 1), 0.5, dtype=np.float32)
    model = native.snake_model(alpha, alpha, True, "centred")
    model.graph.output.append(helper.make_tensor_value_info("c", TensorProto.FLOAT, None))
    native.rewrite_snakes(model)
    assert native.rewrite_centring(model) == 0
    assert "Sub" in [n.op_type for n in model.graph.node]


def test_a_variance_over_another_axis_is_left_alone() -> None:
    alpha = np.full((1, 4, 1), 0.5, dtype=np.float32)
    model = native.snake_model(alpha, alpha, True, "centred")
    axes = next(t for t in model.graph.initializer if t.name == "axes")
    from onnx import numpy_helper

    axes.CopyFrom(numpy_helper.from_array(np.array([1], dtype=np.int64), "axes"))
    native.rewrite_snakes(model)
    assert native.rewrite_centring(model) == 0
    assert "Sub" in [n.op_type for n in model.graph.node]


def epilogue_feeds(rows: int, steps: int, drop: int, residual: bool) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(steps + drop)
    feeds: dict[str, np.ndarray] = {
        "columns": rng.integers(-128, 128, (3 * rows, steps + drop), dtype=np.int8),
        "zero": np.array(-7, dtype=np.int8),
        "bias": rng.integers(-(2**20), 2**20, (1, rows, 1), dtype=np.int32),
        "scale": np.array(3.7e-4, dtype=np.float32),
    }
    if residual:
        feeds["r"] = rng.standard_normal((1, rows, steps)).astype(np.float32)
    return feeds


@pytest.mark.parametrize("steps", [1, 2049])
@pytest.mark.parametrize(("drop", "residual"), [(0, False), (0, True), (22, False), (22, True)])
def test_the_convolution_epilogue_makes_the_operators_floats(
    library: Path, steps: int, drop: int, residual: bool
) -> None:
    rows = 6
    weights = np.random.default_rng(1).integers(0, 256, (rows, 3 * rows), dtype=np.uint8)
    model = native.epilogue_model(weights, drop, residual)
    feeds = epilogue_feeds(rows, steps, drop, residual)
    want = run_all(model, feeds, None)
    assert native.rewrite_conv_epilogues(model) == 1
    fused = [n.op_type for n in model.graph.node if n.domain == native.DOMAIN]
    assert fused == ["ConvEpilogueAdd" if residual else "ConvEpilogue"]
    assert "Slice" not in [n.op_type for n in model.graph.node]
    for threads in (1, 2):
        assert same_outputs(run_all(model, feeds, library, threads), want)


def two_convolutions_summed(weights: np.ndarray) -> Any:
    """Two epilogue chains (engine/epilogue_model's) whose outputs one Add sums."""
    from onnx import compose

    first = native.epilogue_model(weights, 0, False)
    second = native.epilogue_model(weights[::-1].copy(), 0, False)
    second = compose.add_prefix(second, "b/", rename_inputs=False)
    graph = first.graph
    graph.node.extend(second.graph.node)
    graph.initializer.extend(second.graph.initializer)
    graph.output[0].name = "a_out"
    graph.node[len(graph.node) - len(second.graph.node) - 1].output[0] = "a_out"
    graph.node[-1].output[0] = "b_out"
    from onnx import helper

    graph.node.append(helper.make_node("Add", ["a_out", "b_out"], ["y"]))
    graph.output[0].name = "y"
    return first


def test_two_convolutions_summed_keep_one_residual_add(library: Path) -> None:
    """An Add that is the one reader of two convolutions' outputs is fused into one of
    their epilogues, never both (the other would lose its input)."""
    rows = 4
    weights = np.random.default_rng(5).integers(0, 256, (rows, 3 * rows), dtype=np.uint8)
    model = two_convolutions_summed(weights)
    feeds = epilogue_feeds(rows, 40, 0, False)
    want = run_all(model, feeds, None)
    assert native.rewrite_conv_epilogues(model) == 2
    fused = sorted(n.op_type for n in model.graph.node if n.domain == native.DOMAIN)
    assert fused == ["ConvEpilogue", "ConvEpilogueAdd"]
    assert same_outputs(run_all(model, feeds, library), want)


def test_a_convolution_output_read_twice_keeps_its_residual_add(library: Path) -> None:
    """The Add of the residual is fused only where it is the output's one reader."""
    from onnx import TensorProto, helper

    rows = 4
    weights = np.random.default_rng(2).integers(0, 256, (rows, 3 * rows), dtype=np.uint8)
    model = native.epilogue_model(weights, 0, True)
    model.graph.output.append(helper.make_tensor_value_info("conv", TensorProto.FLOAT, None))
    feeds = epilogue_feeds(rows, 33, 0, True)
    want = run_all(model, feeds, None)
    assert native.rewrite_conv_epilogues(model) == 1
    ops = [n.op_type for n in model.graph.node]
    assert "ConvEpilogue" in ops and ops[-1] == "Add"
    assert same_outputs(run_all(model, feeds, library), want)


@pytest.mark.parametrize(("before", "after"), [(0, 0), (1, 1), (5, 0), (0, 22)])
@pytest.mark.parametrize("steps", [1, 4099])
def test_the_int8_padding_makes_the_operators_bytes(
    library: Path, before: int, after: int, steps: int
) -> None:
    model = native.padding_model(before, after)
    rng = np.random.default_rng(steps)
    feeds = {
        "q": rng.integers(0, 256, (1, 3, steps), dtype=np.uint8),
        "zero": np.array(201, dtype=np.uint8),
    }
    want = run_all(model, feeds, None)
    assert native.rewrite_padding(model) == 1
    ops = [n.op_type for n in model.graph.node]
    # The input's move to int8 is gone; the zero point's stays (the product reads it too).
    assert sorted(ops) == ["BitwiseXor", "Cast", "PaddedInt8"]
    for threads in (1, 2):
        assert same_outputs(run_all(model, feeds, library, threads), want)


@pytest.mark.parametrize(("repeats", "tail"), [(3, 3), (11, 55), (1, 0)])
def test_the_columns_of_a_stride_one_convolution_are_written_at_once(
    library: Path, repeats: int, tail: int
) -> None:
    """engine/int8.py's Concat of the padded rows, repeated, and a tail of zeros."""
    model = native.padding_model(2, 3, repeats, tail)
    rng = np.random.default_rng(repeats)
    feeds = {
        "q": rng.integers(0, 256, (1, 3, 2051), dtype=np.uint8),
        "zero": np.array(77, dtype=np.uint8),
    }
    want = run_all(model, feeds, None)
    assert native.rewrite_padding(model) == 1
    assert native.rewrite_repeats(model) == 1
    assert "Concat" not in [n.op_type for n in model.graph.node]
    for threads in (1, 2):
        assert same_outputs(run_all(model, feeds, library, threads), want)


def test_columns_with_a_tail_of_another_value_are_left_alone() -> None:
    from onnx import numpy_helper

    model = native.padding_model(1, 1, 3, 3)
    tail = next(t for t in model.graph.initializer if t.name == "tail")
    tail.CopyFrom(numpy_helper.from_array(np.ones((3, 3), dtype=np.int8), "tail"))
    native.rewrite_padding(model)
    assert native.rewrite_repeats(model) == 0
    assert "Concat" in [n.op_type for n in model.graph.node]


def test_an_int8_input_read_elsewhere_is_kept(library: Path) -> None:
    from onnx import TensorProto, helper

    model = native.padding_model(2, 2)
    model.graph.output.append(helper.make_tensor_value_info("q8", TensorProto.INT8, None))
    feeds = {"q": np.arange(30, dtype=np.uint8).reshape(1, 3, 10), "zero": np.array(9, np.uint8)}
    want = run_all(model, feeds, None)
    assert native.rewrite_padding(model) == 1
    ops = [n.op_type for n in model.graph.node]
    assert "PaddedInt8" in ops and "Squeeze" not in ops and ops.count("Cast") == 2
    assert same_outputs(run_all(model, feeds, library), want)


def int8_kernels_form(weights: np.ndarray, dilation: int, pad: int, residual: bool) -> Any:
    """native.conv_model as the int8 kernels' version leaves it (engine/int8.py, exact.py)."""
    from wyoming_kokoro.engine.exact import rewrite_epilogues
    from wyoming_kokoro.engine.int8 import rewrite_convolutions

    model = native.conv_model(weights, dilation, pad, residual)
    assert rewrite_convolutions(model) == 1
    assert rewrite_epilogues(model) == 1
    return model


def conv_feeds(channels: int, outputs: int, steps: int, out: int, residual: bool) -> dict:
    rng = np.random.default_rng(steps)
    feeds = {"x": (rng.standard_normal((1, channels, steps)) * 2).astype(np.float32)}
    if residual:
        feeds["r"] = rng.standard_normal((1, outputs, out)).astype(np.float32)
    return feeds


@pytest.mark.parametrize(
    ("channels", "outputs", "taps", "dilation", "pad"),
    [(16, 8, 11, 1, 5), (8, 16, 3, 5, 5), (3, 5, 7, 3, 9), (22, 24, 1, 1, 0), (4, 4, 3, 1, 1)],
)
@pytest.mark.parametrize("steps", [13, 4099])
@pytest.mark.parametrize("residual", [False, True])
def test_a_convolution_turned_to_time_major_makes_the_same_floats(
    library: Path,
    channels: int,
    outputs: int,
    taps: int,
    dilation: int,
    pad: int,
    steps: int,
    residual: bool,
) -> None:
    """Columns × weights, written back channel by channel, against the int8 kernels'
    weights × columns: the same sums, so the same floats, on one thread and two."""
    if not native.products_exact():
        pytest.skip("onnxruntime's uint8 x int8 products are not exact here")
    rng = np.random.default_rng(taps)
    weights = rng.integers(0, 256, (outputs, channels, taps), dtype=np.uint8)
    plain = int8_kernels_form(weights, dilation, pad, residual)
    model = int8_kernels_form(weights, dilation, pad, residual)
    native.rewrite_conv_epilogues(model)
    native.rewrite_padding(model)
    native.rewrite_repeats(model)
    assert native.rewrite_time_major(model) == 1
    ops = [n.op_type for n in model.graph.node]
    assert "TimeColumns" in ops and "PaddedInt8" not in ops and "Reshape" not in ops
    assert "BitwiseXor" not in ops and "Cast" in ops  # the bias's Cast stays
    assert ("TransposedEpilogueAdd" if residual else "TransposedEpilogue") in ops
    out = steps + 2 * pad - (taps - 1) * dilation
    feeds = conv_feeds(channels, outputs, steps, out, residual)
    want = run_all(plain, feeds, None)
    for threads in (1, 2):
        assert same_outputs(run_all(model, feeds, library, threads), want)


def test_the_native_version_turns_convolutions_only_where_products_are_exact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    weights = np.full((4, 4, 3), 130, dtype=np.uint8)
    monkeypatch.setattr(native, "products_exact", lambda: False)
    model = int8_kernels_form(weights, 1, 1, False)
    native.rewrite_carried(model)
    assert "TimeColumns" not in [n.op_type for n in model.graph.node]
    monkeypatch.setattr(native, "products_exact", lambda: True)
    model = int8_kernels_form(weights, 1, 1, False)
    native.rewrite_carried(model)
    assert "TimeColumns" in [n.op_type for n in model.graph.node]


def test_products_are_exact_on_this_machine_where_it_has_vnni() -> None:
    """The probe itself: x86 with VNNI (this project's machines) or ARM gives exact sums."""
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    if "avx512_vnni" not in flags and "avx_vnni" not in flags:
        pytest.skip("no VNNI here: onnxruntime may pair products in 16 bits")
    assert native.products_exact()


def test_columns_read_elsewhere_keep_the_convolution_as_it_is() -> None:
    from onnx import TensorProto, helper

    model = int8_kernels_form(np.full((4, 4, 3), 99, dtype=np.uint8), 2, 2, False)
    native.rewrite_conv_epilogues(model)
    native.rewrite_padding(model)
    native.rewrite_repeats(model)
    padded = next(n for n in model.graph.node if n.op_type == "PaddedInt8").output[0]
    model.graph.output.append(helper.make_tensor_value_info(padded, TensorProto.INT8, None))
    assert native.rewrite_time_major(model) == 0


def test_time_columns_refuse_an_input_of_another_shape(library: Path) -> None:
    from onnx import TensorProto, helper

    node = helper.make_node(
        "TimeColumns",
        ["q", "z"],
        ["y"],
        domain=native.DOMAIN,
        before=1,
        after=1,
        taps=3,
        dilation=1,
    )
    graph = helper.make_graph(
        [node],
        "columns",
        [
            helper.make_tensor_value_info("q", TensorProto.UINT8, None),
            helper.make_tensor_value_info("z", TensorProto.UINT8, None),
        ],
        [helper.make_tensor_value_info("y", TensorProto.UINT8, None)],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid(native.DOMAIN, 1)]
    )
    session = native._session(model, library)
    with pytest.raises(Exception, match="TimeColumns: needs 1 x channels x steps"):
        session.run(None, {"q": np.zeros((2, 3, 5), np.uint8), "z": np.array(0, np.uint8)})
    q = np.arange(6, dtype=np.uint8).reshape(1, 2, 3)
    got = session.run(None, {"q": q, "z": np.array(9, np.uint8)})
    # Padded rows 9 0 1 2 9 and 9 3 4 5 9; each output step: three taps, both channels.
    assert got[0].tolist() == [[9, 9, 0, 3, 1, 4], [0, 3, 1, 4, 2, 5], [1, 4, 2, 5, 9, 9]]


@pytest.mark.parametrize(("window", "length"), [(20, 1003), (20, 20), (12, 37), (7, 8)])
def test_the_stft_makes_onnxruntimes_floats(library: Path, window: int, length: int) -> None:
    """Bluestein's algorithm as onnxruntime runs it (Kokoro's 20-point window), for frame
    counts that do and do not fill the kernel's eight lanes, two signals at once."""
    model = native.stft_model(window, 5)
    signal = (np.random.default_rng(length).standard_normal((2, length, 1)) * 0.3).astype(
        np.float32
    )
    want = run_all(model, {"signal": signal}, None)
    assert native.rewrite_stft(model) == 1
    assert [n.op_type for n in model.graph.node] == ["BluesteinSTFT"]
    for threads in (1, 2):
        assert same_outputs(run_all(model, {"signal": signal}, library, threads), want)


def test_an_stft_stepping_by_an_int32_is_left_alone() -> None:
    from onnx import numpy_helper

    model = native.stft_model(20, 5)
    step = next(t for t in model.graph.initializer if t.name == "step")
    step.CopyFrom(numpy_helper.from_array(np.array(5, dtype=np.int32), "step"))
    assert native.rewrite_stft(model) == 0


@pytest.mark.parametrize("window", [16, 130])
def test_an_stft_of_a_power_of_two_or_long_window_is_left_alone(window: int) -> None:
    """onnxruntime takes another path (radix 2 alone) for a power of two; a window past
    128 points is more than the kernel's transforms hold."""
    model = native.stft_model(window, 4)
    assert native.rewrite_stft(model) == 0
    assert [n.op_type for n in model.graph.node] == ["STFT"]


def test_an_stft_whose_frame_length_is_not_its_window_is_left_alone() -> None:
    from onnx import numpy_helper

    model = native.stft_model(20, 5)
    length = next(t for t in model.graph.initializer if t.name == "length")
    length.CopyFrom(numpy_helper.from_array(np.array(21, dtype=np.int64), "length"))
    assert native.rewrite_stft(model) == 0
