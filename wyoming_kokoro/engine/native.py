"""The vocoder's elementwise chains on kernels of our own, exact to the bit.

Once the convolutions run on the integer kernels, half the generator's time is small
operators, each one pass over its activations: ``kernels/snake.cpp`` holds onnxruntime
custom operators that each do one such chain in one pass, on every thread of
onnxruntime's own pool, with the same arithmetic (each product, quotient and sum one
IEEE operation in the export's order), so the audio does not change by a bit (on the int8
vocoder, where one ulp anywhere moves the audio ~0.8 dB, only an exact rewrite keeps it):

- ``Snake`` (~48 sites: ``x + sin(αx)²/α``, five operators, and onnxruntime runs the
  ``Sin`` on one thread), with the sine computed by Eigen's packet sine, which is what
  onnxruntime's ``Sin`` kernel runs; ``AdaINSnake`` with the AdaIN's tail before it
  (``Div``, ``Mul``, ``Add``) and ``CentredAdaINSnake`` with its centring (``Sub``) too
  (:func:`rewrite_snakes`, :func:`rewrite_centring`);
- ``CentredVariance``: the normalization's ``Mul(c, c)`` and ``ReduceMean`` on x - m,
  summed in the order of onnxruntime's ``ReduceMean`` (Eigen's sum with SSE packets);
  the centred values are then never written out (:func:`rewrite_centring`);
- ``ConvEpilogue``: an integer convolution's ``Slice``, bias ``Add``, scale ``Mul`` and
  the residual ``Add`` after it (:func:`rewrite_conv_epilogues`);
- ``PaddedInt8``: its input's move to int8 (``BitwiseXor``, ``Cast``), ``Squeeze`` and
  ``Pad`` (:func:`rewrite_padding`);
- ``TimeColumns`` and ``TransposedEpilogue``: a stride-1 convolution's product turned
  around, columns (one row per output step) × constant int8 weights, which onnxruntime
  packs once, and its epilogue writing the channels by time again (the same integer
  sums: :func:`rewrite_time_major`, where :func:`products_exact`);
- ``BluesteinSTFT``: the harmonic source's ``STFT`` (a 20-point window: onnxruntime runs
  Bluestein's algorithm, frame by frame on one thread), the same arithmetic eight frames
  at once on every thread (:func:`rewrite_stft`).

The library is compiled on this machine at the first start, when a C++ compiler, Eigen
and onnxruntime's C API headers are found (Debian/Ubuntu: ``g++ libeigen3-dev
libonnxruntime-dev``; ``--headers`` below, or ``script/native-headers``, fetches both
headers into the virtualenv on Debian bookworm too), into ``download_dir/native`` and
kept there. Where nothing compiles at run time (the add-on's image), ``python -m
wyoming_kokoro.engine.native --headers --install`` builds one for any CPU of the
architecture into the virtualenv beforehand. Before a library is first used, :func:`check`
runs it and the operators it replaces on the same tensors and wants the same bits;
otherwise (another Eigen, another onnxruntime build) it is not used. engine/split.py then
times the version of the vocoder with it against the others, as for every version, and
keeps the fastest.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .exact import rewrite_epilogues
from .graph import GraphEdit, GraphIndex
from .int8 import rewrite_convolutions
from .session import ort
from .snake import find_snakes

_LOGGER = logging.getLogger(__name__)

DOMAIN = "wyoming_kokoro"
_MS_DOMAIN = "com.microsoft"
MAX_STFT_WINDOW = 128  # BluesteinSTFT's transforms of up to 256 points live on its stack
SOURCE = Path(__file__).parent / "kernels" / "snake.cpp"
# The virtualenv's own (script/native-headers puts them there), then the system's.
_VENV = Path(sys.prefix) / "include"
EIGEN_DIRS = (
    str(_VENV / "eigen3"),
    "/usr/include/eigen3",
    "/usr/local/include/eigen3",
    "/opt/homebrew/include/eigen3",
)
ORT_DIRS = (
    str(_VENV / "onnxruntime"),
    "/usr/include/onnxruntime",
    "/usr/local/include/onnxruntime",
)
# Shapes the check runs: the generator's own widths, and rows whose count of values is
# not a multiple of 4 (onnxruntime's Sin computes its last n % 4 values one at a time).
CHECK_SHAPES = ((1, 128, 4099), (1, 256, 1101), (1, 3, 1001), (2, 8, 37))


class NativeUnavailable(RuntimeError):
    """The kernel cannot be built or is not exact here; the message says why."""


def _include(dirs: tuple[str, ...], header: str, env: str) -> str | None:
    """The first folder holding ``header``: ``env``'s folder, then the usual places."""
    for folder in (os.environ.get(env, ""), *dirs):
        if folder and (Path(folder) / header).is_file():
            return folder
    return None


def compile_command(output: Path, portable: bool = False) -> list[str]:
    """How the library is built here (``portable``: for any CPU of this architecture);
    raises NativeUnavailable naming what is missing."""
    compiler = os.environ.get("CXX") or next(
        (c for c in ("c++", "g++", "clang++") if shutil.which(c)), None
    )
    if compiler is None:
        raise NativeUnavailable("no C++ compiler (c++, g++ or clang++)")
    eigen = _include(EIGEN_DIRS, "Eigen/Core", "EIGEN3_INCLUDE_DIR")
    if eigen is None:
        raise NativeUnavailable("Eigen's headers are not installed (libeigen3-dev)")
    headers = _include(ORT_DIRS, "onnxruntime_cxx_api.h", "ONNXRUNTIME_INCLUDE_DIR")
    if headers is None:
        raise NativeUnavailable(
            "onnxruntime's C API headers are not installed (libonnxruntime-dev, or "
            "script/native-headers)"
        )
    # No -march=native and no -mfma: a fused multiply-add rounds once where onnxruntime's
    # kernels round twice. AVX2 packets give the same bits as SSE2's, twice as wide.
    flags = ["-O3", "-std=c++17", "-shared", "-fPIC", "-ffp-contract=off", "-fno-fast-math"]
    if not portable and platform.machine().lower() in ("x86_64", "amd64") and _cpu_has("avx2"):
        flags.append("-mavx2")
    return [compiler, *flags, f"-I{eigen}", f"-I{headers}", str(SOURCE), "-o", str(output)]


