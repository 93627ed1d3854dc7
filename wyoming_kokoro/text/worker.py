"""The text worker: every request's text work (SSML, splitting, normalization, G2P) on
one thread off the event loop, with the normalizer and G2P that all requests share."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar

from .lexicon import LexiconFiles
from .normalize import TextNormalizer
from .prepare import TextPreparer

_T = TypeVar("_T")


class Phonemize(Protocol):
    def phonemize(self, text: str, code: str) -> str: ...


class TextWorker:
    """Shared by all requests. ``split_first``: cut a reply's first clause, to speak it
    early; ``whole``: plan as much of a reply as fits one inference per segment (see
    text/segment.py's planner)."""

    def __init__(
        self,
        phonemizer: Phonemize,
        keep_symbols: Callable[[str], str],
        lexicon: LexiconFiles | None = None,
        split_first: bool = True,
        whole: bool = False,
    ) -> None:
        self.phonemizer = phonemizer
        self.keep_symbols = keep_symbols
        self.normalizer = TextNormalizer(lexicon)
        self.split_first = split_first
        self.whole = whole
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="g2p")

    def preparer(self, lang_code: str, ssml: bool) -> TextPreparer:
        """The text stage for one request in ``lang_code``."""
        return TextPreparer(
            lang_code,
            self.normalizer,
            self.phonemizer.phonemize,
            self.keep_symbols,
            ssml=ssml,
            split_first=self.split_first,
            whole=self.whole,
        )

    async def run(self, function: Callable[..., _T], *args: object) -> _T:
        """Run text work on the text thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, function, *args)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
