"""Kokoro's own pauses: render whole passages in one inference and measure the silences.

How the defaults of ``clause_silence`` and ``sentence_silence`` were chosen, and how the
server's own rendering of each language's first passage compares with the whole one. Each passage
(under 510 phonemes, so Kokoro speaks it in one run, the way kokoro-onnx's ``create``
does) is rendered with the real model; the gaps between speech (wyoming_kokoro.audio's
detector: 5-ms frames more than 40 dB under the loudest one) are matched to the
punctuation that made them, by where the punctuation falls in the phonemes. Prints one
line per language and the medians over all of them.

    .venv/bin/python benchmarks/pauses.py [--json OUT]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wyoming_kokoro.assets import resolve_assets  # noqa: E402
from wyoming_kokoro.audio import (  # noqa: E402
    SAMPLE_RATE,
    Gap,
    find_gaps,
    leading_silence_s,
    longest_pause,
    speech_bounds,
)
from wyoming_kokoro.config import Settings  # noqa: E402
from wyoming_kokoro.engine.synthesizer import KokoroModel  # noqa: E402
from wyoming_kokoro.engine.voices import VoiceCatalogue  # noqa: E402
from wyoming_kokoro.request import speak_text  # noqa: E402
from wyoming_kokoro.speech import Speaker, choose_voice  # noqa: E402
from wyoming_kokoro.stats import RequestStats  # noqa: E402
from wyoming_kokoro.tables import text_table  # noqa: E402
from wyoming_kokoro.text.g2p import Phonemizer  # noqa: E402
from wyoming_kokoro.text.normalize import TextNormalizer  # noqa: E402

CLAUSE_MARKS = ",;:—–、，；："
SENTENCE_MARKS = ".!?…。！？"
MIN_GAP_S = 0.1  # shorter silences are stop closures inside words, not pauses

PASSAGES: dict[str, tuple[str, list[str]]] = {
    "a": ("af_heart", [
        "The living room is at twenty one degrees, and the humidity is forty five percent. "
        "I also noticed that the kitchen window is still open, so you might want to close "
        "it before the evening gets cold.",
        "Your next meeting starts at three in the afternoon, in the small conference room. "
        "Traffic looks light right now, so leaving twenty minutes before should be plenty.",
    ]),
    "b": ("bm_george", [
        "The washing machine finished about ten minutes ago, and the dryer is still running. "
        "It should be done in roughly half an hour, and I will remind you when it stops.",
    ]),
    "e": ("ef_dora", [
        "La sala está a veintiún grados, y la humedad es del cuarenta por ciento. También he "
        "visto que la ventana de la cocina sigue abierta, así que quizá quieras cerrarla.",
        "Tu próxima reunión empieza a las tres de la tarde, en la sala pequeña. El tráfico "
        "es ligero ahora, así que salir veinte minutos antes debería bastar.",
    ]),
    "f": ("ff_siwis", [
        "Le salon est à vingt et un degrés, et l'humidité est de quarante pour cent. J'ai "
        "aussi remarqué que la fenêtre de la cuisine est encore ouverte, alors fermez-la.",
        "Votre prochaine réunion commence à trois heures de l'après-midi, dans la petite "
        "salle. La circulation est fluide, donc partir vingt minutes avant devrait suffire.",
    ]),
    "i": ("if_sara", [
        "Il soggiorno è a ventuno gradi, e l'umidità è del quaranta per cento. Ho anche "
        "notato che la finestra della cucina è ancora aperta, quindi potresti chiuderla.",
        "La tua prossima riunione inizia alle tre del pomeriggio, nella sala piccola. Il "
        "traffico è scorrevole, quindi partire venti minuti prima dovrebbe bastare.",
    ]),
    "p": ("pf_dora", [
        "A sala está a vinte e um graus, e a umidade é de quarenta por cento. Também notei "
        "que a janela da cozinha ainda está aberta, então talvez queira fechá-la.",
        "A sua próxima reunião começa às três da tarde, na sala pequena. O trânsito está "
        "tranquilo, então sair vinte minutos antes deve bastar.",
    ]),
    "j": ("jf_alpha", [
        "リビングは二十一度で、湿度は四十五パーセントです。台所の窓がまだ開いているので、"
        "夜になる前に閉めたほうがいいかもしれません。",
    ]),
    "z": ("zf_xiaobei", [
        "客厅的温度是二十一度，湿度是百分之四十五。我还注意到厨房的窗户还开着，所以你可能想在晚上之前关上它。",
    ]),
}  # fmt: skip


def attribute(phonemes: str, audio: np.ndarray) -> dict[str, Any]:
    """Match each inner punctuation mark to the pause nearest where it falls in time."""
    bounds = speech_bounds(audio)
    if bounds is None:
        raise RuntimeError("no speech")
    start, end = bounds[0] / SAMPLE_RATE, bounds[1] / SAMPLE_RATE
    gaps = [g for g in find_gaps(audio) if g.length_s >= MIN_GAP_S]
    spoken = [not (c.isspace() or c in CLAUSE_MARKS + SENTENCE_MARKS) for c in phonemes]
    total = sum(spoken)
    free: list[Gap] = list(gaps)
    found: dict[str, list[float]] = {"clause": [], "sentence": []}
    for index, symbol in enumerate(phonemes.rstrip(SENTENCE_MARKS + " ")):
        if symbol not in CLAUSE_MARKS + SENTENCE_MARKS:
            continue
        kind = "clause" if symbol in CLAUSE_MARKS else "sentence"
        expected = start + (end - start) * sum(spoken[:index]) / total

        def distance(gap: Gap, expected: float = expected) -> float:
            return abs(gap.start_s + gap.length_s / 2 - expected)

        near = [g for g in free if distance(g) < 0.08 * (end - start)]
        best = min(near, key=distance, default=None)
        if best is not None:
            free.remove(best)
        found[kind].append(best.length_s if best is not None else 0.0)
    return {
        **found,
        "other": [g.length_s for g in free],
        "longest": max((g.length_s for g in gaps), default=0.0),
        "speech_s": end - start,
    }


def compare(speaker: Speaker, voice: str, text: str, whole: np.ndarray) -> tuple[str, ...]:
    """The server pipeline's rendering of ``text`` against the whole-passage one."""
    choice = choose_voice(speaker.catalogue, speaker.default_voice, voice, None)
    stats = RequestStats("oneshot", voice, choice.locale, speaker.provider)
    ours = asyncio.run(speak_text(speaker, text, choice, 1.0, stats))

    def span(audio: np.ndarray) -> float:
        bounds = speech_bounds(audio)
        return (bounds[1] - bounds[0]) / SAMPLE_RATE if bounds else 0.0

    return (
        f"{leading_silence_s(ours):.3f} s",
        f"{span(ours) / span(whole):.3f}",
        f"{longest_pause(ours):.2f} / {longest_pause(whole):.2f} s",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", type=Path, help="write the measurements here")
    parser.add_argument(
        "--whole-only", action="store_true", help="skip the server pipeline's renderings"
    )
    args = parser.parse_args()
    paths = resolve_assets(Settings(download=False))
    model = KokoroModel(paths.model, split=True)  # as the server makes it (vocoder in parts)
    catalogue = VoiceCatalogue.from_file(paths.voices)
    phonemizer = Phonemizer()
    normalizer = TextNormalizer()
    results: dict[str, list[dict[str, Any]]] = {}
    speaker = Speaker(model, catalogue, phonemizer, "af_heart")
    versus = []
    for code, (voice, passages) in PASSAGES.items():
        for index, text in enumerate(passages):
            phonemes = model.filter_phonemes(phonemizer.phonemize(normalizer(text, code), code))
            style = catalogue.style(voice, len(phonemes))
            audio = model.infer(phonemes, style, 1.0).audio
            results.setdefault(code, []).append(attribute(phonemes, audio))
            if index == 0 and not args.whole_only:
                versus.append((f"{code} {voice}", *compare(speaker, voice, text, audio)))

    def cell(values: list[float]) -> str:
        made = [v for v in values if v > 0]
        if not made:
            return "–" if not values else f"none of {len(values)}"
        text = f"{statistics.median(made):.2f} ({min(made):.2f}–{max(made):.2f})"
        return text + (f", {len(values) - len(made)} none" if len(made) < len(values) else "")

    rows = []
    every: dict[str, list[float]] = {"clause": [], "sentence": []}
    for code, runs in results.items():
        clause = [v for r in runs for v in r["clause"]]
        sentence = [v for r in runs for v in r["sentence"]]
        every["clause"] += clause
        every["sentence"] += sentence
        rows.append((f"{code} {PASSAGES[code][0]}", cell(clause), cell(sentence),
                     f"{max(r['longest'] for r in runs):.2f}",
                     cell([v for r in runs for v in r["other"]])))  # fmt: skip
    rows.append(("all", cell(every["clause"]), cell(every["sentence"]), "", ""))
    header = ("language, voice", "clause pause, s", "sentence pause, s", "longest", "other ≥0.1 s")
    print(text_table(header, rows))
    print("\nmedian (min–max) seconds between speech, of the marks that made a pause; none: marks")
    print("where no pause was found near where the mark falls")
    if versus:
        columns = ("language, voice", "leading silence", "speech length vs whole",
                   "longest pause: ours / whole")  # fmt: skip
        print()
        print(text_table(columns, versus))
        print("\nthe server's pipeline (segments, trimming, pauses by rule) against one inference")
        print("of the whole passage; targets: <= 0.08 s, within 8 %, at most 0.1 s more")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
