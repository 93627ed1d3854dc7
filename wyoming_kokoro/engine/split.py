"""Kokoro in three sessions: the text side, the vocoder's frame-rate half, the generator.

The model's vocoder costs about 95 % of a run and its cost grows with the audio's length;
the text side before it costs the rest. With the graph cut between the two, a segment's
text side runs once on the whole segment (so durations and intonation are those of the
whole sentence), and the vocoder can render the segment's opening first and the rest
after it: the first audio of a request arrives after the vocoder has made only its head.

The vocoder is cut once more (engine/carry.py): its frame-rate blocks (~2 % of its work)
run on the whole segment at once, and the generator renders the parts, each taking the
normalization statistics and the source's phase that the parts before it measured. Made
in one part, the three sessions produce exactly the audio of the whole model (same
nodes, same order). In parts it is not exact (a part cannot know the frames after it),
but close; the parts overlap (``LEFT_CONTEXT`` and ``RIGHT_CONTEXT`` frames, dropped
afterwards, so neither part's edge effects are heard) and are cross-faded at a word
boundary.

Needs the ``onnx`` package to cut the graph (once; the sessions are kept optimized in
the cache folder). Without it, or with an export whose graph has other names, the whole
model is used as before.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import native, plan
from .carry import GENERATOR_INPUTS, CarrySites, carry_state, split_generator
from .exact import rewrite_epilogues, rewrite_squares
from .int8 import rewrite_convolutions
from .plan import (
    CROSSFADE,
    LEFT_CONTEXT,
    RIGHT_CONTEXT,
    SAMPLES_PER_FRAME,
    bound_parts,
    plan_parts,
)
from .providers import CPU
from .session import SessionConfig, cache_key, ort, session_options, writable_folder

_LOGGER = logging.getLogger(__name__)

SPLIT_VERSION = "split-9"
FILES = ("front", "mid", "generator")  # the cached sessions, in the order they run

# Where the graph of kokoro-v1.0 (the kokoro-onnx exports) is cut: the aligned text
# features, the predicted pitch and energy; and the per-token durations.
DECODER_INPUTS = (
    "/encoder/MatMul_1_output_0",
    "/encoder/Reshape_output_0",
    "/encoder/Reshape_1_output_0",
)
DURATIONS = "/encoder/Gather_output_0"


# engine/native.py's library, or a call that returns it (None: not available here).
Library = Path | Callable[[], Path | None] | None


class SplitUnavailable(RuntimeError):
    """The graph cannot be cut here (no ``onnx`` package, or other tensor names)."""


@dataclass
class Version:
    """One build of the three sessions' models, serialized."""

    name: str
    front: bytes
    mid: bytes
    generator: bytes
    library: Path | None = None  # engine/native.py's, which its sessions need

    @property
    def models(self) -> tuple[bytes, bytes, bytes]:
        return (self.front, self.mid, self.generator)


