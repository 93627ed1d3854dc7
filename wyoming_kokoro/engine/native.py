"""The vocoder's Snake activations on a kernel of our own, exact to the bit.

The generator applies Snake ~48 times (``x + sin(αx)²/α``, five operators: five passes
over the activations, and onnxruntime runs the ``Sin`` on one thread), 42 of them right
after an AdaIN whose last three operators (``Div``, ``Mul``, ``Add``) are three passes
more. ``kernels/snake.cpp`` holds two onnxruntime custom operators, ``Snake`` and
``AdaINSnake`` (the same with the AdaIN's tail), each one pass on every thread of
onnxruntime's own pool, with the same arithmetic: each product, quotient and sum one IEEE
operation in the export's order, and the sine computed by Eigen's packet sine, which is
what onnxruntime's ``Sin`` kernel runs. So the audio does not change by a bit (on the
int8 vocoder, where one ulp anywhere moves the audio ~0.8 dB, only an exact rewrite
keeps it).

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

from .graph import GraphIndex, rebuild
from .session import ort
from .snake import find_snakes

_LOGGER = logging.getLogger(__name__)

DOMAIN = "wyoming_kokoro"
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
        description="The vocoder's native Snake kernel: fetch its headers, build it.",
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
    for adain in (False, True):
        for divide in (False, True):
            for shape in CHECK_SHAPES:
                channels = shape[1]
                alpha = rng.uniform(0.05, 3.0, (1, channels, 1)).astype(np.float32)
                weight = alpha if divide else (1 / (alpha + 1e-9)).astype(np.float32)
                plain = snake_model(alpha, weight, divide, adain)
                fused = snake_model(alpha, weight, divide, adain)
                rewrite_snakes(fused)
                feeds = {"x": (rng.standard_normal(shape) * 4).astype(np.float32)}
                if adain:
                    column = (1, channels, 1)
                    feeds["s"] = rng.uniform(0.1, 3.0, column).astype(np.float32)
                    feeds["g"] = rng.uniform(0.5, 2.0, column).astype(np.float32)
                    feeds["b"] = rng.standard_normal(column).astype(np.float32)
                try:
                    got = _session(fused, path).run(None, feeds)[0]
                    want = _session(plain, None).run(None, feeds)[0]
                except Exception as err:
                    raise NativeUnavailable(f"the kernel does not run: {err}") from None
                if got.shape != want.shape or not np.array_equal(
                    got.view(np.uint32), want.view(np.uint32)
                ):
                    differ = int(np.count_nonzero(got != want)) if got.shape == want.shape else -1
                    raise NativeUnavailable(
                        f"the kernel's Snake is not onnxruntime's to the bit here ({differ} "
                        f"of {got.size} values differ)"
                    )


def _session(model: Any, path: Path | None) -> Any:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    options.log_severity_level = 3
    if path is not None:
        register(options, path)
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def snake_model(alpha: np.ndarray, weight: np.ndarray, divide: bool, adain: bool) -> Any:
    """A Snake as the export spells it, ``Mul(α, x) → Sin → Mul(s, s) → Mul(r, ·)`` (or
    ``Div(·, d)``) ``→ Add(x, ·)``, on x, or with ``adain`` on ``g·(x / s) + b`` (inputs
    s, g, b: one value per channel)."""
    from onnx import TensorProto, helper, numpy_helper

    nodes = []
    x = "x"
    shape = [None, alpha.shape[1], None]
    column = [1, alpha.shape[1], 1]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)]
    if adain:
        nodes += [
            helper.make_node("Div", ["x", "s"], ["normal"]),
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
    graph = helper.make_graph(
        nodes,
        "snake",
        inputs,
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
        [numpy_helper.from_array(alpha, "alpha"), numpy_helper.from_array(weight, "weight")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


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


def rewrite_snakes(model: Any, adain: bool = True) -> int:
    """Each Snake of ``model`` (as engine/snake.py finds them) as the library's one
    operator, reading the export's own α and weighting constants, and with ``adain`` the
    end of the AdaIN before it too where it feeds that Snake alone; in place. Returns how
    many Snakes. The kernel checks at run time that each factor has one value per
    channel."""
    from onnx import helper

    graph = model.graph
    index = GraphIndex.of(graph)
    sites = find_snakes(graph, index)
    if not sites:
        return 0
    position = {id(node): i for i, node in enumerate(graph.node)}
    replaced: dict[int, list[Any]] = {}
    removed: set[int] = set()
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
        replaced[position[id(add)]] = [node]
        removed.update(position[id(n)] for n in (*tail, *site.nodes[:-1]))
    rebuild(graph, replaced, removed)
    if not any(o.domain == DOMAIN for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(DOMAIN, 1))
    return len(sites)


if __name__ == "__main__":
    main()
