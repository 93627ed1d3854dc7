"""Kokoro split in two: the text side (durations, pitch, energy) and the vocoder.

The model's vocoder costs about 95 % of a run and its cost grows with the audio's length;
the text side before it costs the rest. With the graph cut between the two, a segment's
text side runs once on the whole segment (so durations and intonation are those of the
whole sentence), and the vocoder can render the segment's opening first and the rest
after it: the first audio of a request arrives after the vocoder has made only its head.

Cut this way the two sessions produce exactly the audio of the whole model (same nodes,
same order). Rendering in two parts is not exact: each part sees its own frames only.
The parts overlap (``LEFT_CONTEXT`` and ``RIGHT_CONTEXT`` frames, dropped afterwards, so
neither part's edge effects are heard) and are cross-faded at a word boundary.

Needs the ``onnx`` package to cut the graph (once; the two halves are kept optimized in
the cache folder). Without it, or with an export whose graph has other names, the whole
model is used as before.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .fuse import fuse_adain
from .int8 import rewrite_convolutions
from .providers import CPU
from .session import SessionConfig, cache_key, ort, session_options

_LOGGER = logging.getLogger(__name__)

SPLIT_VERSION = "split-3"
SAMPLES_PER_FRAME = 600  # one duration unit of Kokoro at 24 kHz (25 ms)
FRAME_S = SAMPLES_PER_FRAME / 24000

# Where the graph of kokoro-v1.0 (the kokoro-onnx exports) is cut: the aligned text
# features, the predicted pitch and energy; and the per-token durations.
DECODER_INPUTS = (
    "/encoder/MatMul_1_output_0",
    "/encoder/Reshape_output_0",
    "/encoder/Reshape_1_output_0",
)
DURATIONS = "/encoder/Gather_output_0"

# Frames a later part starts early, and a part goes on past its end (not heard). Chosen by
# measured fidelity (benchmarks/fidelity.py --overlap, results.json "vocoder_overlap"): 4,
# 8, 12 and 20 frames give the same log-mel distance to the whole rendering within
# 0.1-0.5 dB (what differs is where the cut falls: each part is normalized over its own
# frames), so the overlap is the smallest with margin, and each cut costs 16 frames.
LEFT_CONTEXT = 8
RIGHT_CONTEXT = 8
CROSSFADE = 240  # samples (10 ms)
SAFETY = 1.4  # the rest must be ready with this margin on the measured vocoder speed
MARGIN_S = 0.1  # and this much earlier than the head runs out
MIN_GAIN = 0.15  # split only when the first part saves at least this share of the frames
MAX_PARTS = 6
# A segment the listener waits for (nothing playing yet): a short opening, a part its
# playing time pays for, and the rest. Each part is normalized over its own frames, so
# every cut costs some fidelity; with two parts a paragraph's opening had to pay for all of
# the rest (165 of 742 frames: first audio 0.69 s), with three it need not (the fidelity
# benchmark's paragraph: first speech 0.47 s against 0.52 s, log-mel 1.85 against 1.69 dB,
# the shorter replies unchanged). Where audio already plays, more parts may bridge it.
OPENING_PARTS = 3
# A segment's first part renders at least this many frames (2 s, its overlap and the
# leading pad included): the vocoder normalizes over the frames it gets, and a short
# first part is heard worse. Measured on the lexicon's 37 one-sentence commands, each a
# one-shot planned whole (`benchmarks/fidelity.py --min-first 64,96 --asr`: speech
# recognition word errors, median first speech of its replies): 64 frames 10.4 %, 0.27 s;
# 80 frames 4.3 %, 0.31 s; 96 frames 3.8 %, 0.36 s; sentence-sized segments in one part
# 3.9 % (a second run: 8.2, 5.7, 5.5 and 3.9 %; a slower machine: 8.3, 6.7 and 5.5 %, one
# inference 6.1 %). 80 is where the errors reach those without parts, within whisper's
# own noise of 1-2 points; below it they rise clearly.
MIN_FIRST = 80
# No later part, and no rest after a cut, is shorter than this (frames, 0.8 s): a part
# that short only rounds a plan, and costs its overlaps (16 frames) for little audio.
MIN_PART = 32


class SplitUnavailable(RuntimeError):
    """The graph cannot be cut here (no ``onnx`` package, or other tensor names)."""


def plan_parts(
    durations: np.ndarray,
    word_ends: list[int],
    seconds_per_frame: float,
    available_s: float | None = None,
) -> list[int]:
    """Where to cut a segment's frames into parts vocoded in turn; [] for one part.

    ``durations`` are the frames of each token (the pads included); ``word_ends`` the
    indices of tokens after which a word ends: every cut falls on such a boundary.
    ``available_s``: how long the audio made before this segment still plays (None:
    nothing is playing, the listener waits for this segment's first part).

    Each part is planned on the measured vocoder speed (times ``SAFETY``) so that it is
    made before the audio before it runs out: the first part as short as lets the parts
    after it keep up (each part's playing time pays for the next part's rendering and its
    overlap), a later one as long as is still in time. No cut at all when the whole is in
    time, when it is too short to gain, or on a machine too slow for parts to keep up.
    """
    total = int(durations.sum())
    lead = int(durations[0]) if len(durations) else 0
    per_frame = SAFETY * seconds_per_frame
    if total <= 0 or per_frame <= 0:
        return []
    overlap = LEFT_CONTEXT + RIGHT_CONTEXT
    rate = FRAME_S / per_frame  # frames played per frame rendered
    if rate <= 1.2:
        return []  # parts could not keep up: their overlaps would cost more than they gain
    if available_s is not None and per_frame * total + MARGIN_S <= available_s:
        return []
    # The smallest part whose playing time pays for a next part larger than itself.
    smallest = math.ceil((overlap + MARGIN_S / per_frame) / (rate - 1)) + 2
    ends = sorted({int(e) for e in np.cumsum(durations)[word_ends]} - {0, total})
    cuts: list[int] = []
    max_parts = OPENING_PARTS if available_s is None else MAX_PARTS
    clock = 0.0  # rendering time spent so far
    plays_until = available_s  # when the audio made so far has played (None: not begun)
    pos = 0
    while True:
        left = 0 if not cuts else LEFT_CONTEXT
        spoken_from = max(pos, lead) if not cuts else pos  # the leading pad is not heard
        finish = clock + per_frame * (total - pos + left)
        if plays_until is not None and finish + MARGIN_S <= plays_until:
            break  # the rest is in time as one part
        candidates = [
            e
            for e in ends
            if e > spoken_from
            and total - e >= max(LEFT_CONTEXT, MIN_PART)
            and (e - pos >= MIN_PART if cuts else e - pos + RIGHT_CONTEXT >= MIN_FIRST)
        ]
        if not candidates or len(cuts) >= max_parts - 1:
            break
        # This cut leaves the rest as the last part: it must pay for all of the rest.
        last = len(cuts) >= max_parts - 2
        if plays_until is None:
            # The listener waits: the first part as short as can be, yet long enough to
            # pay for the rest as one part, or for a next part larger than itself.
            cut = 0
            for end in candidates:
                made = clock + per_frame * (end - pos + left + RIGHT_CONTEXT)
                heard = made + (end - spoken_from) * FRAME_S
                rest = made + per_frame * (total - end + LEFT_CONTEXT)
                if (not last and end - spoken_from >= smallest) or rest + MARGIN_S <= heard:
                    cut = end
                    break
            if not cut:
                break
        else:
            budget = plays_until - MARGIN_S - clock
            fits = [e for e in candidates if per_frame * (e - pos + left + RIGHT_CONTEXT) <= budget]
            cut = fits[-1] if fits else candidates[0]  # late anyway: be late by the least
        clock += per_frame * (cut - pos + left + RIGHT_CONTEXT)
        start = clock if plays_until is None else max(clock, plays_until)
        plays_until = start + (cut - spoken_from) * FRAME_S
        cuts.append(cut)
        pos = cut
    if cuts and cuts[0] + RIGHT_CONTEXT > total * (1 - MIN_GAIN):
        return []  # the first part would be nearly all of it
    return cuts


def bound_parts(
    cuts: list[int],
    durations: np.ndarray,
    word_ends: list[int],
    max_frames: int,
) -> list[int]:
    """``cuts`` with more cuts added so that no part is longer than about ``max_frames``
    (at word ends; the first part at least ``MIN_FIRST`` frames, no part or rest below
    ``MIN_PART``; where no word ends within the bound, at the first one past it): for an
    engine shared by several requests, where a part is the longest a new request may
    have to wait (see engine/scheduler.py)."""
    total = int(durations.sum())
    ends = sorted({int(e) for e in np.cumsum(durations)[word_ends]} - {0, total})
    bounded: list[int] = []
    pos = 0
    for stop in [*cuts, total]:
        while stop - pos > max_frames:
            floor = MIN_FIRST - RIGHT_CONTEXT if pos == 0 else MIN_PART
            allowed = [e for e in ends if e >= pos + floor and stop - e >= MIN_PART]
            fits = [e for e in allowed if e <= pos + max_frames]
            over = [e for e in allowed if e < stop - max_frames // 2]  # not a sliver's worth
            cut = fits[-1] if fits else (over[0] if over else None)  # else: a little over
            if cut is None:
                break
            bounded.append(cut)
            pos = cut
        if stop != total:
            bounded.append(stop)
        pos = stop
    return bounded


class SplitSession:
    """The model as two onnxruntime sessions; ``run`` is the whole model's ``run``."""

    def __init__(
        self, front: Any, decoder: Any, startup_s: float, from_cache: bool, version: str = ""
    ) -> None:
        self.front = front
        self.version = version  # which of build_variants' versions ("" when read cached)
        self.decoder = decoder
        self.startup_s = startup_s
        self.from_cache = from_cache
        self._front_outputs = [o.name for o in front.get_outputs()]
        self._decoder_inputs = [i.name for i in decoder.get_inputs()]
        self._style = next(n for n in self._decoder_inputs if n not in self._front_outputs)
        self._lock = threading.Lock()
        self._per_frame: float | None = None  # measured vocoder seconds per frame

    # The parts of InferenceSession that the rest of the engine uses.
    def get_inputs(self) -> Any:
        return self.front.get_inputs()

    def get_outputs(self) -> Any:
        return self.decoder.get_outputs()

    def get_providers(self) -> list[str]:
        return list(self.decoder.get_providers())

    def _front(
        self, feeds: dict[str, np.ndarray], run_options: Any = None
    ) -> dict[str, np.ndarray]:
        outputs = self.front.run(self._front_outputs, feeds, run_options)
        return dict(zip(self._front_outputs, outputs, strict=True))

    def _decode(
        self, front: dict[str, np.ndarray], style: np.ndarray, start: int, end: int,
        run_options: Any = None,
    ) -> np.ndarray:  # fmt: skip
        feeds: dict[str, np.ndarray] = {self._style: style}
        for name in self._decoder_inputs:
            if name == self._style:
                continue
            value = front[name]
            scale = value.shape[-1] // int(front[DECODER_INPUTS[0]].shape[-1])
            feeds[name] = value[..., start * scale : end * scale]
        started = time.perf_counter()
        audio = self.decoder.run(None, feeds, run_options)[0]
        self._measured(end - start, time.perf_counter() - started)
        return np.asarray(audio, dtype=np.float32).reshape(-1)

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
        return [self._decode(front, style, 0, frames, run_options)]

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
        :func:`plan_parts`), and no part is longer than ``max_part_s`` of vocoding when
        that is given (:func:`bound_parts`). ``between(seconds)`` is called between two
        parts with the next one's expected time (the scheduler may run other work then).
        The returned audio starts with exactly the samples handed out, in order; made in
        one part, it is the whole model's audio.
        """
        front = self._front(feeds, run_options)
        style = feeds[self._style]
        frames = int(front[DECODER_INPUTS[0]].shape[-1])
        until = heard_until()
        if DURATIONS not in front:
            return self._decode(front, style, 0, frames, run_options)
        durations = np.asarray(front[DURATIONS]).reshape(-1)
        # The leading pad's silence is made too, although it is trimmed on the way out:
        # the vocoder normalizes (and quantizes) over the frames it gets, and without
        # those frames the speech after them came out 1-2 dB log-mel from the whole
        # model's (benchmarks/fidelity.py), for 5-8 frames of vocoding.
        if self._per_frame is None:
            return self._decode(front, style, 0, frames, run_options)
        available = None if until is None else until - time.monotonic()
        cuts = plan_parts(durations, word_ends, self._per_frame, available)
        if max_part_s is not None:
            most = max(MIN_FIRST, int(max_part_s / self._per_frame))
            cuts = bound_parts(cuts, durations, word_ends, most)
        if not cuts:
            return self._decode(front, style, 0, frames, run_options)
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
        previous_start = begin = 0
        for end in [*cuts, frames]:
            last = end == frames
            start = begin if previous is None else begin - LEFT_CONTEXT
            audio = self._decode(
                front, style, start, frames if last else min(frames, end + RIGHT_CONTEXT),
                run_options if last else None,
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


def _cut_graph(model_path: Path) -> list[tuple[str, bytes, bytes]]:
    """The front and decoder halves of the model file, serialized: with their convolutions
    on the fast integer kernels (engine/int8.py), when it has any, then as exported."""
    try:
        import onnx
        from onnx.utils import Extractor
    except ImportError as err:
        raise SplitUnavailable("the onnx package is not installed") from err
    model = onnx.load(str(model_path))
    names = {o for node in model.graph.node for o in node.output}
    missing = [n for n in (*DECODER_INPUTS, DURATIONS) if n not in names]
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
    return build_variants(front, decoder)


def build_variants(front: Any, decoder: Any) -> list[tuple[str, bytes, bytes]]:
    """The versions of the two halves worth timing, serialized, fastest expected first and
    as exported last: the convolutions on the integer kernels (engine/int8.py, when the
    model has dynamically quantized ones), and the AdaIN chains fused (engine/fuse.py) on
    top of the best convolutions there are. Each rewrite works on its own copy."""
    import onnx

    variants = [("as exported", front.SerializeToString(), decoder.SerializeToString())]
    base_name, base_front, base_decoder = "", front, decoder
    try:
        fast_front, fast_decoder = onnx.ModelProto(), onnx.ModelProto()
        fast_front.CopyFrom(front)
        fast_decoder.CopyFrom(decoder)
        if rewrite_convolutions(fast_decoder):
            rewrite_convolutions(fast_front)
            fast = (fast_front.SerializeToString(), fast_decoder.SerializeToString())
            variants.insert(0, ("int8 kernels", *fast))
            base_name, base_front, base_decoder = "int8 kernels + ", fast_front, fast_decoder
    except Exception as err:  # never worse than as exported
        _LOGGER.warning("Could not rewrite the model's convolutions: %s", err)
    try:
        fused = onnx.ModelProto()
        fused.CopyFrom(base_decoder)
        if fuse_adain(fused):
            named = f"{base_name}fused AdaIN"
            variants.insert(0, (named, base_front.SerializeToString(), fused.SerializeToString()))
    except Exception as err:
        _LOGGER.warning("Could not fuse the model's AdaIN chains: %s", err)
    return variants


def is_exact(version: str) -> bool:
    """Whether a version of :func:`build_variants` computes what the export does (integer
    rewrites: bit for bit) rather than the same up to float rounding."""
    return "fused" not in version


def load_parts(front: bytes, decoder: bytes, options: Any = None) -> tuple[Any, Any]:
    """Plain CPU sessions on two serialized halves (tests and benchmarks)."""
    return (
        ort.InferenceSession(front, options, providers=[CPU.ort_name]),
        ort.InferenceSession(decoder, options, providers=[CPU.ort_name]),
    )


def open_split(model_path: Path, config: SessionConfig, model_digest: str = "") -> SplitSession:
    """The model on CPU as two sessions, from the optimized cache when it has them.

    Built afresh, the model comes in two versions, as exported and with its convolutions
    on the fast integer kernels (engine/int8.py): their vocoders are timed once on this
    machine and the faster version is kept (and cached). Both make the same audio."""
    started = time.perf_counter()
    paths: tuple[Path, Path] | None = None
    if config.optimized_model_cache and config.cache_dir is not None and model_digest:
        key = f"{cache_key(model_digest, CPU, config)}-{SPLIT_VERSION}"
        folder = config.cache_dir / "optimized"
        paths = (folder / f"{key}-front.onnx", folder / f"{key}-vocoder.onnx")
        if all(p.is_file() for p in paths) and config.graph_opt_level != "disabled":
            try:
                plain = session_options(config, "disabled")
                front, decoder = (
                    ort.InferenceSession(str(p), plain, providers=[CPU.ort_name]) for p in paths
                )
                return SplitSession(front, decoder, time.perf_counter() - started, True)
            except Exception as err:
                _LOGGER.warning("Ignoring the cached split model: %s", err)
                for stale in paths:
                    stale.unlink(missing_ok=True)
        _remove_other_versions(folder)
    if config.graph_opt_level == "disabled":
        paths = None  # nothing optimized to keep
    variants = _cut_graph(model_path)
    built: list[tuple[str, Any, Any, tuple[Path, Path] | None]] = []
    written: list[Path] = []  # each version's optimized halves, until the chosen is renamed
    try:
        fronts: dict[bytes, tuple[Any, Path | None]] = {}  # versions may share a front
        for index, (name, front_bytes, decoder_bytes) in enumerate(variants):
            temp = None
            if paths is not None:
                temp = (
                    paths[0].with_suffix(f".{index}.tmp"),
                    paths[1].with_suffix(f".{index}.tmp"),
                )
                written.extend(temp)
            try:
                if front_bytes not in fronts:
                    opened = _session(front_bytes, config, temp[0] if temp else None)
                    fronts[front_bytes] = (opened, temp[0] if temp else None)
                front, front_file = fronts[front_bytes]
                decoder = _session(decoder_bytes, config, temp[1] if temp else None)
            except Exception as err:
                if index == len(variants) - 1 and not built:
                    raise
                _LOGGER.warning("The model %s does not load here (%s)", name, err)
                continue
            files = None if temp is None or front_file is None else (front_file, temp[1])
            built.append((name, front, decoder, files))
        chosen = built[-1]
        if len(built) > 1:
            try:
                timings = _time_decoders(
                    built[0][1], [b[2] for b in built], [is_exact(b[0]) for b in built]
                )
                _LOGGER.info(
                    "Vocoder speed here: %s",
                    ", ".join(
                        f"{b[0]} {t * 1000:.2f} ms/frame"
                        for b, t in zip(built, timings, strict=True)
                    ),
                )
                chosen = built[int(np.argmin(timings))]
                _LOGGER.info("Vocoder kept: %s", chosen[0])
            except Exception as err:
                _LOGGER.warning("Keeping the model as exported: %s", err)
        if paths is not None and chosen[3] is not None:
            for made, final in zip(chosen[3], paths, strict=True):
                if made.is_file():
                    made.replace(final)
    finally:
        for leftover in written:
            leftover.unlink(missing_ok=True)
    _LOGGER.debug("Split model: %s", chosen[0])
    return SplitSession(chosen[1], chosen[2], time.perf_counter() - started, False, chosen[0])


def _session(data: bytes, config: SessionConfig, save_to: Path | None) -> Any:
    """A CPU session on a serialized model, its optimized graph saved to ``save_to``."""
    options = session_options(config)
    if save_to is not None:
        save_to.parent.mkdir(parents=True, exist_ok=True)
        options.optimized_model_filepath = str(save_to)
    try:
        return ort.InferenceSession(data, options, providers=[CPU.ort_name])
    except Exception:
        if save_to is None:
            raise
        save_to.unlink(missing_ok=True)  # e.g. a read-only folder: open without saving
        return ort.InferenceSession(data, session_options(config), providers=[CPU.ort_name])


PROBE_TOKENS = [(i * 37) % 150 + 16 for i in range(30)]  # made-up text for timing


def _time_decoders(front: Any, decoders: list[Any], exact: list[bool] | None = None) -> list[float]:
    """Seconds per frame of each decoder on one made-up segment (after a first run); they
    must agree on its audio with the last (as exported): to float rounding where
    ``exact[i]``, otherwise as :func:`same_audio` allows; one that does not is not timed
    (infinitely slow)."""
    feeds: dict[str, np.ndarray] = {}
    for item in front.get_inputs():
        dtype = {"tensor(int64)": np.int64, "tensor(int32)": np.int32}.get(item.type, np.float32)
        if len(item.shape) == 2 and dtype is not np.float32:
            feeds[item.name] = np.array([[0, *PROBE_TOKENS, 0]], dtype=dtype)
        elif len(item.shape) == 2:
            width = item.shape[1] if isinstance(item.shape[1], int) else 256
            feeds[item.name] = np.random.default_rng(0).normal(0, 0.1, (1, width)).astype(dtype)
        else:
            feeds[item.name] = np.ones(1, dtype=dtype)
    sessions = [SplitSession(front, decoder, 0.0, False) for decoder in decoders]
    made = sessions[0]._front(feeds)
    frames = int(made[DECODER_INPUTS[0]].shape[-1])
    style = feeds[sessions[0]._style]
    outputs = [s._decode(made, style, 0, frames) for s in sessions]
    usable = [True] * len(sessions)
    if len(outputs) > 1:
        reference = outputs[-1]  # as exported
        for index, output in enumerate(outputs[:-1]):
            if not same_audio(reference, output, exact[index] if exact else True):
                _LOGGER.warning("Vocoder version %d makes other audio: not used", index)
                usable[index] = False
    best = [math.inf] * len(sessions)
    for _ in range(2):
        for index, session in enumerate(sessions):
            if not usable[index]:
                continue
            began = time.perf_counter()
            session._decode(made, style, 0, frames)
            best[index] = min(best[index], (time.perf_counter() - began) / frames)
    return best


# How far a float rewrite's audio may be from the exported vocoder's, in mean log-mel dB.
# The int8 vocoder is chaotic to rounding: dividing by a norm replaced by multiplying by
# its reciprocal (one ulp) already moves its audio by 0.78 dB (its dynamic quantization
# rounds some values the other way, and the error grows through 60 layers), so a
# tolerance below that would reject every float rewrite. A wrong rewrite is far beyond it
# (a 100 ms shift is about 11 dB).
MEL_TOLERANCE_DB = 1.5


def same_audio(reference: np.ndarray, audio: np.ndarray, exact: bool) -> bool:
    """Whether ``audio`` is the reference's: to 1e-4 where the rewrite is exact in integer
    arithmetic, within ``MEL_TOLERANCE_DB`` (same length) otherwise."""
    if len(audio) != len(reference):
        return False
    if exact:
        return float(np.max(np.abs(audio - reference))) <= 1e-4
    return mel_difference(reference, audio) <= MEL_TOLERANCE_DB


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