def _cpu_has(flag: str) -> bool:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(line.startswith("flags") and flag in line.split() for line in text.splitlines())


def installed() -> Path:
    """Where ``python -m wyoming_kokoro.engine.native --install`` puts a library built for
    any CPU of the architecture (the add-on's image: no compiler at run time)."""
    return Path(sys.prefix) / "share" / "wyoming-kokoro" / f"snake-{platform.machine()}.so"


def library(folder: Path | None, build: bool = True) -> Path:
    """The checked library for this source, compiler flags and onnxruntime: read from
    ``folder`` (``download_dir/native``), else (``build``) compiled there (or in a
    temporary folder when ``folder`` is None or not writable); where nothing can be
    compiled, the installed one (:func:`installed`). Raises NativeUnavailable."""
    probe = Path("snake.so")
    try:
        command = compile_command(probe)
    except NativeUnavailable:
        if not installed().is_file():
            raise
        check(installed())
        return installed()
    key = hashlib.sha256(
        SOURCE.read_bytes() + repr((command, ort.__version__, platform.machine())).encode()
    ).hexdigest()[:16]
    name = f"snake-{key}.so"
    if folder is not None and (folder / name).is_file():
        return folder / name  # checked before it was put there, for this onnxruntime
    if not build:
        raise NativeUnavailable("not built yet")
    if folder is not None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if not os.access(folder, os.W_OK):
                folder = None
        except OSError:
            folder = None
    target = (folder or Path(tempfile.mkdtemp(prefix="wyoming-kokoro-native-"))) / name
    partial = target.with_name(f".{name}.{os.getpid()}.tmp")
    command[command.index(str(probe))] = str(partial)
    _build_and_check(command, partial)
    partial.replace(target)  # several servers starting at once each write their own
    return target


def install(portable: bool = True) -> Path:
    """Builds the library into :func:`installed` and checks it (image builds)."""
    target = installed()
    target.parent.mkdir(parents=True, exist_ok=True)
    _build_and_check(compile_command(target, portable=portable), target)
    return target


def _build_and_check(command: list[str], output: Path) -> None:
    """Runs the compiler ``command`` that writes ``output``, then :func:`check`; removes
    ``output`` and raises NativeUnavailable if either fails."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            error = (done.stderr.strip().splitlines() or ["?"])[0]
            raise NativeUnavailable(f"the kernel did not compile: {error}")
        check(output)
    except (OSError, subprocess.TimeoutExpired) as err:
        output.unlink(missing_ok=True)
        raise NativeUnavailable(f"the compiler did not run: {err}") from None
    except NativeUnavailable:
        output.unlink(missing_ok=True)
        raise


HEADER_PACKAGES = ("libeigen3-dev", "libonnxruntime-dev")
TRIXIE = (
    "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
    "http://deb.debian.org/debian trixie main"
)


def fetch_headers(prefix: Path) -> bool:
    """Eigen's and onnxruntime's headers into ``prefix/include`` (``eigen3``,
    ``onnxruntime``), from Debian trixie's packages with apt-get: only fetched and
    unpacked, nothing installed. False when both were there already."""
    include = prefix / "include"
    if (include / "eigen3/Eigen/Core").is_file() and (
        include / "onnxruntime/onnxruntime_cxx_api.h"
    ).is_file():
        return False
    if not (shutil.which("apt-get") and shutil.which("dpkg-deb")):
        raise NativeUnavailable("no apt-get and dpkg-deb here to fetch the headers with")
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        (work / "lists" / "partial").mkdir(parents=True)
        (work / "debs").mkdir()
        (work / "sources.list").write_text(TRIXIE + "\n", encoding="utf-8")
        options = [
            "-qq",
            "-o", f"Dir::Etc::SourceList={work / 'sources.list'}",
            "-o", "Dir::Etc::SourceParts=/dev/null",
            "-o", f"Dir::State::Lists={work / 'lists'}",
            "-o", f"Dir::Cache={work / 'cache'}",
            "-o", "Debug::NoLocking=1",
        ]  # fmt: skip
        if os.geteuid() == 0:  # root: apt would hand the download to its _apt user
            options += ["-o", "APT::Sandbox::User=root"]
        for step in (["update"], ["download", *HEADER_PACKAGES]):
            done = subprocess.run(
                ["apt-get", *options, *step],
                cwd=work / "debs",
                capture_output=True,
                text=True,
                timeout=600,
            )
            if done.returncode != 0:
                error = (done.stderr.strip().splitlines() or ["?"])[-1]
                raise NativeUnavailable(f"apt-get {step[0]} failed: {error}")
        for deb in sorted((work / "debs").glob("*.deb")):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(work / "root")], check=True)
        include.mkdir(parents=True, exist_ok=True)
        for name in ("eigen3", "onnxruntime"):
            shutil.rmtree(include / name, ignore_errors=True)
            shutil.copytree(work / "root" / "usr" / "include" / name, include / name)
    return True


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m wyoming_kokoro.engine.native",
        description="The vocoder's native kernels: fetch their headers, build them.",
    )
    parser.add_argument(
        "--headers",
        action="store_true",
        help="fetch Eigen's and onnxruntime's headers into this virtualenv's include/",
    )
    parser.add_argument(
        "--install",
        action="store_true",
        help="build the kernel for any CPU of this architecture into this virtualenv "
        "(used where no compiler is at hand at run time), and check it",
    )
    args = parser.parse_args()
    try:
        if args.headers and fetch_headers(Path(sys.prefix)):
            print(f"native: Eigen and onnxruntime headers in {Path(sys.prefix) / 'include'}")
        if args.install:
            print(f"native: built and checked {install()}")
    except NativeUnavailable as err:
        raise SystemExit(f"native: {err}") from None


def register(options: Any, path: Path) -> Any:
    """``options`` (onnxruntime SessionOptions) with the library's operators."""
    options.register_custom_ops_library(str(path))
    return options