class SplitSession:
    """The model as three onnxruntime sessions; ``run`` is the whole model's ``run``."""

    def __init__(
        self,
        front: Any,
        mid: Any,
        generator: Any,
        startup_s: float = 0.0,
        from_cache: bool = False,
        version: str = "",
    ) -> None:
        self.front = front
        self.mid = mid
        self.generator = generator
        self.version = version  # which of build_versions' versions ("" when read cached)
        self.startup_s = startup_s
        self.from_cache = from_cache
        self._front_outputs = [o.name for o in front.get_outputs()]
        self._mid_inputs = [i.name for i in mid.get_inputs()]
        self._style = next(n for n in self._mid_inputs if n not in self._front_outputs)
        self._generator_outputs = [o.name for o in generator.get_outputs()]
        self.sites = CarrySites.of(
            [i.name for i in generator.get_inputs()], self._generator_outputs
        )
        self._lock = threading.Lock()
        self._per_frame: float | None = None  # measured vocoder seconds per frame

    # The parts of InferenceSession that the rest of the engine uses.
    def get_inputs(self) -> Any:
        return self.front.get_inputs()

    def get_outputs(self) -> Any:
        return self.generator.get_outputs()[:1]

    def get_providers(self) -> list[str]:
        return list(self.generator.get_providers())

    def _front(
        self, feeds: dict[str, np.ndarray], run_options: Any = None
    ) -> dict[str, np.ndarray]:
        outputs = self.front.run(self._front_outputs, feeds, run_options)
        return dict(zip(self._front_outputs, outputs, strict=True))

    def _mid(self, front: dict[str, np.ndarray], style: np.ndarray, run_options: Any = None) -> Mid:
        """The frame-rate half on the whole segment: the generator's inputs."""
        feeds = {name: style if name == self._style else front[name] for name in self._mid_inputs}
        values = list(self.mid.run(list(GENERATOR_INPUTS), feeds, run_options))
        frames = max(1, int(front[DECODER_INPUTS[0]].shape[-1]))
        return Mid(values, values[0].shape[-1] // frames)

    def _generate(
        self,
        mid: Mid,
        style: np.ndarray,
        start: int,
        end: int,
        state: Carried | None = None,
        run_options: Any = None,
    ) -> tuple[np.ndarray, Carried]:
        """Frames ``start:end`` of the segment, after the parts that ``state`` carries
        (None: the first part); the audio and the state after it."""
        feeds: dict[str, np.ndarray] = {self._style: style}
        for name, value in zip(GENERATOR_INPUTS, mid.values, strict=True):
            feeds[name] = value[..., start * mid.steps : end * mid.steps]
        own = end - start
        if state is None:
            feeds.update(self.sites.priors(None, own, 0))
        else:
            phase_step = mid.steps * (start - state.start)  # the pitch curve's steps
            feeds.update(self.sites.priors(state.values, own, state.frames, phase_step))
        started = time.perf_counter()
        outputs = self.generator.run(self._generator_outputs, feeds, run_options)
        self._measured(own, time.perf_counter() - started)
        values = dict(zip(self._generator_outputs, outputs, strict=True))
        audio = np.asarray(outputs[0], dtype=np.float32).reshape(-1)
        seen = own if state is None else state.frames + own
        return audio, Carried(values, start, seen)

    def _measured(self, frames: int, seconds: float) -> None:
        if frames < 20:
            return
        per_frame = seconds / frames
        with self._lock:
            old = self._per_frame
            self._per_frame = per_frame if old is None else 0.7 * old + 0.3 * per_frame

    @property
    def seconds_per_frame(self) -> float | None:
        return self._per_frame

    def run(
        self, output_names: Any, feeds: dict[str, np.ndarray], run_options: Any = None
    ) -> list[np.ndarray]:
        front = self._front(feeds, run_options)
        style = feeds[self._style]
        frames = int(front[DECODER_INPUTS[0]].shape[-1])
        mid = self._mid(front, style, run_options)
        return [self._generate(mid, style, 0, frames, None, run_options)[0]]

    def run_parts(
        self,
        feeds: dict[str, np.ndarray],
        word_ends: list[int],
        on_part: Callable[[np.ndarray], None],
        heard_until: Callable[[], float | None] = lambda: None,
        run_options: Any = None,
        max_part_s: float | None = None,
        between: Callable[[float], None] | None = None,
    ) -> np.ndarray:
        """The whole audio, handing each part but the last to ``on_part`` once it is made.

        Parts are made when the audio before (``heard_until()``: when it has played out,
        None for nothing) would run out before the whole was made (see
        engine/plan.py's :func:`plan_parts`), no part is longer than ``MAX_PART`` frames,
        nor than ``max_part_s`` of vocoding when that is given (:func:`bound_parts`).
        ``between(seconds)`` is called between two parts with the next one's expected
        time (the scheduler may run other work then). The returned audio starts with
        exactly the samples handed out, in order; made in one part, it is the whole
        model's audio.
        """
        front = self._front(feeds, run_options)
        style = feeds[self._style]
        frames = int(front[DECODER_INPUTS[0]].shape[-1])
        until = heard_until()
        mid = self._mid(front, style, run_options)
        if DURATIONS not in front or self._per_frame is None:
            return self._generate(mid, style, 0, frames, None, run_options)[0]
        durations = np.asarray(front[DURATIONS]).reshape(-1)
        # The leading pad's silence is made too, although it is trimmed on the way out:
        # the generator normalizes over the frames it gets, and the first part's are the
        # closest there are to the whole segment's.
        available = None if until is None else until - time.monotonic()
        cuts = plan_parts(durations, word_ends, self._per_frame, available)
        most = plan.MAX_PART
        if max_part_s is not None:
            most = min(most, max(plan.MIN_FIRST, int(max_part_s / self._per_frame)))
        cuts = bound_parts(cuts, durations, word_ends, most)
        if not cuts:
            return self._generate(mid, style, 0, frames, None, run_options)[0]
        _LOGGER.debug(
            "Vocoding %d frames in %d parts, cut at %s (audio before plays for %s)",
            frames,
            len(cuts) + 1,
            cuts,
            "-" if available is None else f"{available:.2f} s",
        )
        fade = np.linspace(0.0, 1.0, CROSSFADE, dtype=np.float32)
        half = CROSSFADE // 2
        pieces: list[np.ndarray] = []
        previous: np.ndarray | None = None
        state: Carried | None = None
        previous_start = begin = 0
        for end in [*cuts, frames]:
            last = end == frames
            start = begin if previous is None else begin - LEFT_CONTEXT
            audio, state = self._generate(
                mid, style, start, frames if last else min(frames, end + RIGHT_CONTEXT),
                state, run_options if last else None,
            )  # fmt: skip
            stop = len(audio) if last else (end - start) * SAMPLES_PER_FRAME - half
            if previous is None:
                piece = audio[:stop]
            else:
                mine = (begin - start) * SAMPLES_PER_FRAME - half
                theirs = (begin - previous_start) * SAMPLES_PER_FRAME - half
                joined = previous[theirs : theirs + CROSSFADE] * (1 - fade) + (
                    audio[mine : mine + CROSSFADE] * fade
                )
                piece = np.concatenate((joined, audio[mine + CROSSFADE : stop]))
            pieces.append(piece)
            if not last:
                on_part(piece)
            previous, previous_start, begin = audio, start, end
            if not last and between is not None:
                after = next((c for c in cuts if c > end), frames)
                between(self._per_frame * (after - end + LEFT_CONTEXT + RIGHT_CONTEXT))
        return np.concatenate(pieces)


@dataclass
class Mid:
    """The frame-rate half's outputs for a whole segment, ``steps`` per frame."""

    values: list[np.ndarray]
    steps: int


@dataclass
class Carried:
    """What a part hands the next (engine/carry.py): the generator's carried outputs, the
    frame the part started at, and how many frames the statistics cover so far."""

    values: dict[str, np.ndarray]
    start: int
    frames: int


def _cut_graph(model_path: Path, library: Library = None) -> list[Version]:
    """The model cut in three (text side, frame-rate half, generator with its state
    carried), in the versions :func:`build_versions` makes."""
    return build_versions(*cut_model(model_path), library=library)


def cut_model(model_path: Path) -> tuple[Any, Any]:
    """The model's text side and vocoder, as two ONNX models."""
    try:
        import onnx
        from onnx.utils import Extractor
    except ImportError as err:
        raise SplitUnavailable("the onnx package is not installed") from err
    model = onnx.load(str(model_path))
    names = {o for node in model.graph.node for o in node.output}
    missing = [n for n in (*DECODER_INPUTS, DURATIONS, *GENERATOR_INPUTS) if n not in names]
    if missing:
        raise SplitUnavailable(f"this export has no tensor {missing[0]}")
    inputs = [i.name for i in model.graph.input]
    style = next((n for n in inputs if "style" in n.lower()), None)
    if style is None:
        raise SplitUnavailable("no style input")
    extractor = Extractor(model)
    outputs = [o.name for o in model.graph.output]
    decoder = extractor.extract_model([*DECODER_INPUTS, style], outputs)
    front = extractor.extract_model(inputs, [*DECODER_INPUTS, DURATIONS])
    known = {i.name for i in decoder.graph.initializer} | {i.name for i in decoder.graph.input}
    made = {o for node in decoder.graph.node for o in node.output}
    if any(i and i not in known and i not in made for n in decoder.graph.node for i in n.input):
        raise SplitUnavailable("the vocoder needs more than the cut tensors")
    return front, decoder


def build_versions(front: Any, decoder: Any, library: Library = None) -> list[Version]:
    """The versions worth timing, fastest expected first and as exported last: with
    ``library`` (engine/native.py's, or a call that waits for it: it may be compiling
    while the versions are made), the next version with its elementwise chains on the
    library's kernels (Snake, AdaIN, the convolutions' epilogues, int8 padding, STFT);
    rewritten with the convolutions on the integer kernels (engine/int8.py, when
    the model has dynamically quantized ones) and the exact rewrites of engine/exact.py
    (their epilogues in the product's kernel, squares as products); and as exported. All
    make the same audio, bit for bit. Each is cut between the vocoder's halves and its
    generator carries its state (engine/carry.py)."""
    import onnx

    try:
        versions = [make_version("as exported", front, decoder)]
    except ValueError as err:
        raise SplitUnavailable(str(err)) from err
    try:
        fast_front, fast_decoder = onnx.ModelProto(), onnx.ModelProto()
        fast_front.CopyFrom(front)
        fast_decoder.CopyFrom(decoder)
        kernels = rewrite_convolutions(fast_decoder)
        if kernels:
            rewrite_convolutions(fast_front)
        exact = 0
        for model in (fast_front, fast_decoder):
            exact += rewrite_epilogues(model) + rewrite_squares(model)
        if kernels or exact:
            name = "int8 kernels" if kernels else "exact rewrites"
            versions.insert(0, make_version(name, fast_front, fast_decoder))
    except Exception as err:  # never worse than as exported
        _LOGGER.warning("Could not rewrite the model: %s", err)
        return versions
    if library is not None and not (isinstance(library, _Building) and library.failed()):
        try:
            native_decoder = onnx.ModelProto()
            native_decoder.CopyFrom(fast_decoder)
            if native.rewrite_snakes(native_decoder):
                made = make_version(
                    f"{versions[0].name} + native kernels",
                    fast_front,
                    native_decoder,
                    finish=native.rewrite_carried,
                )
                path = library() if callable(library) else library
                if path is not None:  # else the build failed meanwhile (logged)
                    versions.insert(0, replace(made, library=path))
        except Exception as err:
            _LOGGER.warning("Could not put the vocoder on the native kernels: %s", err)
    return versions


def make_version(
    name: str,
    front: Any,
    decoder: Any,
    carry: bool = True,
    finish: Callable[[Any], object] | None = None,
) -> Version:
    """A version of the three models from the text side and the vocoder (ONNX models);
    ``carry``: the generator carries its state from part to part (engine/carry.py);
    ``finish`` rewrites the frame-rate half and the generator after that, in place.
    Raises ValueError for a vocoder that cannot be cut so, or has nothing to carry."""
    mid, generator = split_generator(decoder)
    if carry and not carry_state(generator).norms:
        raise ValueError("the generator has no normalization to carry")
    if finish is not None:
        finish(mid)
        finish(generator)
    return Version(
        name, front.SerializeToString(), mid.SerializeToString(), generator.SerializeToString()
    )


def load_parts(version: Version, options: Any = None) -> SplitSession:
    """Plain CPU sessions on a version's models (tests and benchmarks)."""
    if version.library is not None:
        options = native.register(options or ort.SessionOptions(), version.library)
    front, mid, generator = (
        ort.InferenceSession(model, options, providers=[CPU.ort_name]) for model in version.models
    )
    return SplitSession(front, mid, generator, version=version.name)


def open_split(model_path: Path, config: SessionConfig, model_digest: str = "") -> SplitSession:
    """The model on CPU as three sessions, from the optimized cache when it has them.

    Built afresh, the model comes in the versions of :func:`build_versions` (as exported;
    its convolutions on the fast integer kernels of engine/int8.py; with that, its Snakes
    on engine/native.py's kernel where it builds here): their vocoders are timed once on
    this machine and the fastest is kept (and cached). All make the same audio."""
    started = time.perf_counter()
    paths: list[Path] | None = None
    library = _native_library(config, build=False)  # the one a cached version may need
    if config.optimized_model_cache and config.cache_dir is not None and model_digest:
        key = f"{cache_key(model_digest, CPU, config)}-{SPLIT_VERSION}"
        folder = config.cache_dir / "optimized"
        paths = [folder / f"{key}-{name}.onnx" for name in FILES]
        if all(p.is_file() for p in paths) and config.graph_opt_level != "disabled":
            try:
                plain = session_options(replace(config, native_library=library), "disabled")
                front, mid, generator = (
                    ort.InferenceSession(str(p), plain, providers=[CPU.ort_name]) for p in paths
                )
                cached = SplitSession(
                    front, mid, generator, time.perf_counter() - started, from_cache=True
                )
                if not cached.sites.norms:  # not a generator this version writes
                    raise ValueError("its vocoder does not carry state from part to part")
                return cached
            except Exception as err:
                _LOGGER.warning("Ignoring the cached split model: %s", err)
                for stale in paths:
                    stale.unlink(missing_ok=True)
        if writable_folder(folder):
            _remove_other_versions(folder)
        else:
            paths = None  # built here, not kept
    if config.graph_opt_level == "disabled":
        paths = None  # nothing optimized to keep
    if library is None and config.native_kernels:
        # Compiled and checked (seconds, another process) while the versions are made.
        versions = _cut_graph(model_path, _Building(config))
    else:
        versions = _cut_graph(model_path, library)
    built: list[tuple[SplitSession, list[Path]]] = []
    written: list[Path] = []  # each version's optimized models, until the chosen is renamed
    try:
        opened: dict[bytes, tuple[Any, Path | None]] = {}  # versions may share a model
        for index, version in enumerate(versions):
            made: list[Any] = []
            files: list[Path] = []
            try:
                for name, model in zip(FILES, version.models, strict=True):
                    if model not in opened:
                        temp = None
                        if paths is not None:
                            temp = paths[FILES.index(name)].with_suffix(f".{index}.tmp")
                            written.append(temp)
                        needs = replace(config, native_library=version.library)
                        opened[model] = (_session(model, needs, temp), temp)
                    session, file = opened[model]
                    made.append(session)
                    if file is not None:
                        files.append(file)
            except Exception as err:
                if index == len(versions) - 1 and not built:
                    raise
                _LOGGER.warning("The model %s does not load here (%s)", version.name, err)
                continue
            front, mid, generator = made
            built.append((SplitSession(front, mid, generator, version=version.name), files))
        chosen = built[-1]
        if len(built) > 1:
            try:
                timings = _time_generators([b[0] for b in built])
                _LOGGER.info(
                    "Vocoder speed here: %s",
                    ", ".join(
                        f"{b[0].version} {t * 1000:.2f} ms/frame"
                        for b, t in zip(built, timings, strict=True)
                    ),
                )
                chosen = built[int(np.argmin(timings))]
                _LOGGER.info("Vocoder kept: %s", chosen[0].version)
            except Exception as err:
                _LOGGER.warning("Keeping the model as exported: %s", err)
        if paths is not None and len(chosen[1]) == len(paths):
            for file, final in zip(chosen[1], paths, strict=True):
                if file.is_file():
                    file.replace(final)
    finally:
        for leftover in written:
            leftover.unlink(missing_ok=True)
    _LOGGER.debug("Split model: %s", chosen[0].version)
    chosen[0].startup_s = time.perf_counter() - started
    return chosen[0]


class _Building:
    """engine/native.py's library compiled and checked on a daemon thread (a server
    stopped meanwhile does not wait for the compiler); calling it waits for the result."""

    def __init__(self, config: SessionConfig) -> None:
        self._result: Path | None = None
        self._thread = threading.Thread(
            target=self._build, args=(config,), name="native-build", daemon=True
        )
        self._thread.start()

    def _build(self, config: SessionConfig) -> None:
        self._result = _native_library(config, build=True)

    def __call__(self) -> Path | None:
        self._thread.join()
        return self._result

    def failed(self) -> bool:
        """Done already, with nothing (no toolchain): no need to make its version."""
        return not self._thread.is_alive() and self._result is None


def _native_library(config: SessionConfig, build: bool) -> Path | None:
    """engine/native.py's library in ``download_dir/native``, compiled there when ``build``
    and missing; None where it is off, cannot be built or is not exact (logged when
    ``build``)."""
    if not config.native_kernels:
        return None
    folder = config.cache_dir / "native" if config.cache_dir is not None else None
    try:
        return native.library(folder, build=build)
    except native.NativeUnavailable as err:
        if build:
            _LOGGER.info("Native kernels off: %s", err)
    except Exception as err:  # never worse than without it
        _LOGGER.warning("Native kernels off: %s", err)
    return None


def _session(data: bytes, config: SessionConfig, save_to: Path | None) -> Any:
    """A CPU session on a serialized model, its optimized graph saved to ``save_to``."""
    options = session_options(config)
    if save_to is not None:
        options.optimized_model_filepath = str(save_to)
    try:
        return ort.InferenceSession(data, options, providers=[CPU.ort_name])
    except Exception:
        if save_to is None:
            raise
        save_to.unlink(missing_ok=True)  # e.g. a read-only folder: open without saving
        return ort.InferenceSession(data, session_options(config), providers=[CPU.ort_name])


PROBE_TOKENS = [(i * 37) % 150 + 16 for i in range(30)]  # made-up text for timing


def probe_feeds(session: SplitSession) -> dict[str, np.ndarray]:
    """Inputs for a made-up 30-token segment (timing and checks)."""
    feeds: dict[str, np.ndarray] = {}
    for item in session.front.get_inputs():
        dtype = {"tensor(int64)": np.int64, "tensor(int32)": np.int32}.get(item.type, np.float32)
        if len(item.shape) == 2 and dtype is not np.float32:
            feeds[item.name] = np.array([[0, *PROBE_TOKENS, 0]], dtype=dtype)
        elif len(item.shape) == 2:
            width = item.shape[1] if isinstance(item.shape[1], int) else 256
            feeds[item.name] = np.random.default_rng(0).normal(0, 0.1, (1, width)).astype(dtype)
        else:
            feeds[item.name] = np.ones(1, dtype=dtype)
    return feeds


def _time_generators(sessions: list[SplitSession]) -> list[float]:
    """Seconds per frame of each version's generator on one made-up segment (after a
    first run). Each must make the last's (as exported) audio to float rounding; one that
    does not is not timed (infinitely slow)."""
    feeds = probe_feeds(sessions[-1])
    style = feeds[sessions[-1]._style]
    made = sessions[-1]._front(feeds)
    mid = sessions[-1]._mid(made, style)
    frames = int(made[DECODER_INPUTS[0]].shape[-1])
    reference = sessions[-1]._generate(mid, style, 0, frames)[0]
    usable = [True] * len(sessions)
    for index, session in enumerate(sessions[:-1]):
        try:
            output = session._generate(mid, style, 0, frames)[0]
        except Exception as err:
            _LOGGER.warning("Vocoder %s does not run here: not used (%s)", session.version, err)
            usable[index] = False
            continue
        if len(output) != len(reference) or float(np.max(np.abs(output - reference))) > 1e-4:
            _LOGGER.warning("Vocoder %s makes other audio: not used", session.version)
            usable[index] = False
    best = [math.inf] * len(sessions)
    for _ in range(2):
        for index, session in enumerate(sessions):
            if not usable[index]:
                continue
            began = time.perf_counter()
            session._generate(mid, style, 0, frames)
            best[index] = min(best[index], (time.perf_counter() - began) / frames)
    return best


def mel_db(audio: np.ndarray, bands: int = 40) -> np.ndarray:
    """Log energies in mel bands, 10-ms hops (what a listener's ear resolves, roughly)."""
    size, hop = 1024, 240
    if len(audio) < size:
        audio = np.pad(audio, (0, size - len(audio)))
    frames = np.lib.stride_tricks.sliding_window_view(audio, size)[::hop] * np.hanning(size)
    power = np.abs(np.fft.rfft(frames)) ** 2
    mel = 2595 * np.log10(1 + np.fft.rfftfreq(size, 1 / 24000) / 700)
    edges = np.linspace(mel[1], mel[-1], bands + 1)
    energy = [
        power[:, (mel >= lo) & (mel < hi)].sum(1) for lo, hi in zip(edges, edges[1:], strict=False)
    ]
    return 10 * np.log10(np.stack(energy, 1) + 1e-8)


def mel_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference in dB over the frames where ``a`` has speech."""
    x, y = mel_db(a), mel_db(b)
    speech = x.max(1) > x.max() - 50
    return float(np.abs(x - y)[speech].mean())


def _remove_other_versions(folder: Path) -> None:
    """Split models of other versions of this code (and half-written ones) are never read."""
    if not folder.is_dir():
        return
    for path in folder.glob("*-split-*"):
        if f"-{SPLIT_VERSION}-" not in path.name or path.suffix == ".tmp":
            path.unlink(missing_ok=True)
