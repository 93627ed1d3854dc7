"""Loudness of every voice (and a few blends) before and after normalization.

Each voice speaks two sentences in its language through the server's pipeline (in
process: segments, trimming, pauses), once as the voice makes it (``loudness_lufs: off``)
and once with the default settings (−20 LUFS, true peak under −1 dBTP), each voice's first
request (no level learnt from earlier ones). Measured with wyoming_kokoro.loudness
(ITU-R BS.1770-4). Prints the spread and, with ``--each``, every voice.

    .venv/bin/python benchmarks/loudness.py [--each] [--json OUT]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wyoming_kokoro.assets import resolve_assets  # noqa: E402
from wyoming_kokoro.config import Settings  # noqa: E402
from wyoming_kokoro.engine.synthesizer import KokoroModel  # noqa: E402
from wyoming_kokoro.engine.voices import VoiceCatalogue  # noqa: E402
from wyoming_kokoro.loudness import LoudnessMeter, true_peak  # noqa: E402
from wyoming_kokoro.request import speak_text  # noqa: E402
from wyoming_kokoro.shaping import AudioSettings  # noqa: E402
from wyoming_kokoro.speech import Speaker, choose_voice  # noqa: E402
from wyoming_kokoro.stats import RequestStats  # noqa: E402
from wyoming_kokoro.tables import text_table  # noqa: E402
from wyoming_kokoro.text.g2p import Phonemizer  # noqa: E402

TEXTS = {
    "a": "The living room is at twenty one degrees. The kitchen window is still open.",
    "b": "The living room is at twenty one degrees. The kitchen window is still open.",
    "e": "La sala está a veintiún grados. La ventana de la cocina sigue abierta.",
    "f": "Le salon est à vingt et un degrés. La fenêtre de la cuisine est encore ouverte.",
    "i": "Il soggiorno è a ventuno gradi. La finestra della cucina è ancora aperta.",
    "p": "A sala está a vinte e um graus. A janela da cozinha ainda está aberta.",
    "h": "बैठक का तापमान इक्कीस डिग्री है। रसोई की खिड़की अभी भी खुली है।",
    "j": "リビングは二十一度です。台所の窓はまだ開いています。",
    "z": "客厅的温度是二十一度。厨房的窗户还开着。",
}
BLENDS = ("af_heart+am_adam", "af_nova:70+af_kore:30", "bf_emma+bm_george")


def spread(values: list[float]) -> str:
    return (
        f"{min(values):.1f} to {max(values):.1f} LUFS (range {max(values) - min(values):.1f} LU,"
        f" sd {statistics.pstdev(values):.2f})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--each", action="store_true", help="print every voice")
    parser.add_argument("--json", type=Path, help="write the measurements here")
    args = parser.parse_args()
    paths = resolve_assets(Settings(download=False))
    catalogue = VoiceCatalogue.from_file(paths.voices)
    model = KokoroModel(paths.model, split=True)  # as the server makes it (vocoder in parts)
    speaker = Speaker(model, catalogue, Phonemizer(), "af_heart")
    meter = LoudnessMeter()
    on = AudioSettings()
    off = replace(on, loudness_lufs=None)
    rows: dict[str, dict[str, float]] = {}
    for name in [v.name for v in catalogue.voices] + list(BLENDS):
        choice = choose_voice(catalogue, "af_heart", name, None)
        measured: dict[str, float] = {}
        for label, settings in (("before", off), ("after", on)):
            speaker.shaping.settings = settings  # the second run comes from the phrase cache
            stats = RequestStats("oneshot", name, choice.locale, speaker.provider)
            text = TEXTS[choice.lang_code]
            audio: np.ndarray = asyncio.run(speak_text(speaker, text, choice, 1.0, stats))
            measured[label] = meter.integrated(audio)
            measured[f"{label}_peak_dbtp"] = 20 * np.log10(max(true_peak(audio), 1e-9))
        rows[name] = measured
        if args.each:
            print(f"{name:24s} {measured['before']:6.1f} -> {measured['after']:6.1f} LUFS, "
                  f"true peak {measured['after_peak_dbtp']:5.1f} dBTP", flush=True)  # fmt: skip
    voices = [r for n, r in rows.items() if n not in BLENDS]
    table = [
        (f"{len(voices)} voices, before", spread([r["before"] for r in voices]),
         f"{max(r['before_peak_dbtp'] for r in voices):.1f} dBTP"),
        (f"{len(voices)} voices, after", spread([r["after"] for r in voices]),
         f"{max(r['after_peak_dbtp'] for r in voices):.1f} dBTP"),
        (f"{len(BLENDS)} blends, after", spread([rows[b]["after"] for b in BLENDS]),
         f"{max(rows[b]['after_peak_dbtp'] for b in BLENDS):.1f} dBTP"),
    ]  # fmt: skip
    print(text_table(("", "integrated loudness", "highest true peak"), table))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    speaker.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
