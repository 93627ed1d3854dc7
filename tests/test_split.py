"""The vocoder split (engine/split.py): a segment's opening is sent while its rest renders.

Two layers, as everywhere: the request path with a stub model that makes segments in two
parts (order, nothing lost, hang-ups and failures between the parts, the playing-out time
handed to later segments), and the real model cut into three sessions (the same audio as
the whole model; the audio made in parts stays close to it; no cut when the audio already
sent lasts).
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from wyoming.event import Event
from wyoming.tts import Synthesize

from tests.stub import PARAGRAPH, PartsStubModel, audio_bytes, stub_server, types
from wyoming_kokoro.audio import SAMPLE_RATE, float_to_pcm16
from wyoming_kokoro.engine import native
from wyoming_kokoro.engine.plan import (
    FRAME_S,
    LEFT_CONTEXT,
    MAX_PART,
    MAX_PARTS,
    MIN_FIRST,
    MIN_PART,
    RIGHT_CONTEXT,
    SAFETY,
    SAMPLES_PER_FRAME,
    bound_parts,
    plan_parts,
)
from wyoming_kokoro.engine.providers import CPU
from wyoming_kokoro.engine.render import Piece, Place
from wyoming_kokoro.engine.scheduler import CONTENDED_PART_S, DEADLINE, FIRST_SEGMENT_POLICY
from wyoming_kokoro.engine.session import SessionConfig, create_session
from wyoming_kokoro.engine.split import (
    DECODER_INPUTS,
    SPLIT_VERSION,
    SplitSession,
    _cut_graph,
    _native_library,
    cut_model,
    load_parts,
    make_version,
    mel_difference,
    open_split,
)
from wyoming_kokoro.engine.synthesizer import KokoroModel
from wyoming_kokoro.engine.voices import read_voices_file
from wyoming_kokoro.loudness import LoudnessMeter
from wyoming_kokoro.shaping import AudioSettings, Shaper, VoiceLevels
from wyoming_kokoro.text.segment import Ending

ANSWER = 2.0
SENTENCE = "Lights are now switched off everywhere."  # one segment (no clause to cut)


def pcm(events: list[Event]) -> np.ndarray:
    data = b"".join(e.payload or b"" for e in events if e.type == "audio-chunk")
    return np.frombuffer(data, dtype="<i2")


# ---------------------------------------------------------------- the request path (stub)


async def test_a_segments_head_is_sent_before_its_rest_is_made() -> None:
    async with stub_server(parts=True) as server:
        model = server.model
        assert isinstance(model, PartsStubModel)
        model.rest_gate.clear()  # the rest is "still rendering"
        client = await server.connect()
        await client.send(Synthesize(text=SENTENCE).event())
        events: list[Event] = []
        while True:  # everything sent while the rest is held
            try:
                event = await client.read(0.3 if events else ANSWER)
            except TimeoutError:
                break
            assert event is not None
            events.append(event)
        assert types(events)[:2] == ["audio-start", "audio-chunk"]
        assert types(events)[-1] == "audio-chunk"
        head_bytes = audio_bytes(events)
        model.rest_gate.set()
        events += await client.read_until("audio-stop", timeout=ANSWER)
        samples = audio_bytes(events) // 2
        assert head_bytes == samples // 4 * 2  # the first part, all of it, before the rest
        # Nothing lost, nothing doubled, in order: the ramp the stub made, as PCM.
        expected = np.frombuffer(
            float_to_pcm16(0.25 * np.linspace(1.0, 2.0, samples, dtype=np.float32)), "<i2"
        )
        assert np.array_equal(pcm(events), expected)
        record = await server.record(outcome="ok")
        assert record.segments == 1 and record.first_audio_ms is not None


async def test_hang_up_or_failure_between_head_and_rest() -> None:
    async with stub_server(parts=True) as server:
        model = server.model
        assert isinstance(model, PartsStubModel)
        model.rest_gate.clear()
        client = await server.connect()
        await client.send(Synthesize(text=SENTENCE).event())
        assert types(await client.read_until("audio-chunk", timeout=ANSWER)) == [
            "audio-start",
            "audio-chunk",
        ]
        client.close()  # gone while the rest renders
        await asyncio.sleep(0.1)
        model.rest_gate.set()
        assert (await server.record()).outcome == "cancelled"
        await asyncio.sleep(0.1)
        assert model.completed == 0  # abandoned at its next part: the engine is free

        model.fail_after_head = True
        client = await server.connect()
        await client.send(Synthesize(text=SENTENCE).event())
        events = await client.read_until("audio-stop", timeout=ANSWER)
        assert types(events)[:2] == ["audio-start", "audio-chunk"]
        assert types(events)[-2:] == ["error", "audio-stop"]
        assert len(server.records(outcome="error")) == 1

        model.fail_after_head = False  # the connection and the engine go on
        await client.send(Synthesize(text=SENTENCE).event())
        events = await client.read_until("audio-stop", timeout=ANSWER)
        assert "error" not in types(events)
        assert audio_bytes(events) > 0


@pytest.mark.parametrize("policy", [FIRST_SEGMENT_POLICY, DEADLINE])
async def test_a_new_request_is_served_between_a_long_segments_parts(policy: str) -> None:
    """A command that arrives while another request's segment is being vocoded runs
    between that segment's parts (the engine is offered back), not after all of it."""
    async with stub_server(parts=True, samples_per_phoneme=9600, scheduler=policy) as server:
        model = server.model
        assert isinstance(model, PartsStubModel)
        model.rest_gate.clear()  # the long segment is between its parts
        long_answer = await server.connect()
        await long_answer.send(Synthesize(text=SENTENCE).event())
        await long_answer.read_until("audio-chunk", timeout=ANSWER)  # its first part
        command = await server.connect()
        await command.send(Synthesize(text="On.").event())
        assert server.speaker is not None
        scheduler = server.speaker.renderer.scheduler
        while scheduler.pending() == 0:  # queued behind the long segment
            await asyncio.sleep(0.01)
        model.rest_gate.set()
        events = await command.read_until("audio-stop", timeout=ANSWER)
        assert audio_bytes(events) > 0
        await long_answer.read_until("audio-stop", timeout=ANSWER)
        # The command finished first: it ran between the long segment's parts (the long
        # answer had 4 s of audio in hand, the command none).
        assert len(model.finished) == 2 and model.finished[0] == "on."
        # The long answer's run began alone (unbounded); the command's beside it (bounded).
        assert model.part_bounds == [None, CONTENDED_PART_S]