def check(path: Path) -> None:
    """Runs the library's operators and those they replace on the same random tensors,
    on two threads (the work is split as in the server); raises NativeUnavailable unless
    every value is the same to the bit."""
    rng = np.random.default_rng(0)
    for form in ("snake", "adain", "centred"):
        for divide in (False, True):
            for shape in CHECK_SHAPES:
                channels = shape[1]
                alpha = rng.uniform(0.05, 3.0, (1, channels, 1)).astype(np.float32)
                weight = alpha if divide else (1 / (alpha + 1e-9)).astype(np.float32)
                plain = snake_model(alpha, weight, divide, form)
                fused = snake_model(alpha, weight, divide, form)
                rewrite_snakes(fused)
                rewrite_centring(fused)
                feeds: dict[str, np.ndarray] = {
                    "x": (rng.standard_normal(shape) * 4).astype(np.float32)
                }
                column = (1, channels, 1)
                if form != "snake":
                    feeds["s"] = rng.uniform(0.1, 3.0, column).astype(np.float32)
                    feeds["g"] = rng.uniform(0.5, 2.0, column).astype(np.float32)
                    feeds["b"] = rng.standard_normal(column).astype(np.float32)
                if form == "centred":
                    feeds["m"] = rng.standard_normal(column).astype(np.float32)
                _compare(fused, plain, feeds, path, f"{form} Snake")
    for rows, steps in ((8, 4099), (3, 1001)):  # rows past one task's chunk, and odd
        for drop, residual in ((0, False), (22, True), (10, False), (0, True)):
            inputs = 3 * rows
            feeds = {
                "columns": rng.integers(-128, 128, (inputs, steps + drop), dtype=np.int8),
                "zero": np.array(rng.integers(-128, 128), dtype=np.int8),
                "bias": rng.integers(-(2**20), 2**20, (1, rows, 1), dtype=np.int32),
                "scale": np.array(rng.uniform(1e-5, 1e-2), dtype=np.float32),
            }
            if residual:
                feeds["r"] = rng.standard_normal((1, rows, steps)).astype(np.float32)
            weights = rng.integers(0, 256, (rows, inputs), dtype=np.uint8)
            plain = epilogue_model(weights, drop, residual)
            fused = epilogue_model(weights, drop, residual)
            rewrite_conv_epilogues(fused)
            _compare(fused, plain, feeds, path, "convolution epilogue")
    for shape, before, after, repeats in (
        ((1, 8, 4099), 1, 1, 0),
        ((1, 3, 37), 0, 5, 0),
        ((1, 2, 5), 3, 0, 0),
        ((1, 3, 1001), 5, 5, 11),
    ):
        plain = padding_model(before, after, repeats, 2 * repeats)
        fused = padding_model(before, after, repeats, 2 * repeats)
        rewrite_padding(fused)
        rewrite_repeats(fused)
        feeds = {
            "q": rng.integers(0, 256, shape, dtype=np.uint8),
            "zero": np.array(rng.integers(0, 256), dtype=np.uint8),
        }
        _compare(fused, plain, feeds, path, "int8 padding")
    for channels, outputs, steps, taps, dilation, pad, residual in (
        (16, 8, 4099, 11, 1, 5, True),  # steps past a task's block, and a partial one
        (8, 16, 1001, 3, 5, 5, False),
        (3, 5, 37, 7, 3, 9, True),  # fewer channels and outputs than a packet
        (22, 24, 300, 1, 1, 0, False),  # one tap, no padding: the input as it is
    ):
        weights = rng.integers(0, 256, (outputs, channels, taps), dtype=np.uint8)
        plain = conv_model(weights, dilation, pad, residual)
        fused = conv_model(weights, dilation, pad, residual)
        for model in (plain, fused):
            rewrite_convolutions(model)
            rewrite_epilogues(model)
        rewrite_carried(fused)
        feeds = {"x": (rng.standard_normal((1, channels, steps)) * 3).astype(np.float32)}
        if residual:
            out = steps + 2 * pad - (taps - 1) * dilation
            feeds["r"] = rng.standard_normal((1, outputs, out)).astype(np.float32)
        _compare(fused, plain, feeds, path, "int8 convolution")
    for window, length in ((20, 1003), (12, 37), (7, 7)):
        plain, fused = stft_model(window, 5), stft_model(window, 5)
        rewrite_stft(fused)
        signal = (rng.standard_normal((2, length, 1)) * 0.3).astype(np.float32)
        _compare(fused, plain, {"signal": signal}, path, "STFT")


def _compare(fused: Any, plain: Any, feeds: dict[str, np.ndarray], path: Path, what: str) -> None:
    try:
        got = _session(fused, path).run(None, feeds)
        want = _session(plain, None).run(None, feeds)
    except Exception as err:
        raise NativeUnavailable(f"the kernel does not run: {err}") from None
    for a, b in zip(got, want, strict=True):
        if a.shape != b.shape or a.dtype != b.dtype or a.tobytes() != b.tobytes():
            differ = int(np.count_nonzero(a != b)) if a.shape == b.shape else -1
            raise NativeUnavailable(
                f"the kernel's {what} is not onnxruntime's to the bit here ({differ} of "
                f"{b.size} values differ)"
            )


