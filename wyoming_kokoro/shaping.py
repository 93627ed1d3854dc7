"""A request's audio on the way out: trimmed segments, pauses by rule, even loudness.

One entry point, :meth:`Shaper.shape`, takes each piece a rendering yields
(engine/render.py) and returns what goes to the client. Each segment's audio (as
inference made it; the phrase cache holds it that way too) is trimmed to its speech plus
a small margin, preceded by the pause that the previous segment's ending calls for
(clause punctuation, sentence end, an SSML break's exact length), brought to the
loudness target and held under the true-peak ceiling. The last audio of a request is
followed by ``tail_silence``.

Loudness, while streaming: audio leaves segment by segment, so the whole request cannot
be measured before its first words are heard. Each segment gets the gain that brings the
request *so far* (itself included) to the target, with the voice's loudness from earlier
requests counted as ``PRIOR_S`` seconds of audio. So the first segment of a familiar voice
is already at the voice's level, a short first word ("Sure!") does not set the gain on its
own, and later segments move only as far as the request's own measurement moves: gain
changes fall in the pauses and stay small (Kokoro keeps a voice's level within a dB or two
from sentence to sentence).
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import MappingProxyType
from typing import TypeVar

import numpy as np

from .audio import LEAD_MARGIN_S, TRAIL_MARGIN_S, pause_after, silence, trim_silence
from .config import ShapingSettings
from .engine.render import Piece, Place
from .languages import LANGUAGES
from .loudness import HOP_S, LoudnessMeter, gated_loudness, limit, lufs_power
from .text.segment import Ending

_T = TypeVar("_T")

TRUE_PEAK_DBTP = -1.0
PRIOR_S = 3.0
MAX_GAIN_DB = 24.0


# Kokoro's own pauses in whole-passage renderings (seconds of silence between speech),
# per language letter: (after a clause, after a sentence); see languages.py and the README.
KOKORO_PAUSES: Mapping[str, tuple[float, float]] = MappingProxyType(
    {code: lang.pauses for code, lang in LANGUAGES.items()}
)
DEFAULT_PAUSES = (0.26, 0.46)  # the medians over all the languages measured
PARAGRAPH_EXTRA_S = 0.3  # auto paragraph pause: the sentence pause and this much more


@dataclass(frozen=True)
class AudioSettings(ShapingSettings):
    """How output audio is shaped: the settings table's shaping section (config.py, where
    each field is declared once), with what the shaper asks of it."""

    def pause(self, ending: Ending, lang_code: str, speed: float = 1.0) -> float:
        """Seconds between the speech of a segment that ended so and the next one's.

        Kokoro's own pauses (the automatic ones) are those it makes at ``speed``: its
        durations scale by 1/speed, so a stream pauses as the one-shot of the same text
        would. A pause set in the settings is taken as it is. A cut inside a clause (a
        long one split for the model) gets no pause of its own: only the trimming margins,
        about as long as Kokoro's own joins between words.
        """
        clause, sentence = (p / speed for p in KOKORO_PAUSES.get(lang_code, DEFAULT_PAUSES))
        if self.sentence_silence is not None:
            sentence = self.sentence_silence
        if ending is Ending.SENTENCE:
            return sentence
        if ending is Ending.PARAGRAPH:
            if self.paragraph_silence is not None:
                return self.paragraph_silence
            return sentence + PARAGRAPH_EXTRA_S
        if ending is Ending.CLAUSE:
            return clause if self.clause_silence is None else self.clause_silence
        return 0.0

    @classmethod
    def untouched(cls) -> AudioSettings:
        """No pauses, no loudness change, no tail: only the trimming (for tests)."""
        return cls(0.0, 0.0, 0.0, None, 1.0, 0.0)


class VoiceLevels:
    """Each voice's loudness (LUFS) as measured in its recent requests; bounded, thread-safe."""

    def __init__(self, capacity: int = 128) -> None:
        self.capacity = capacity
        self._levels: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, voice: str) -> float | None:
        with self._lock:
            return self._levels.get(voice)

    def update(self, voice: str, lufs: float) -> None:
        if not math.isfinite(lufs):
            return
        with self._lock:
            old = self._levels.pop(voice, None)
            self._levels[voice] = lufs if old is None else 0.5 * old + 0.5 * lufs
            while len(self._levels) > self.capacity:
                self._levels.popitem(last=False)


