"""``POST /v1/audio/speech``: OpenAI's speech request onto the shared request path.

The body becomes a :class:`~wyoming_kokoro.request.SpeechRequest` (mode ``http`` in its
stats record), exactly as a Wyoming ``synthesize`` does: the same voice choice, text
stage, scheduler, phrase cache, audio shaping and stats writer. Its audio is encoded
piece by piece (see encode.py) and sent with chunked transfer as it is made.

Status: the answer waits for the request's first audio before it sends its headers, so a
request that fails before any audio (a language not installed, the model failed to load)
still gets an error status; one that fails later is cut short (the chunked body never
ends), so a client never takes half an answer for a whole one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from aiohttp import web

from ..audio import SAMPLE_WIDTH, float_to_pcm16, pcm_seconds
from ..engine.voices import UnknownVoiceError, VoiceCatalogue, language_code
from ..errors import ErrorCode, KokoroError
from ..languages import LANGUAGES
from ..request import SpeechAudio, SpeechRequest
from ..speech import SpeakerHandle, VoiceChoice
from ..stats import RequestStats, StatsWriter
from .apierror import ApiError
from .encode import CONTENT_TYPES, FORMATS, encoder, wav_header, with_length

_LOGGER = logging.getLogger(__name__)

MODELS = ("kokoro", "tts-1", "tts-1-hd")
# OpenAI's voice names: those Kokoro has (af_alloy, am_echo, …) by their suffix; the
# others get the server's default voice, so that clients configured for OpenAI work.
OPENAI_VOICES = ("alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage",
                 "shimmer", "verse")  # fmt: skip
OPENAI_SPEED = (0.25, 4.0)  # what OpenAI accepts; Kokoro speaks 0.5 to 2.0 well
KOKORO_SPEED = (0.5, 2.0)
NOTHING_TO_SAY = "the input has nothing that can be spoken"
GONE_POLL_S = 0.1  # how often a request waiting for its audio looks for its client
CANCEL_WAIT_S = 2.0  # at shutdown: how long cancelled requests get to write their record
_FASTAPI_PART = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*(?:\(\s*([0-9.]+)\s*\))?\s*$")


@dataclass(frozen=True)
class SpeechBody:
    """The fields of one ``/v1/audio/speech`` body, checked."""

    text: str
    voice: str
    response_format: str
    speed: float | None
    lang: str | None
    stream: bool

    @classmethod
    def parse(cls, body: Any, max_chars: int) -> SpeechBody:
        if not isinstance(body, dict):
            raise ApiError(400, "the body must be a JSON object", None, "invalid_body")
        model = body.get("model", "kokoro")
        if not isinstance(model, str) or model not in MODELS:
            raise ApiError(
                404, f"model {model!r} is not served here; use one of {', '.join(MODELS)}",
                "model", "model_not_found",
            )  # fmt: skip
        text = body.get("input")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "input must be non-empty text", "input", "invalid_input")
        if len(text) > max_chars:
            raise ApiError(
                400, f"input has {len(text)} characters; the limit is {max_chars}",
                "input", "text-too-long",
            )  # fmt: skip
        voice = body.get("voice", "")
        if voice is None:
            voice = ""
        if not isinstance(voice, str) or len(voice) > 500:
            raise ApiError(400, "voice must be a voice name or a blend", "voice", "invalid_voice")
        fmt = body.get("response_format", "mp3") or "mp3"
        if fmt not in FORMATS:
            raise ApiError(
                400, f"response_format must be one of {', '.join(FORMATS)}",
                "response_format", "invalid_format",
            )  # fmt: skip
        speed = body.get("speed")
        if speed is not None:
            if isinstance(speed, bool) or not isinstance(speed, (int, float)):
                raise ApiError(400, "speed must be a number", "speed", "invalid_speed")
            low, high = OPENAI_SPEED
            if not low <= speed <= high:
                raise ApiError(
                    400, f"speed must be between {low} and {high}", "speed", "invalid_speed"
                )
            speed = min(max(float(speed), KOKORO_SPEED[0]), KOKORO_SPEED[1])
        lang = body.get("lang", body.get("lang_code"))
        if lang is not None and (not isinstance(lang, str) or language_code(lang) is None):
            raise ApiError(
                400, f"lang {lang!r} is not a language Kokoro speaks", "lang", "invalid_lang"
            )
        stream_format = body.get("stream_format", "audio")
        if stream_format not in ("audio", None):
            raise ApiError(400, "only stream_format 'audio' is served", "stream_format")
        stream = body.get("stream", True)
        if not isinstance(stream, bool):
            raise ApiError(400, "stream must be true or false", "stream", "invalid_stream")
        return cls(text, voice.strip(), fmt, speed, lang or None, stream)


def blend_spec(voice: str) -> str:
    """Kokoro-FastAPI's ``af_bella(2)+af_sky(1)`` as our ``af_bella:2+af_sky:1``; ours and
    plain names pass as they are."""
    if "(" not in voice:
        return voice
    parts = []
    for part in voice.split("+"):
        match = _FASTAPI_PART.match(part)
        if match is None:
            raise ApiError(
                400, f"voice {voice!r}: write a blend as af_bella(2)+af_sky(1)", "voice",
                "invalid_voice",
            )  # fmt: skip
        name, weight = match.groups()
        parts.append(f"{name}:{weight}" if weight else name)
    return "+".join(parts)


def voice_name(catalogue: VoiceCatalogue, default: str, name: str) -> str:
    """One voice name as the catalogue knows it: any case (``AF_HEART``), and OpenAI's
    names mapped (Kokoro's voice of that name, else the default voice)."""
    if name in catalogue:
        return name
    lower = name.lower()
    if lower in catalogue:
        return lower
    if lower in OPENAI_VOICES:
        matches = [v.name for v in catalogue.voices if v.name.split("_", 1)[-1] == lower]
        return matches[0] if len(matches) == 1 else default
    return name


def choose(catalogue: VoiceCatalogue, default: str, body: SpeechBody) -> VoiceChoice:
    """The voice (a voice, a custom voice, a blend of them; each name in any case and
    OpenAI's mapped), and the language ``lang`` asks for, if any."""
    spec = blend_spec(body.voice) if body.voice else default
    parts = (part.partition(":") for part in spec.split("+"))  # name, ":", weight
    name = "+".join(
        voice_name(catalogue, default, voice.strip()) + colon + weight
        for voice, colon, weight in parts
    )
    try:
        info = catalogue.resolve(name)
    except UnknownVoiceError as err:
        raise ApiError(400, str(err), "voice", "unknown-voice") from None
    if info is None:
        raise ApiError(
            400, f"voice {body.voice!r} is not known (see GET /v1/audio/voices)", "voice",
            "unknown-voice",
        )  # fmt: skip
    choice = VoiceChoice(info.name, info.lang_code, info.locale, info.speed)
    if body.lang is not None:
        code = language_code(body.lang)
        assert code is not None  # checked in parse
        choice = VoiceChoice(choice.name, code, LANGUAGES[code].locale, choice.speed)
    return choice


class SpeechEndpoint:
    """Makes and sends the audio of ``/v1/audio/speech`` requests."""

    def __init__(
        self,
        handle: SpeakerHandle,
        writer: StatsWriter,
        speed: float,
        max_text_chars: int,
        max_requests: int,
        write_timeout: float,
    ) -> None:
        self._handle = handle
        self._writer = writer
        self._speed = speed
        self._max_chars = max_text_chars
        self._max_requests = max_requests
        self._write_timeout = write_timeout
        self._active: set[asyncio.Task[Any]] = set()  # the handlers' tasks
        self._stopping = False
        self._encoders = ThreadPoolExecutor(2, thread_name_prefix="http-encode")

    def close(self) -> None:
        self._encoders.shutdown(wait=False, cancel_futures=True)

    async def drain(self, timeout: float) -> None:
        """Shutdown: refuse new requests; those in progress get ``timeout`` seconds to end,
        then are cancelled (their stats record says so)."""
        self._stopping = True
        if not self._active:
            return
        _LOGGER.info("Finishing %d HTTP request(s) (up to %.0f s)", len(self._active), timeout)
        _, late = await asyncio.wait(set(self._active), timeout=timeout)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late, timeout=CANCEL_WAIT_S)

    async def handle(self, http: web.Request, body: Any) -> web.StreamResponse:
        parsed = SpeechBody.parse(body, self._max_chars)
        if self._stopping:
            raise ApiError(503, "the server is shutting down", None, "shutting_down",
                           headers={"Retry-After": "5"})  # fmt: skip
        if len(self._active) >= self._max_requests:
            raise ApiError(429, f"{len(self._active)} speech requests in progress; try again",
                           None, "busy", headers={"Retry-After": "1"})  # fmt: skip
        choice = choose(self._handle.catalogue, self._handle.default_voice, parsed)
        stats = RequestStats(mode="http", voice=choice.name, language=choice.locale, provider="")
        ssml = parsed.text.lstrip().startswith("<speak")
        speed = parsed.speed or choice.speed or self._speed
        request = SpeechRequest(self._handle, choice, speed, stats, self._writer, ssml)
        request.feed(parsed.text)
        request.close()
        task = asyncio.current_task()
        assert task is not None
        self._active.add(task)
        try:
            return await self._answer(http, request, parsed)
        finally:
            self._active.discard(task)

    async def _answer(
        self, http: web.Request, request: SpeechRequest, body: SpeechBody
    ) -> web.StreamResponse:
        outcome, failure = "cancelled", None
        fmt = body.response_format
        coder = encoder(fmt) if body.stream or fmt != "wav" else None
        response: web.StreamResponse | None = None
        held: list[bytes] = []  # the whole answer, when the client asked for no stream
        samples = 0
        try:
            async with (
                contextlib.aclosing(request.audio()) as audio,
                contextlib.aclosing(_while_connected(http, _pcm(audio))) as pieces,
            ):
                async for pcm in pieces:
                    request.stats.audio_sent(pcm_seconds(len(pcm)))
                    samples += len(pcm) // SAMPLE_WIDTH
                    data = await self._encode(coder, pcm) if coder else pcm
                    if not body.stream:
                        held.append(data)
                        continue
                    if response is None:
                        response = await self._start(http, fmt)
                    await self._send(response, data)
            if samples == 0:
                # Nothing in the text could be spoken (emoji, control characters): say so,
                # rather than answer 200 with an empty body that no player can open.
                outcome, failure = "error", NOTHING_TO_SAY
                raise ApiError(400, NOTHING_TO_SAY, "input", "invalid_input")
            tail = await self._finish(coder) if coder else b""
            if not body.stream:
                whole = b"".join(held) + tail
                if coder is None:  # wav with its true length
                    whole = wav_header(len(whole)) + whole
                else:
                    whole = with_length(fmt, whole, samples)
                outcome = "ok"
                return web.Response(body=whole, content_type=CONTENT_TYPES[fmt])
            assert response is not None  # started with the first audio
            await self._send(response, tail)
            await response.write_eof()
            outcome = "ok"
            return response
        except ApiError:
            raise
        except KokoroError as err:
            outcome, failure = "error", str(err)
            if response is None:
                status = err.code.http_status
                raise ApiError(status, str(err), None, str(err.code)) from err
            return _cut_short(http, response)
        except asyncio.TimeoutError:  # before OSError: it is one from Python 3.11 on
            failure = f"client too slow: it took no audio for {self._write_timeout:g} s"
            return _cut_short(http, response or web.Response())
        except (ConnectionError, OSError) as err:
            # Routine (a player that stops, the page's Stop): the record says it; returning
            # keeps aiohttp from logging it as a server error.
            failure = f"client went away: {err or type(err).__name__}"
            return _cut_short(http, response or web.Response())
        except asyncio.CancelledError:
            failure = "server shutting down" if self._stopping else "cancelled"
            raise
        except Exception as err:  # G2P or inference failed
            _LOGGER.exception("Synthesis failed (voice %s)", request.voice.name)
            outcome, failure = "error", f"synthesis failed: {err}"
            if response is None:
                raise ApiError(500, failure, None, str(ErrorCode.SYNTHESIS_FAILED)) from err
            return _cut_short(http, response)
        finally:
            if coder is not None and hasattr(coder, "close"):
                coder.close()
            request.record(outcome, failure)

    async def _start(self, http: web.Request, fmt: str) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": CONTENT_TYPES[fmt]})
        response.enable_chunked_encoding()
        await response.prepare(http)
        return response

    async def _send(self, response: web.StreamResponse, data: bytes) -> None:
        if data:
            await asyncio.wait_for(response.write(data), self._write_timeout)

    async def _encode(self, coder: Any, pcm: bytes) -> bytes:
        loop = asyncio.get_running_loop()
        data: bytes = await loop.run_in_executor(self._encoders, coder.encode, pcm)
        return data

    async def _finish(self, coder: Any) -> bytes:
        loop = asyncio.get_running_loop()
        data: bytes = await loop.run_in_executor(self._encoders, coder.finish)
        return data


