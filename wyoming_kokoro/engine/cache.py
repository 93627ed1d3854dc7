"""Phrase cache: audio of recently spoken segments, bounded by memory.

Home Assistant repeats the same confirmations all day; a hit skips inference entirely.
Keyed by (phonemes, voice, speed, model digest), least recently used out first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import NamedTuple

import numpy as np


class PhraseKey(NamedTuple):
    phonemes: str
    voice: str
    speed: float
    model: str


class PhraseCache:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[PhraseKey, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: PhraseKey) -> np.ndarray | None:
        with self._lock:
            audio = self._entries.get(key)
            if audio is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return audio

    def put(self, key: PhraseKey, audio: np.ndarray) -> None:
        if audio.nbytes > self.max_bytes:
            return
        audio = np.array(audio, dtype=np.float32, copy=True)
        audio.setflags(write=False)
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._entries[key] = audio
            self._bytes += audio.nbytes
            while self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.nbytes