def _session(model: Any, path: Path | None, threads: int = 2) -> Any:
    """A CPU session on ``model`` with the library at ``path`` (None: without it)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    if path is not None:
        register(options, path)
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def snake_model(alpha: np.ndarray, weight: np.ndarray, divide: bool, form: str) -> Any:
    """A Snake as the export spells it, ``Mul(α, x) → Sin → Mul(s, s) → Mul(r, ·)`` (or
    ``Div(·, d)``) ``→ Add(x, ·)``: with ``form`` "snake" on x; "adain" on ``g·(x / s) +
    b`` (inputs s, g, b: one value per channel); "centred" on ``g·((x - m) / s) + b``,
    with the normalization's variance ``ReduceMean((x - m)²)`` as a second output."""
    from onnx import TensorProto, helper, numpy_helper

    nodes = []
    x = "x"
    shape = [None, alpha.shape[1], None]
    column = [1, alpha.shape[1], 1]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)]
    outputs = []
    initializers = [
        numpy_helper.from_array(alpha, "alpha"),
        numpy_helper.from_array(weight, "weight"),
    ]
    if form == "centred":
        nodes += [
            helper.make_node("Sub", ["x", "m"], ["c"]),
            helper.make_node("Mul", ["c", "c"], ["c2"]),
            helper.make_node("ReduceMean", ["c2", "axes"], ["var"], keepdims=1),
        ]
        inputs.append(helper.make_tensor_value_info("m", TensorProto.FLOAT, column))
        initializers.append(numpy_helper.from_array(np.array([2], dtype=np.int64), "axes"))
        outputs.append(helper.make_tensor_value_info("var", TensorProto.FLOAT, column))
        x = "c"
    if form != "snake":
        nodes += [
            helper.make_node("Div", [x, "s"], ["normal"]),
            helper.make_node("Mul", ["g", "normal"], ["scaled"]),
            helper.make_node("Add", ["scaled", "b"], ["x2"]),
        ]
        inputs += [helper.make_tensor_value_info(n, TensorProto.FLOAT, column) for n in "sgb"]
        x = "x2"
    nodes += [
        helper.make_node("Mul", ["alpha", x], ["t"]),
        helper.make_node("Sin", ["t"], ["sine"]),
        helper.make_node("Mul", ["sine", "sine"], ["q"]),
        helper.make_node("Div" if divide else "Mul", ["q", "weight"], ["w"]),
        helper.make_node("Add", [x, "w"], ["y"]),
    ]
    outputs.insert(0, helper.make_tensor_value_info("y", TensorProto.FLOAT, shape))
    graph = helper.make_graph(nodes, "snake", inputs, outputs, initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def epilogue_model(weights: np.ndarray, drop: int, residual: bool) -> Any:
    """An int8 convolution's product and epilogue as engine/int8.py and engine/exact.py
    leave it: ``MatMulIntegerToFloat(weights, columns)`` (zero points 128 and ``zero``),
    ``[Slice(·, 0, -drop)] → Unsqueeze → Add(Cast(bias)) → Mul(scale) [→ Add(r)]``."""
    from onnx import TensorProto, helper, numpy_helper

    def constant(name: str, value: np.ndarray) -> Any:
        return numpy_helper.from_array(value, name)

    rows = weights.shape[0]
    initializers = [
        constant("weights", weights),
        constant("one", np.array(1.0, dtype=np.float32)),
        constant("w_zero", np.array(128, dtype=np.uint8)),
        constant("axis0", np.array([0], dtype=np.int64)),
        constant("axis1", np.array([1], dtype=np.int64)),
        constant("start", np.array([0], dtype=np.int64)),
        constant("end", np.array([-drop], dtype=np.int64)),
    ]
    nodes = [
        helper.make_node(
            "MatMulIntegerToFloat",
            ["weights", "columns", "one", "one", "w_zero", "zero"],
            ["product"],
            domain=_MS_DOMAIN,
        )
    ]
    wide = "product"
    if drop:
        nodes.append(helper.make_node("Slice", ["product", "start", "end", "axis1"], ["sliced"]))
        wide = "sliced"
    nodes += [
        helper.make_node("Unsqueeze", [wide, "axis0"], ["batch"]),
        helper.make_node("Cast", ["bias"], ["bias_f"], to=TensorProto.FLOAT),
        helper.make_node("Add", ["batch", "bias_f"], ["biased"]),
        helper.make_node("Mul", ["biased", "scale"], ["y" if not residual else "conv"]),
    ]
    inputs = [
        helper.make_tensor_value_info("columns", TensorProto.INT8, [None, None]),
        helper.make_tensor_value_info("zero", TensorProto.INT8, []),
        helper.make_tensor_value_info("bias", TensorProto.INT32, [1, rows, 1]),
        helper.make_tensor_value_info("scale", TensorProto.FLOAT, []),
    ]
    return _convolution_graph("epilogue", nodes, inputs, initializers, rows, residual)


def _convolution_graph(
    name: str,
    nodes: list[Any],
    inputs: list[Any],
    initializers: list[Any],
    rows: int,
    residual: bool,
) -> Any:
    """The model of a convolution's ``nodes`` that end in y (in conv, with ``residual``:
    then y = conv + r, r an input of ``rows`` rows)."""
    from onnx import TensorProto, helper

    if residual:
        nodes.append(helper.make_node("Add", ["conv", "r"], ["y"]))
        inputs.append(helper.make_tensor_value_info("r", TensorProto.FLOAT, [1, rows, None]))
    graph = helper.make_graph(
        nodes,
        name,
        inputs,
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, rows, None])],
        initializers,
    )
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid(_MS_DOMAIN, 1)]
    )


def conv_model(weights: np.ndarray, dilation: int, pad: int, residual: bool) -> Any:
    """A dynamically quantized 1-D convolution as Kokoro's export spells it:
    ``DynamicQuantizeLinear(x)`` → ``ConvInteger`` (uint8 ``weights``, outputs × inputs ×
    taps, zero point 128; ``pad`` steps of padding on each side) → ``Add(int32 bias)`` →
    ``Cast`` → ``Mul(x scale · weight scale)`` [→ ``Add(r)``]."""
    from onnx import TensorProto, helper, numpy_helper

    outputs = weights.shape[0]
    bias = np.arange(-outputs, outputs, 2, dtype=np.int32).reshape(1, outputs, 1) * 1021
    initializers = [
        numpy_helper.from_array(weights, "w"),
        numpy_helper.from_array(np.array(128, dtype=np.uint8), "w_zero"),
        numpy_helper.from_array(bias, "bias"),
        numpy_helper.from_array(np.array(0.0123, dtype=np.float32), "w_scale"),
    ]
    nodes = [
        helper.make_node("DynamicQuantizeLinear", ["x"], ["q", "q_scale", "q_zero"]),
        helper.make_node(
            "ConvInteger",
            ["q", "w", "q_zero", "w_zero"],
            ["sums"],
            dilations=[dilation],
            pads=[pad, pad],
            kernel_shape=[weights.shape[2]],
        ),
        helper.make_node("Add", ["sums", "bias"], ["biased"]),
        helper.make_node("Cast", ["biased"], ["as_float"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["q_scale", "w_scale"], ["scale"]),
        helper.make_node("Mul", ["as_float", "scale"], ["conv" if residual else "y"]),
    ]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, weights.shape[1], None])]
    return _convolution_graph("convolution", nodes, inputs, initializers, outputs, residual)


