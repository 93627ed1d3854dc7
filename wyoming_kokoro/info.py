"""The Wyoming Info answer: one TTS program with every voice in the catalogue."""

from __future__ import annotations

from wyoming.info import Attribution, Info, TtsProgram, TtsVoice

from . import __version__
from .engine.voices import VoiceCatalogue

KOKORO_ATTRIBUTION = Attribution(name="hexgrad", url="https://huggingface.co/hexgrad/Kokoro-82M")


def build_info(catalogue: VoiceCatalogue) -> Info:
    voices = [
        TtsVoice(
            name=voice.name,
            description=voice.description,
            attribution=KOKORO_ATTRIBUTION,
            installed=True,
            version=None,
            languages=[voice.locale],
        )
        for voice in catalogue.voices
    ]
    program = TtsProgram(
        name="kokoro",
        description="Kokoro-82M text to speech (onnxruntime), served by wyoming-kokoro",
        attribution=KOKORO_ATTRIBUTION,
        installed=True,
        version=__version__,
        voices=voices,
        supports_synthesize_streaming=True,
    )
    return Info(tts=[program])