def _cut_short(http: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """The answer began and cannot end well, or its client is gone: the connection is
    dropped (mid-body: a client never takes half an answer for a whole one)."""
    if http.transport is not None:
        http.transport.abort()
    return response


async def _while_connected(
    http: web.Request, pieces: AsyncIterator[bytes]
) -> AsyncGenerator[bytes, None]:
    """``pieces`` while the client is there. It may leave before the first audio (a player
    that gives up, a page reloaded): ConnectionResetError then, at once, not when the next
    piece is made, so that the request is cancelled and its work leaves the engine."""
    gone = asyncio.ensure_future(_client_gone(http))
    following: asyncio.Future[bytes | None] | None = None
    try:
        while True:
            following = asyncio.ensure_future(anext(pieces, None))
            await asyncio.wait({following, gone}, return_when=asyncio.FIRST_COMPLETED)
            if gone.done():
                raise ConnectionResetError("the client closed the connection")
            piece = following.result()
            if piece is None:
                return
            yield piece
    finally:
        gone.cancel()
        if following is not None and not following.done():
            following.cancel()  # stops the request's audio where it waits, before it closes
            with contextlib.suppress(asyncio.CancelledError):
                await following


async def _client_gone(http: web.Request) -> None:
    """Returns when the client's connection is closed (aiohttp tells no handler of it)."""
    while http.transport is not None and not http.transport.is_closing():
        await asyncio.sleep(GONE_POLL_S)


async def _pcm(audio: AsyncIterator[SpeechAudio]) -> AsyncIterator[bytes]:
    async for piece in audio:
        pcm = float_to_pcm16(np.asarray(piece.samples))
        if pcm:
            yield pcm