def padding_model(before: int, after: int, repeats: int = 0, tail: int = 0) -> Any:
    """A convolution input's move to int8 and padding as engine/int8.py writes them, on
    a quantized input q (1 × channels × steps) with zero point ``zero`` (uint8); with
    ``repeats``, its columns as a stride-1 convolution's: the padded rows ``repeats``
    times and ``tail`` zeros (channels given by ``repeats``' model: 3)."""
    from onnx import TensorProto, helper, numpy_helper

    initializers = [
        numpy_helper.from_array(np.array(0x80, dtype=np.uint8), "flip"),
        numpy_helper.from_array(np.array([0], dtype=np.int64), "axis0"),
        numpy_helper.from_array(np.array([0, before, 0, after], dtype=np.int64), "pads"),
    ]
    nodes = [
        helper.make_node("BitwiseXor", ["q", "flip"], ["q_flip"]),
        helper.make_node("Cast", ["q_flip"], ["q8"], to=TensorProto.INT8),
        helper.make_node("BitwiseXor", ["zero", "flip"], ["zero_flip"]),
        helper.make_node("Cast", ["zero_flip"], ["zero8"], to=TensorProto.INT8),
        helper.make_node("Squeeze", ["q8", "axis0"], ["rows"]),
        helper.make_node("Pad", ["rows", "pads", "zero8"], ["padded" if repeats else "y"]),
    ]
    if repeats:
        zeros = np.zeros((3, tail), dtype=np.int8)
        initializers.append(numpy_helper.from_array(zeros, "tail"))
        nodes.append(helper.make_node("Concat", ["padded"] * repeats + ["tail"], ["y"], axis=1))
    graph = helper.make_graph(
        nodes,
        "padding",
        [
            helper.make_tensor_value_info("q", TensorProto.UINT8, [1, None, None]),
            helper.make_tensor_value_info("zero", TensorProto.UINT8, []),
        ],
        [helper.make_tensor_value_info("y", TensorProto.INT8, [None, None])],
        initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def stft_model(window: int, step: int) -> Any:
    """ONNX's one-sided STFT with a Hann window of ``window`` points, every ``step``
    samples, as Kokoro's generator takes its harmonic source's spectrum."""
    from onnx import TensorProto, helper, numpy_helper

    hann = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(window) / window)).astype(np.float32)
    initializers = [
        numpy_helper.from_array(np.array(step, dtype=np.int64), "step"),
        numpy_helper.from_array(hann, "window"),
        numpy_helper.from_array(np.array(window, dtype=np.int64), "length"),
    ]
    node = helper.make_node("STFT", ["signal", "step", "window", "length"], ["y"], onesided=1)
    graph = helper.make_graph(
        [node],
        "stft",
        [helper.make_tensor_value_info("signal", TensorProto.FLOAT, [None, None, 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def snake_node(
    inputs: list[str], alpha: str, weight: str, output: str, divide: bool, name: str = ""
) -> Any:
    """``Snake`` of ``inputs`` = [x], or ``AdaINSnake`` of [c, s, g, b] (see the kernel)."""
    from onnx import helper

    return helper.make_node(
        "AdaINSnake" if len(inputs) == 4 else "Snake",
        [*inputs, alpha, weight],
        [output],
        name=name,
        domain=DOMAIN,
        divide=int(divide),
    )


def adain_tail(x: str, snake: tuple[Any, ...], index: GraphIndex) -> tuple[list[Any], list[str]]:
    """The end of an AdaIN that makes ``x`` for this Snake alone, ``Div(c, s)`` →
    ``Mul(g, ·)`` → ``Add(·, b)``, as (its three nodes, [c, s, g, b]); ([], []) if ``x``
    is made otherwise or read by more than the Snake."""
    add = index.producers.get(x)
    readers = index.consumers.get(x, [])
    if add is None or add.op_type != "Add" or x in index.outputs:
        return [], []
    if len(readers) != 2 or {id(n) for n in readers} != {id(snake[0]), id(snake[-1])}:
        return [], []
    for m, b in ((add.input[0], add.input[1]), (add.input[1], add.input[0])):
        mul = index.only(m, "Add") and index.producers.get(m)
        if mul is None or mul.op_type != "Mul" or m == b:
            continue
        for q, g in ((mul.input[0], mul.input[1]), (mul.input[1], mul.input[0])):
            div = index.only(q, "Mul") and index.producers.get(q)
            if div is None or div.op_type != "Div" or q == g:
                continue
            return [div, mul, add], [div.input[0], div.input[1], g, b]
    return [], []


def _apply(model: Any, edit: GraphEdit) -> None:
    """Makes a rewrite's edits, and declares the library's domain if it placed a node."""
    from onnx import helper

    edit.apply()
    if edit.replaced and not any(o.domain == DOMAIN for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(DOMAIN, 1))


def rewrite_snakes(model: Any, adain: bool = True) -> int:
    """Each Snake of ``model`` (as engine/snake.py finds them) as the library's one
    operator, reading the export's own α and weighting constants, and with ``adain`` the
    end of the AdaIN before it too where it feeds that Snake alone; in place. Returns how
    many Snakes. The kernel checks at run time that each factor has one value per
    channel."""
    edit = GraphEdit.of(model.graph)
    index = edit.index
    sites = find_snakes(edit.graph, index)
    if not sites:
        return 0
    for site in sites:
        scale, _, _, weigh, add = site.nodes
        alpha = next(name for name in scale.input if name != site.x)
        if weigh.op_type == "Div":
            weight = weigh.input[1]
        else:
            weight = next(name for name in weigh.input if index.value(name) is not None)
        tail, inputs = adain_tail(site.x, site.nodes, index) if adain else ([], [])
        node = snake_node(
            inputs or [site.x], alpha, weight, site.output, weigh.op_type == "Div", add.name
        )
        edit.replaced[edit.at(add)] = [node]
        edit.removed.update(edit.at(n) for n in (*tail, *site.nodes[:-1]))
    _apply(model, edit)
    return len(sites)


def rewrite_centring(model: Any) -> int:
    """Each normalization that centres ``x`` for an ``AdaINSnake`` alone (after
    :func:`rewrite_snakes`): ``Sub(x, m)`` → c, read by the Snake and by ``Mul(c, c)`` →
    ``ReduceMean`` over the last axis, as ``CentredVariance(x, m)`` and
    ``CentredAdaINSnake(x, m, ...)``: c is never written out, and the squares are summed
    in onnxruntime's order. In place; returns how many."""
    from onnx import helper

    edit = GraphEdit.of(model.graph)
    graph, index = edit.graph, edit.index
    for node in graph.node:
        if node.op_type != "AdaINSnake" or node.domain != DOMAIN:
            continue
        centred = node.input[0]
        sub = index.producers.get(centred)
        if sub is None or sub.op_type != "Sub" or centred in index.outputs:
            continue
        readers = index.consumers.get(centred, [])
        squares = [n for n in readers if n.op_type == "Mul" and list(n.input) == [centred] * 2]
        if len(readers) != 2 or len(squares) != 1:
            continue
        mean = index.only(squares[0].output[0], "ReduceMean")
        if mean is None or not index.mean_over_time(mean):
            continue
        x, m = sub.input
        edit.replaced[edit.at(mean)] = [
            helper.make_node(
                "CentredVariance", [x, m], list(mean.output), name=mean.name, domain=DOMAIN
            )
        ]
        snake = helper.make_node(
            "CentredAdaINSnake",
            [x, m, *node.input[1:]],
            list(node.output),
            name=node.name,
            domain=DOMAIN,
        )
        snake.attribute.extend(node.attribute)
        edit.replaced[edit.at(node)] = [snake]
        edit.removed.update((edit.at(sub), edit.at(squares[0])))
    _apply(model, edit)
    return len(edit.replaced) // 2


def rewrite_conv_epilogues(model: Any) -> int:
    """The end of each int8 convolution (engine/int8.py, engine/exact.py's epilogue):
    ``MatMulIntegerToFloat`` → p, ``[Slice(p, 0, -drop, axis 1) →] Unsqueeze(0) →
    Add(·, bias) → Mul(·, scale)``, and the ``Add`` of a residual where that is the only
    reader, as one ``ConvEpilogue`` (``ConvEpilogueAdd``) on p: one pass over memory for
    three to five. In place; returns how many."""
    from onnx import helper

    edit = GraphEdit.of(model.graph)
    graph, index = edit.graph, edit.index

    for node in graph.node:
        if node.op_type != "MatMulIntegerToFloat" or len(node.input) != 6:
            continue
        product = node.output[0]
        chain: list[Any] = [index.only(product, "Slice", "Unsqueeze")]
        drop = 0
        if chain[0] is not None and chain[0].op_type == "Slice":
            step = chain[0]
            ends = index.ints(step.input[2]) if len(step.input) > 2 else None
            axes = index.ints(step.input[3]) if len(step.input) > 3 else None
            steps = index.ints(step.input[4]) if len(step.input) > 4 and step.input[4] else [1]
            if (
                index.ints(step.input[1]) != [0]
                or ends is None
                or len(ends) != 1
                or ends[0] >= 0
                or axes not in ([1], [-1])
                or steps != [1]
            ):
                continue
            drop = -ends[0]
            chain.append(index.only(step.output[0], "Unsqueeze"))
        unsqueeze = chain[-1]
        if unsqueeze is None or unsqueeze.op_type != "Unsqueeze":
            continue
        if len(unsqueeze.input) < 2 or index.ints(unsqueeze.input[1]) != [0]:
            continue
        add = index.only(unsqueeze.output[0], "Add")
        if add is None:
            continue
        bias = next((n for n in add.input if n != unsqueeze.output[0]), None)
        mul = index.only(add.output[0], "Mul")
        if bias is None or mul is None:
            continue
        scale = next((n for n in mul.input if n != add.output[0]), None)
        if scale is None:
            continue
        chain += [add, mul]
        out, inputs, op = mul.output[0], [product, bias, scale], "ConvEpilogue"
        residual = index.only(out, "Add")
        # Not an Add that another convolution's epilogue took already (two summed).
        if (
            residual is not None
            and len(set(residual.input)) == 2
            and edit.at(residual) not in edit.replaced
        ):
            inputs.append(next(n for n in residual.input if n != out))
            out, op = residual.output[0], "ConvEpilogueAdd"
            chain.append(residual)
        edit.replaced[edit.at(chain[-1])] = [
            helper.make_node(op, inputs, [out], name=chain[-1].name, domain=DOMAIN, drop=drop)
        ]
        edit.removed.update(edit.at(n) for n in chain[:-1])
    _apply(model, edit)
    return len(edit.replaced)


def rewrite_padding(model: Any) -> int:
    """Each int8 convolution input that engine/int8.py moves to int8 and pads,
    ``BitwiseXor(q, 0x80) → Cast(int8) → Squeeze(0) → Pad(·, [0, before, 0, after],
    zero)``, as one ``PaddedInt8(q, zero)``: one pass over memory for three. The moves
    that other nodes still read stay. In place; returns how many."""
    from onnx import helper

    edit = GraphEdit.of(model.graph)
    graph, index = edit.graph, edit.index

    for pad in graph.node:
        if pad.op_type != "Pad" or len(pad.input) != 3 or not pad.input[2]:
            continue
        mode = next((a.s for a in pad.attribute if a.name == "mode"), b"constant")
        pads = index.ints(pad.input[1])
        squeeze = index.producers.get(pad.input[0])
        if mode != b"constant" or pads is None or len(pads) != 4 or pads[0] or pads[2]:
            continue
        if min(pads) < 0 or squeeze is None or squeeze.op_type != "Squeeze":
            continue
        if len(squeeze.input) != 2 or index.ints(squeeze.input[1]) != [0]:
            continue
        quantized = _moved_to_int8(index, squeeze.input[0])
        if quantized is None:
            continue
        cast = index.producers[squeeze.input[0]]
        flip = index.producers[cast.input[0]]
        edit.replaced[edit.at(pad)] = [
            helper.make_node(
                "PaddedInt8",
                [quantized, pad.input[2]],
                list(pad.output),
                name=pad.name,
                domain=DOMAIN,
                before=pads[1],
                after=pads[3],
                repeats=1,
                tail=0,
            )
        ]
        for node, output in ((squeeze, pad.input[0]), (cast, squeeze.input[0])):
            readers = index.consumers.get(output, [])
            if output in index.outputs or any(
                edit.at(n) not in edit.removed | set(edit.replaced) for n in readers
            ):
                break
            edit.removed.add(edit.at(node))
        else:
            readers = index.consumers.get(cast.input[0], [])
            if cast.input[0] not in index.outputs and all(
                edit.at(n) in edit.removed for n in readers
            ):
                edit.removed.add(edit.at(flip))
    _apply(model, edit)
    return len(edit.replaced)


def rewrite_repeats(model: Any) -> int:
    """Each ``PaddedInt8`` read only by a ``Concat`` (along its last axis) of that input
    repeated and a constant of zeros, engine/int8.py's columns of a stride-1 convolution,
    writes those columns itself (attributes repeats and tail). In place; returns how
    many."""
    from onnx import helper

    edit = GraphEdit.of(model.graph)
    graph, index = edit.graph, edit.index
    for node in graph.node:
        if node.op_type != "PaddedInt8" or node.domain != DOMAIN:
            continue
        padded = node.output[0]
        concat = index.only(padded, "Concat")
        if concat is None:
            continue
        axis = next((a.i for a in concat.attribute if a.name == "axis"), None)
        *rows, tail = concat.input
        zeros = index.value(tail)
        if axis not in (1, -1) or not rows or any(name != padded for name in rows):
            continue
        if zeros is None or zeros.ndim != 2 or zeros.dtype != np.int8 or zeros.any():
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get("repeats", 1) != 1 or attrs.get("tail", 0) != 0:
            continue  # its columns written already
        attrs.update(repeats=len(rows), tail=int(zeros.shape[1]))
        edit.replaced[edit.at(concat)] = [
            helper.make_node(
                "PaddedInt8",
                list(node.input),
                list(concat.output),
                name=concat.name,
                domain=DOMAIN,
                **attrs,
            )
        ]
        edit.removed.add(edit.at(node))
    _apply(model, edit)
    return len(edit.replaced)


@functools.cache
def products_exact() -> bool:
    """Whether onnxruntime's ``MatMulIntegerToFloat`` gives the exact integer sums of
    uint8 × int8 here, as :func:`rewrite_time_major` needs. On x86 without VNNI its
    kernels pair products in 16 bits (``pmaddubsw``), which saturate for large values;
    VNNI, AMX and ARM's dot products do not."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (64, 256), dtype=np.uint8)
    a[:8] = 255  # every pair of products at its largest: 2 · 255 · 128
    b = rng.integers(-128, 128, (256, 16), dtype=np.int8)
    b[:, :4] = -128
    initializers = [
        numpy_helper.from_array(b, "b"),
        numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one"),
        numpy_helper.from_array(np.array(0, dtype=np.uint8), "a_zero"),
        numpy_helper.from_array(np.array(0, dtype=np.int8), "b_zero"),
    ]
    node = helper.make_node(
        "MatMulIntegerToFloat",
        ["a", "b", "one", "one", "a_zero", "b_zero"],
        ["y"],
        domain=_MS_DOMAIN,
    )
    graph = helper.make_graph(
        [node],
        "products",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [None, 256])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid(_MS_DOMAIN, 1)]
    )
    try:
        got = _session(model, None, threads=1).run(None, {"a": a})[0]
    except Exception as err:
        _LOGGER.debug("uint8 x int8 products not checked: %s", err)
        return False
    return bool(np.array_equal(got, (a.astype(np.int64) @ b.astype(np.int64)).astype(np.float32)))


def _moved_to_int8(index: GraphIndex, name: str) -> str | None:
    """The uint8 tensor q if ``name`` is engine/int8.py's ``Cast(BitwiseXor(q, 0x80),
    int8)``, else None."""
    from onnx import TensorProto

    cast = index.producers.get(name)
    if cast is None or cast.op_type != "Cast":
        return None
    if next((a.i for a in cast.attribute if a.name == "to"), None) != TensorProto.INT8:
        return None
    flip = index.producers.get(cast.input[0])
    if flip is None or flip.op_type != "BitwiseXor":
        return None
    return next((q for q, k in (flip.input, flip.input[::-1]) if index.ints(k) == [0x80]), None)


def _columns_source(index: GraphIndex, columns: str) -> tuple[Any, list[Any], dict[str, int]]:
    """Where an int8 product's columns come from: (the ``PaddedInt8`` that writes them,
    read through engine/int8.py's two ``Reshape`` nodes where it tiles them, with its
    attributes), or (the ``Squeeze`` of an input moved to int8, for a convolution of one
    tap without padding; its ``Cast`` among the nodes); each read by the next alone.
    Returns (source, the nodes between, attributes); (None, [], {}) otherwise."""
    from onnx import helper

    between: list[Any] = []
    source = index.producers.get(columns)
    while source is not None and source.op_type == "Reshape" and len(between) < 2:
        between.append(source)
        source = index.producers.get(source.input[0])
    if source is None:
        return None, [], {}
    if source.op_type == "PaddedInt8" and source.domain == DOMAIN:
        attrs = {a.name: int(helper.get_attribute_value(a)) for a in source.attribute}
    elif source.op_type == "Squeeze" and not between and index.ints(source.input[1]) == [0]:
        cast = index.producers.get(source.input[0])
        if _moved_to_int8(index, source.input[0]) is None or cast is None:
            return None, [], {}
        between.append(source)
        source, attrs = cast, {}
    else:
        return None, [], {}
    made = [source, *reversed(between)]
    if any(
        index.only(a.output[0], b.op_type) is None for a, b in zip(made, made[1:], strict=False)
    ):
        return None, [], {}
    return source, between, attrs


def rewrite_time_major(model: Any) -> int:
    """Each stride-1 int8 convolution left as ``PaddedInt8`` (its columns, see
    :func:`rewrite_repeats`; for one tap without padding, its input moved to int8) →
    ``MatMulIntegerToFloat(weights, columns)`` → ``ConvEpilogue[Add]`` turned around:
    ``TimeColumns`` (the uint8 input padded and laid out one row per output step) →
    ``MatMulIntegerToFloat(columns, weights)`` with the weights constant int8 (moved by
    128 once, here, with their zero point) → ``TransposedEpilogue[Add]``, which writes
    the output channels by time again. The sums are the same integers, so the same
    floats, where onnxruntime's uint8 × int8 products are exact
    (:func:`products_exact`). onnxruntime packs constant weights once and its kernels
    keep their blocks of the columns in cache; the other way round the columns (up to 11
    copies of the input) are packed again at every product. In place; returns how many."""
    from onnx import helper, numpy_helper

    edit = GraphEdit.of(model.graph)
    graph, index = edit.graph, edit.index
    added: list[Any] = []
    zeros: set[str] = set()
    for node in graph.node:
        if node.op_type != "MatMulIntegerToFloat" or len(node.input) != 6:
            continue
        weights_name, columns, a_scale, b_scale, w_zero_name, zero8 = node.input
        weights, w_zero = index.value(weights_name), index.value(w_zero_name)
        scales = [index.value(a_scale), index.value(b_scale)]
        epilogue = index.only(node.output[0], "ConvEpilogue", "ConvEpilogueAdd")
        zero = _moved_to_int8(index, zero8)
        if weights is None or weights.dtype != np.uint8 or weights.ndim != 2:
            continue
        if w_zero is None or w_zero.dtype != np.uint8 or w_zero.size != 1:
            continue
        if any(v is None or v.size != 1 or float(v.reshape(-1)[0]) != 1.0 for v in scales):
            continue
        if zero is None or epilogue is None or epilogue.domain != DOMAIN:
            continue
        source, between, attrs = _columns_source(index, columns)
        last = between[0] if between else source  # what the product reads
        if source is None or index.only(last.output[0], node.op_type) is None:
            continue
        if source.op_type == "PaddedInt8":
            if source.input[1] != zero8:
                continue
            quantized = source.input[0]
        else:  # the Cast of BitwiseXor(q, 0x80): q, and the BitwiseXor goes too if only it
            quantized = _moved_to_int8(index, source.output[0])
            flip = index.producers[source.input[0]]
            if index.only(flip.output[0], "Cast") is not None:
                between.append(flip)
        drop = next((a.i for a in epilogue.attribute if a.name == "drop"), 0)
        taps, tail = attrs.get("repeats", 1), attrs.get("tail", 0)
        if quantized is None or tail % taps or drop != tail or weights.shape[1] % taps:
            continue
        dilation = tail // taps if taps > 1 else 1
        outputs, width = weights.shape
        channels = width // taps
        # Columns row by row hold tap after tap, each all channels: the weights' rows
        # (inputs · taps, channel by channel) in that order, moved to int8.
        turned = weights.reshape(outputs, channels, taps).transpose(2, 1, 0).reshape(width, outputs)
        base = node.name or node.output[0]
        matrix = numpy_helper.from_array(
            np.ascontiguousarray(turned ^ np.uint8(0x80)).view(np.int8), f"{base}/by_time/weights"
        )
        w_zero8 = numpy_helper.from_array(
            (w_zero.reshape(()) ^ np.uint8(0x80)).astype(np.uint8).view(np.int8),
            f"{base}/by_time/w_zero",
        )
        added += [matrix, w_zero8]
        rows, product = f"{base}/by_time/columns", f"{base}/by_time/product"
        edit.replaced[edit.at(source)] = [
            helper.make_node(
                "TimeColumns",
                [quantized, zero],
                [rows],
                name=rows,
                domain=DOMAIN,
                before=attrs.get("before", 0),
                after=attrs.get("after", 0),
                taps=taps,
                dilation=dilation,
            )
        ]
        op = "TransposedEpilogue" + ("Add" if epilogue.op_type == "ConvEpilogueAdd" else "")
        edit.replaced[edit.at(epilogue)] = [
            helper.make_node(
                "MatMulIntegerToFloat",
                [rows, matrix.name, a_scale, b_scale, zero, w_zero8.name],
                [product],
                name=product,
                domain=_MS_DOMAIN,
            ),
            helper.make_node(
                op,
                [product, *epilogue.input[1:]],
                list(epilogue.output),
                name=epilogue.name,
                domain=DOMAIN,
                drop=0,
            ),
        ]
        edit.removed.update(edit.at(n) for n in (node, *between))
        zeros.add(zero8)
    if not edit.replaced:
        return 0
    for zero8 in zeros:  # the zero points' move to int8, where nothing reads it any more
        gone = edit.removed | set(edit.replaced)
        readers = [n for n in index.consumers.get(zero8, []) if edit.at(n) not in gone]
        if readers or zero8 in index.outputs:
            continue
        cast = index.producers[zero8]
        edit.removed.add(edit.at(cast))
        flip = index.producers[cast.input[0]]
        if index.only(flip.output[0], "Cast") is not None:
            edit.removed.add(edit.at(flip))
    _apply(model, edit)
    graph.initializer.extend(added)
    used = {name for node in graph.node for name in node.input}
    kept = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return len(edit.replaced) // 2


def rewrite_stft(model: Any) -> int:
    """Each one-sided ``STFT`` with a constant window whose length is not a power of two
    (onnxruntime's Bluestein path) as ``BluesteinSTFT``. In place; returns how many."""
    from onnx import helper

    edit = GraphEdit.of(model.graph)
    graph, index = edit.graph, edit.index
    for i, node in enumerate(graph.node):
        if node.op_type != "STFT" or node.domain not in ("", "ai.onnx") or len(node.input) < 3:
            continue
        onesided = next((a.i for a in node.attribute if a.name == "onesided"), 1)
        window = index.value(node.input[2]) if node.input[2] else None
        step = index.value(node.input[1])
        if onesided != 1 or window is None or window.ndim != 1 or window.dtype != np.float32:
            continue
        if step is None or step.dtype != np.int64:
            continue  # the kernel reads an int64 step
        size = int(window.shape[0])
        if size < 3 or size & (size - 1) == 0 or size > MAX_STFT_WINDOW:
            continue
        if len(node.input) > 3 and node.input[3]:
            length = index.value(node.input[3])
            if length is None or int(length.reshape(-1)[0]) != size:
                continue
        edit.replaced[i] = [
            helper.make_node(
                "BluesteinSTFT",
                list(node.input[:3]),
                list(node.output),
                name=node.name,
                domain=DOMAIN,
                onesided=1,
            )
        ]
    _apply(model, edit)
    return len(edit.replaced)


def rewrite_carried(model: Any) -> None:
    """The rewrites made on the vocoder's frame-rate half and its generator after
    engine/carry.py's (which finds the normalizations as the export spells them):
    :func:`rewrite_centring`, :func:`rewrite_conv_epilogues`, :func:`rewrite_padding`,
    :func:`rewrite_repeats`, :func:`rewrite_time_major`, :func:`rewrite_stft`. In place."""
    rewrite_centring(model)
    rewrite_conv_epilogues(model)
    rewrite_padding(model)
    rewrite_repeats(model)
    if products_exact():
        rewrite_time_major(model)
    rewrite_stft(model)


if __name__ == "__main__":
    main()