async def test_later_segments_know_when_the_audio_made_plays_out() -> None:
    # 100 ms of audio per phoneme: more than the silence trimming is expected to take.
    async with stub_server(parts=True, delay=0.01, samples_per_phoneme=2400) as server:
        model = server.model
        assert isinstance(model, PartsStubModel)
        client = await server.connect()
        started = time.monotonic()
        await client.send(Synthesize(text=PARAGRAPH).event())
        events = await client.read_until("audio-stop", timeout=ANSWER)
        assert audio_bytes(events) > 0
        first, *later = model.deadlines
        assert first is None  # nothing sent yet: the opening comes first
        known = [d for d in later if d is not None]
        assert later and len(known) == len(later) and all(d > started for d in known)
        # The playing-out time grows with the audio sent (never backwards).
        assert all(b >= a for a, b in zip(known, known[1:], strict=False))


def test_head_and_rest_are_shaped_as_one_segment() -> None:
    """Trimmed at the outer ends only, one gain for both parts, the same pause after."""
    rate = SAMPLE_RATE
    t = np.arange(rate) / rate
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    quiet = np.zeros(rate // 4, dtype=np.float32)
    audio = np.concatenate((quiet, tone, quiet))
    settings = AudioSettings()

    def shaper() -> Shaper:
        return Shaper(settings, "a", "af_heart", LoudnessMeter(), VoiceLevels())

    whole = shaper()
    one = whole.shape(Piece(audio, Place.WHOLE, Ending.SENTENCE))
    parts = shaper()
    cut = len(quiet) + 67 * 120  # heads end on the 5-ms frames (600 k - 120 samples)
    head = parts.shape(Piece(audio[:cut], Place.PART, Ending.SENTENCE))
    two = np.concatenate((head, parts.shape(Piece(audio[cut:], Place.LAST, Ending.SENTENCE))))
    assert len(two) == len(one)
    # One gain across the seam (set when the head went out, from what was known then):
    # the parts differ from the whole segment by one constant factor, under 0.5 dB.
    loud = np.abs(one) > 0.02
    ratio = two[loud] / one[loud]
    assert np.ptp(ratio) < 1e-3 * np.mean(ratio)
    assert abs(20 * np.log10(np.mean(ratio))) < 0.5
    assert len(whole.tail()) == len(parts.tail())  # the same tail after it


# ---------------------------------------------------------------- the real model


@pytest.fixture(scope="module")
def split_model(real_assets: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    model_path, voices_path = real_assets
    cache = tmp_path_factory.mktemp("split-cache")
    (cache / "optimized").mkdir()
    (cache / "optimized" / "0123-split-3-vocoder.onnx").write_bytes(b"an older version's")
    config = SessionConfig(cache_dir=cache)
    split = open_split(model_path, config, model_digest="test")
    whole = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    model = KokoroModel(model_path, config, ["cpu"], model_digest="test", split=True)
    voices = read_voices_file(voices_path)
    return {"split": split, "whole": whole, "model": model, "voices": voices, "config": config,
            "path": model_path}  # fmt: skip


def feeds_for(
    model: KokoroModel, voices: dict[str, np.ndarray], phonemes: str
) -> dict[str, np.ndarray]:
    style = voices["af_heart"][len(phonemes)]
    return model.feeds(phonemes, style, 1.0)


PHONEMES = (
    "ðə lˈIvɪŋ ɹˈum lˈIts ɑɹ ˈɔn, ænd ðə fɹˈʌnt dˈɔɹ ɪz lˈɑkt. "
    "təmˈɑɹO lˈʊks sˈʌni wɪð ɐ lˈIt bɹˈiz fɹʌm ðə wˈɛst."
)


def test_the_three_sessions_make_the_whole_models_audio(split_model: dict) -> None:
    model: KokoroModel = split_model["model"]
    feeds = feeds_for(model, split_model["voices"], PHONEMES)
    whole = split_model["whole"].run(None, feeds)[0].reshape(-1)
    parts = split_model["split"].run(None, feeds)[0]
    # The version the timing kept, its generator carrying state (engine/carry.py) with
    # nothing to carry, makes the whole model's audio bit for bit.
    split: SplitSession = split_model["split"]
    library = _native_library(split_model["config"], build=False)
    versions = _cut_graph(split_model["path"], library)
    assert split.version in [version.name for version in versions]
    assert len(split.sites.norms) == 44 and split.sites.phase
    assert np.array_equal(parts, whole)
    # The model the server builds uses them on CPU, and a second start reads them cached.
    assert isinstance(model.router.cpu().session, SplitSession)
    # The vocoder was timed as exported and rewritten (engine/int8.py, the same audio): one
    # of them is kept. An older version's files are gone.
    kept = sorted(p.name for p in (split_model["config"].cache_dir / "optimized").iterdir())
    assert [name.split(f"-{SPLIT_VERSION}-")[1] for name in kept] == [
        "front.onnx",
        "generator.onnx",
        "mid.onnx",
    ]
    again = open_split(split_model["path"], split_model["config"], model_digest="test")
    assert again.from_cache and again.sites == split.sites
    assert np.array_equal(again.run(None, feeds)[0], whole)


def test_a_cached_vocoder_that_carries_no_state_is_rebuilt(
    split_model: dict, tmp_path: Path
) -> None:
    # Files under this version's name whose generator cannot carry state (another build's,
    # or damaged) must not be used: parts would each normalize over their own frames.
    cached = sorted((split_model["config"].cache_dir / "optimized").iterdir())
    (tmp_path / "optimized").mkdir()
    plain = make_version("plain", *cut_model(split_model["path"]), carry=False)
    for path in cached:
        target = tmp_path / "optimized" / path.name
        if path.name.endswith("-generator.onnx"):
            target.write_bytes(plain.generator)
        else:
            target.write_bytes(path.read_bytes())
    config = SessionConfig(cache_dir=tmp_path)
    rebuilt = open_split(split_model["path"], config, model_digest="test")
    assert not rebuilt.from_cache and len(rebuilt.sites.norms) == 44
    again = open_split(split_model["path"], config, model_digest="test")
    assert again.from_cache and again.sites == rebuilt.sites


def test_a_download_dir_that_cannot_be_written_still_serves(
    split_model: dict, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A read-only download dir (here: its path runs through a file) must not stop the
    start: the sessions open without saving their optimized graphs."""
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    config = SessionConfig(cache_dir=blocked)
    split = open_split(split_model["path"], config, model_digest="test")
    assert not split.from_cache and len(split.sites.norms) == 44
    opened = create_session(split_model["path"], CPU, config, model_digest="test")
    assert opened.session.get_inputs()
    assert "Not caching optimized models" in caplog.text
    assert blocked.read_text() == "not a folder"


def test_the_rewritten_version_makes_the_exported_audio(split_model: dict) -> None:
    # Whichever version the timing kept here, the rewritten one must be there for the
    # int8 model: the int8 kernels (engine/int8.py) make the exported version's audio bit
    # for bit.
    versions = _cut_graph(split_model["path"])
    assert [version.name for version in versions] == ["int8 kernels", "as exported"]
    feeds = feeds_for(split_model["model"], split_model["voices"], PHONEMES)
    fast, exported = (load_parts(version).run(None, feeds)[0] for version in versions)
    assert np.array_equal(fast, exported)


def test_the_carried_state_brings_a_later_part_close_to_the_whole(split_model: dict) -> None:
    """The rest of a segment after its opening, made with the statistics and phase the
    opening carried, is closer to the whole rendering than the same rest made alone."""
    split: SplitSession = split_model["split"]
    feeds = feeds_for(split_model["model"], split_model["voices"], PHONEMES)
    front = split._front(feeds)
    style = feeds[split._style]
    mid = split._mid(front, style)
    frames = int(front[DECODER_INPUTS[0]].shape[-1])
    whole = split._generate(mid, style, 0, frames)[0]
    cut = 48
    opening, state = split._generate(mid, style, 0, cut + RIGHT_CONTEXT)
    start = cut - LEFT_CONTEXT
    carried = split._generate(mid, style, start, frames, state)[0]
    alone = split._generate(mid, style, start, frames)[0]
    heard = slice(LEFT_CONTEXT * SAMPLES_PER_FRAME, None)
    reference = whole[cut * SAMPLES_PER_FRAME :]
    near, far = (mel_difference(reference, audio[heard]) for audio in (carried, alone))
    assert near < 0.8 * far, (near, far)


def test_a_segment_in_two_parts_stays_close_to_the_whole(split_model: dict) -> None:
    split: SplitSession = split_model["split"]
    model: KokoroModel = split_model["model"]
    feeds = feeds_for(model, split_model["voices"], PHONEMES)
    whole = split.run(None, feeds)[0]  # also measures the vocoder's speed
    assert split.seconds_per_frame is not None
    # Plan as on a quiet machine (a busy one makes no parts): the audio is under test.
    split._per_frame = 0.006
    heads: list[np.ndarray] = []
    word_ends = [i + 1 for i, s in enumerate(PHONEMES) if s == " "]
    audio = split.run_parts(feeds, word_ends, heads.append)
    assert len(heads) >= 1
    head = np.concatenate(heads)
    assert len(audio) == len(whole)  # the leading pad is made too
    assert np.array_equal(audio[: len(head)], head)  # the parts are the audio's opening
    assert len(heads[0]) < 0.5 * len(whole)
    # A part cannot know the frames after it, so the audio is not bit-exact; it stays
    # close to the whole rendering everywhere, the join included (measured: about 1.5 dB;
    # the rest placed 100 ms off gives about 11 dB).
    assert mel_difference(whole, audio) < 4.0
    join = slice(max(0, len(head) - SAMPLE_RATE // 4), len(head) + SAMPLE_RATE // 4)
    assert mel_difference(whole[join], audio[join]) < 5.0


def test_no_parts_when_the_audio_sent_lasts(split_model: dict) -> None:
    split: SplitSession = split_model["split"]
    model: KokoroModel = split_model["model"]
    sentence = PHONEMES.split(". ")[0] + "."  # one sentence: under MAX_PART frames
    feeds = feeds_for(model, split_model["voices"], sentence)
    whole = split.run(None, feeds)[0]
    assert len(whole) < MAX_PART * SAMPLES_PER_FRAME
    heads: list[np.ndarray] = []
    word_ends = [i + 1 for i, s in enumerate(sentence) if s == " "]
    audio = split.run_parts(feeds, word_ends, heads.append, lambda: time.monotonic() + 60)
    assert heads == []
    # One part, the leading pad included: the whole model's audio, bit for bit.
    assert np.array_equal(whole, audio)
    # Through the model, as the server calls it: a short segment is made whole.
    result = model.infer_parts("hˈI.", split_model["voices"]["af_heart"][4], 1.0, heads.append)
    assert heads == [] and len(result.audio) > 0
    # A segment longer than MAX_PART frames is made in parts all the same: the vocoder
    # is faster per frame on fewer frames at once.
    longer = f"{PHONEMES} {PHONEMES}"
    feeds = feeds_for(model, split_model["voices"], longer)
    word_ends = [i + 1 for i, s in enumerate(longer) if s == " "]
    audio = split.run_parts(feeds, word_ends, heads.append, lambda: time.monotonic() + 60)
    assert len(audio) > MAX_PART * SAMPLES_PER_FRAME
    assert heads and all(len(head) <= (MAX_PART + 10) * SAMPLES_PER_FRAME for head in heads)


def test_a_shared_engine_vocodes_in_bounded_parts(split_model: dict) -> None:
    """With other requests about, a segment goes in parts of bounded vocoding time even
    with audio in hand, and the engine is offered back between them."""
    split: SplitSession = split_model["split"]
    model: KokoroModel = split_model["model"]
    feeds = feeds_for(model, split_model["voices"], PHONEMES)
    reference = split.run_parts(feeds, [], lambda part: None, lambda: time.monotonic() + 60)
    assert split.seconds_per_frame is not None
    heads: list[np.ndarray] = []
    offered: list[float] = []
    word_ends = [i + 1 for i, s in enumerate(PHONEMES) if s == " "]
    most = MIN_FIRST * split.seconds_per_frame  # the shortest bound there is
    audio = split.run_parts(
        feeds, word_ends, heads.append, lambda: time.monotonic() + 60, None, most, offered.append
    )
    assert len(heads) >= 1 and len(offered) == len(heads) and min(offered) > 0
    assert len(audio) == len(reference)
    assert mel_difference(reference, audio) < 4.0  # as two parts (see above)


def test_bound_parts_caps_every_part_at_word_ends() -> None:
    durations = np.array([14] + [2] * 140 + [6, 1])
    word_ends = list(range(4, 141, 4))
    ends = {int(e) for e in np.cumsum(durations)[word_ends]}
    total = int(durations.sum())
    cuts = bound_parts([], durations, word_ends, 120)  # engine/split.py: never < MIN_FIRST
    bounds = [0, *cuts, total]
    assert len(cuts) == 2 and set(cuts) <= ends and cuts == sorted(cuts)
    assert all(b - a <= 120 for a, b in zip(bounds, bounds[1:], strict=False))
    assert cuts[0] + RIGHT_CONTEXT >= MIN_FIRST and total - cuts[-1] >= MIN_PART
    # The plan's own cuts stay; a part already short enough is left alone.
    assert set(bound_parts([60], durations, word_ends, 120)) >= {60}
    assert bound_parts([], durations, word_ends, 1000) == []
    assert bound_parts([], durations, [], 120) == []  # no word ends: no cut


def simulate(
    durations: np.ndarray, cuts: list[int], real: float, available: float | None
) -> tuple[float, float]:
    """Render the plan at ``real`` seconds per frame: the first audio's wait and the
    longest stall after it (the listener's view)."""
    total, lead = int(durations.sum()), int(durations[0])
    clock, plays, first, stall = 0.0, available, None, 0.0
    begin = 0
    for index, end in enumerate([*cuts, total]):
        left = LEFT_CONTEXT if index else 0
        right = RIGHT_CONTEXT if end < total else 0
        clock += real * (end - begin + left + right)
        if first is None and plays is None:
            first, plays = clock, clock
        assert plays is not None
        stall = max(stall, clock - plays)
        spoken = end - (max(begin, lead) if index == 0 else begin)
        plays = max(plays, clock) + spoken * FRAME_S
        begin = end
    return first or 0.0, stall


def test_plan_parts_keeps_the_audio_flowing() -> None:
    durations = np.array([14] + [2] * 140 + [6, 1])  # pads, phonemes, final punctuation
    word_ends = list(range(4, 141, 4))
    ends = {int(e) for e in np.cumsum(durations)[word_ends]}
    per_frame = 0.009
    # Nothing playing: a short opening, then growing parts, no stall.
    cuts = plan_parts(durations, word_ends, per_frame, None)
    assert 2 <= len(cuts) <= MAX_PARTS - 1 and set(cuts) <= ends and cuts == sorted(cuts)
    sizes = np.diff([0, *cuts])  # the opening (its pad included), then growing parts
    assert all(np.diff(sizes[1:]) > 0) and sizes[0] + RIGHT_CONTEXT >= MIN_FIRST
    planned = SAFETY * per_frame  # the speed the plan allows for (slower than measured)
    first, stall = simulate(durations, cuts, planned, None)
    assert first < 0.4 * planned * int(durations.sum()) and stall == 0.0
    assert simulate(durations, cuts, per_frame, None)[1] == 0.0
    # A short reply (3.8 s): two or three parts, each later one made while the one before
    # plays; the first renders at least MIN_FIRST frames (shorter ones were heard worse).
    # A 2.8-s command would have a first part of nearly all of it: one part.
    command = np.array([14] + [2] * 65 + [6, 1])
    cuts = plan_parts(command, list(range(4, 66, 4)), per_frame, None)
    assert 1 <= len(cuts) <= 2 and simulate(command, cuts, planned, None)[1] == 0.0
    assert cuts[0] + RIGHT_CONTEXT >= MIN_FIRST
    short = np.array([14] + [2] * 45 + [6, 1])
    assert plan_parts(short, list(range(4, 46, 4)), per_frame, None) == []
    shorter = np.array([14] + [2] * 18 + [6, 1])  # 1.4 s: a first part could not be shorter
    assert plan_parts(shorter, list(range(4, 19, 4)), per_frame, None) == []
    # Audio playing for 1.6 s (a first part's floor, MIN_FIRST frames, takes ~1.4 s to
    # make at this speed): parts only as needed, still no stall.
    cuts = plan_parts(durations, word_ends, per_frame, 1.6)
    assert cuts and simulate(durations, cuts, planned, 1.6)[1] == 0.0
    # Enough audio playing, a short segment, or a machine too slow for parts: one part.
    assert plan_parts(durations, word_ends, per_frame, 10.0) == []
    assert plan_parts(np.array([14, 2, 2, 2, 6, 1]), [2], per_frame) == []
    assert plan_parts(durations, word_ends, 0.02) == []
    assert plan_parts(durations, [1], per_frame) == []


def test_the_native_version_makes_the_exported_audio(split_model: dict, tmp_path: Path) -> None:
    """With engine/native.py's kernel built here, its version of the vocoder is timed
    with the others and makes the export's audio bit for bit; a cached model that needs
    the kernel is rebuilt without it when the kernel is turned off."""
    library = _native_library(split_model["config"], build=False)
    if library is None:
        pytest.skip("the native kernel is not built here (no compiler, Eigen or headers)")
    versions = _cut_graph(split_model["path"], library)
    assert [version.name for version in versions] == [
        "int8 kernels + native kernels",
        "int8 kernels",
        "as exported",
    ]
    assert versions[0].library == library
    fused = {
        part: {n.op_type for n in onnx.load_from_string(model).graph.node if n.domain}
        for part, model in (("mid", versions[0].mid), ("generator", versions[0].generator))
    }
    # The strided convolutions keep their columns; the others turn time-major where
    # onnxruntime's uint8 x int8 products are exact (native.products_exact).
    convolutions = (
        {"TimeColumns", "TransposedEpilogue", "TransposedEpilogueAdd"}
        if native.products_exact()
        else {"ConvEpilogueAdd"}
    )
    assert {"ConvEpilogue", "PaddedInt8"} | convolutions <= fused["mid"]
    assert {
        "CentredAdaINSnake", "CentredVariance", "Snake", "ConvEpilogue", "PaddedInt8",
        "BluesteinSTFT",
    } | convolutions <= fused["generator"]  # fmt: skip
    feeds = feeds_for(split_model["model"], split_model["voices"], PHONEMES)
    ours, exported = (load_parts(v).run(None, feeds)[0] for v in (versions[0], versions[-1]))
    assert np.array_equal(ours, exported)
    # A cache holding the native version, read with the kernel and without it.
    names = sorted((split_model["config"].cache_dir / "optimized").iterdir())
    (tmp_path / "optimized").mkdir()
    for path in names:
        part = path.name.split(f"-{SPLIT_VERSION}-")[1].removesuffix(".onnx")
        model = versions[0].models[["front", "mid", "generator"].index(part)]
        (tmp_path / "optimized" / path.name).write_bytes(model)
    (tmp_path / "native").mkdir()
    shutil.copy(library, tmp_path / "native" / library.name)
    with_kernel = open_split(split_model["path"], SessionConfig(cache_dir=tmp_path), "test")
    assert with_kernel.from_cache
    assert np.array_equal(with_kernel.run(None, feeds)[0], exported)
    off = SessionConfig(cache_dir=tmp_path, native_kernels=False)
    rebuilt = open_split(split_model["path"], off, "test")
    assert not rebuilt.from_cache and "native" not in rebuilt.version
    assert np.array_equal(rebuilt.run(None, feeds)[0], exported)


def test_a_library_that_fails_to_build_meanwhile_leaves_the_other_versions(
    split_model: dict,
) -> None:
    """The first start compiles the kernels while it makes the versions: when the build
    gives nothing, the native version is dropped and the others are timed as before."""
    asked: list[bool] = []

    def failed() -> None:
        asked.append(True)
        return None

    versions = _cut_graph(split_model["path"], failed)
    assert asked == [True]
    assert [version.name for version in versions] == ["int8 kernels", "as exported"]