class Shaping:
    """Shared by all requests: the audio settings, the loudness meter, each voice's level
    and the audio thread the shaping runs on (off the event loop)."""

    def __init__(self, settings: AudioSettings | None = None) -> None:
        self.settings = settings or AudioSettings()
        self.meter = LoudnessMeter()
        self.levels = VoiceLevels()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="audio")

    def shaper(self, lang_code: str, voice: str, speed: float = 1.0) -> Shaper:
        """The way out for one request's audio (spoken at ``speed``)."""
        return Shaper(self.settings, lang_code, voice, self.meter, self.levels, speed)

    async def run(self, function: Callable[..., _T], *args: object) -> _T:
        """Run audio work (trimming, loudness, limiting) on the audio thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, function, *args)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class Shaper:
    """Shapes one request's pieces in order (:meth:`shape`), then its :meth:`tail`.

    Not thread-safe: one request, one caller. It keeps what spans pieces: the pause owed
    before the next speech, the request's loudness so far, and the gain of a segment made
    in parts (held from its first part with speech to its last, so that the level does
    not step inside a word).
    """

    def __init__(
        self,
        settings: AudioSettings,
        lang_code: str,
        voice: str,
        meter: LoudnessMeter,
        levels: VoiceLevels,
        speed: float = 1.0,
    ) -> None:
        self.settings = settings
        self.lang_code = lang_code
        self.speed = speed
        self.voice = voice
        self.meter = meter
        self.levels = levels
        self._powers: list[float] = []
        self._pending = 0.0  # silence owed before the next speech (seconds between speech)
        self._pending_is_rule = True  # punctuation's pause (a break replaces it)
        self._spoken = False
        prior = levels.get(voice) if settings.loudness_lufs is not None else None
        self._prior = [] if prior is None else [lufs_power(prior)] * round(PRIOR_S / HOP_S)
        self.gains_db: list[float] = []
        self._held_gain: float | None = None  # a segment's gain while its parts go out

    def shape(self, piece: Piece) -> np.ndarray:
        """The piece ready to send, after the pause owed before it.

        * a whole segment is trimmed at both ends and brought to the loudness target;
        * a segment's parts (see engine/split.py): the first with speech is trimmed at its
          start and sets the gain; later parts are only scaled by it; the last is trimmed
          at its end. A segment whose parts had no speech is shaped whole by its last;
        * an SSML break owes exactly its length between the speech around it (it replaces
          the pause the punctuation would have made; breaks in a row add up).
        What inference made (and the phrase cache keeps) is never changed in place.
        """
        if piece.place is Place.BREAK:
            if self._pending_is_rule:
                self._pending = 0.0
            self._pending += piece.silence
            self._pending_is_rule = False
            return piece.samples[:0]
        if piece.place is Place.PART:
            return self._part(piece.samples)
        if piece.place is Place.LAST and self._held_gain is not None:
            return self._last(piece.samples, piece.ending)
        return self._whole(piece.samples, piece.ending)

    def _whole(self, audio: np.ndarray, ending: Ending) -> np.ndarray:
        self._held_gain = None
        speech = trim_silence(audio)
        if len(speech) == 0:
            return speech
        speech = self._scale(speech, self.settings.volume * self._loudness_gain(speech))
        before = self._pause_before()
        self._pending = self.settings.pause(ending, self.lang_code, self.speed)
        self._spoken = True
        return np.concatenate((before, speech)) if len(before) else speech

    def _part(self, audio: np.ndarray) -> np.ndarray:
        if self._held_gain is not None:  # a middle part: nothing to trim
            self._measure(audio)
            return self._scale(np.asarray(audio, dtype=np.float32), self._held_gain)
        speech = trim_silence(audio, trail=False)
        if len(speech) == 0:
            return speech  # no speech yet: the next part is the first
        self._held_gain = self.settings.volume * self._loudness_gain(speech)
        speech = self._scale(speech, self._held_gain)
        before = self._pause_before()
        self._spoken = True
        return np.concatenate((before, speech)) if len(before) else speech

    def _last(self, audio: np.ndarray, ending: Ending) -> np.ndarray:
        gain, self._held_gain = self._held_gain, None
        assert gain is not None
        speech = trim_silence(audio, lead=False)
        self._measure(speech)
        self._pending = self.settings.pause(ending, self.lang_code, self.speed)
        return self._scale(speech, gain) if len(speech) else speech

    def waited(self, seconds: float) -> None:
        """Silence sent between speech while the next segment was late (a stream's
        keepalive): it counts toward the pause owed, so that the listener hears the
        longer of the two, not their sum."""
        if self._spoken:
            self._pending = max(0.0, self._pending - seconds)

    @staticmethod
    def _scale(speech: np.ndarray, gain: float) -> np.ndarray:
        if gain != 1.0:
            speech = speech * np.float32(gain)
        return limit(speech, 10 ** (TRUE_PEAK_DBTP / 20))

    def _pause_before(self) -> np.ndarray:
        if not self._spoken:
            seconds = max(0.0, self._pending - LEAD_MARGIN_S) if self._pending else 0.0
        else:
            seconds = pause_after(self._pending)
        self._pending = 0.0
        self._pending_is_rule = True
        return silence(seconds)

    def _measure(self, speech: np.ndarray) -> None:
        """Count the audio in the request's loudness (when it is normalized)."""
        if self.settings.loudness_lufs is not None and len(speech):
            self._powers.extend(self.meter.block_powers(speech).tolist())

    def _loudness_gain(self, speech: np.ndarray) -> float:
        target = self.settings.loudness_lufs
        if target is None:
            return 1.0
        self._measure(speech)
        loudness = gated_loudness(self._prior + self._powers)
        if not math.isfinite(loudness):
            return 1.0
        gain_db = min(MAX_GAIN_DB, max(-MAX_GAIN_DB, target - loudness))
        self.gains_db.append(gain_db)
        return float(10 ** (gain_db / 20))

    def tail(self) -> np.ndarray:
        """The end of the request: its tail silence (and an SSML break still owed).

        Records the request's measured loudness as the voice's level for the next ones.
        """
        if self._powers:
            self.levels.update(self.voice, gated_loudness(self._powers))
        owed = 0.0 if self._pending_is_rule else self._pending
        if self._spoken:
            return silence(max(0.0, owed - TRAIL_MARGIN_S) + self.settings.tail_silence)
        return silence(owed)  # only breaks: exactly their length
