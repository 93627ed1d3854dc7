"""Admission: an event and what the server knows in, a request to make or a refusal out.

Pure (no socket, no clock, no engine): every reason a request can be refused is decided
here, from the event's own data, so it can be tested event by event.

The event's data is read directly rather than through the ``wyoming`` library's
dataclasses: those drop a voice's ``language`` when a ``name`` is present, and fail on
``"voice": null``, which means the same as no voice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from wyoming.event import Event

from ..config import WireSettings
from ..engine.voices import UnknownVoiceError, VoiceCatalogue
from ..errors import MAX_CLIENT_TEXT, ErrorCode, KokoroError, safe_text
from ..speech import VoiceChoice, choose_voice

_LOGGER = logging.getLogger(__name__)

MAX_QUEUED_REQUESTS = 8  # requests accepted and not yet answered, per connection


@dataclass(frozen=True)
class ServerState:
    """What admission needs to know of the server and of the connection."""

    catalogue: VoiceCatalogue
    default_voice: str
    settings: WireSettings  # the default speed and the text limits
    queued: int = 0  # requests accepted and not yet answered on this connection


@dataclass(frozen=True)
class Admitted:
    """A request to make: its voice, speed, text format and (one-shot) text."""

    mode: str  # "oneshot" or "stream"
    voice: VoiceChoice
    speed: float
    ssml: bool
    text: str | None  # a one-shot's whole text; None for a stream


@dataclass(frozen=True)
class Refused:
    """A request refused at once; ``voice`` is what the client asked for, made safe."""

    mode: str
    error: KokoroError
    voice: str


def admit(mode: str, event: Event, state: ServerState) -> Admitted | Refused:
    """Decide on a ``synthesize`` (mode "oneshot") or ``synthesize-start`` ("stream")."""
    data = event.data if isinstance(event.data, dict) else {}
    voice = data.get("voice")
    asked = voice.get("name") if isinstance(voice, dict) else None
    label = safe_text(asked) if isinstance(asked, str) else ""
    try:
        return _admit(mode, data, state)
    except KokoroError as err:
        return Refused(mode, err, label)
    except UnknownVoiceError as err:
        return Refused(mode, KokoroError(str(err), ErrorCode.UNKNOWN_VOICE), label)
    except Exception:  # a bug of ours, not the client's mistake
        _LOGGER.exception("Admitting a %s request failed (voice %s)", mode, label)
        error = KokoroError(f"internal error admitting the {event.type}", ErrorCode.INTERNAL)
        return Refused(mode, error, label)


def _admit(mode: str, data: dict[str, Any], state: ServerState) -> Admitted:
    name, language = _voice_fields(data.get("voice"))
    text = data.get("text")
    if mode == "oneshot" and not isinstance(text, str):
        raise KokoroError("synthesize needs a text (a string)", ErrorCode.BAD_EVENT)
    if state.queued >= MAX_QUEUED_REQUESTS:
        raise KokoroError(
            f"{state.queued} requests already queued on this connection", ErrorCode.BUSY
        )
    if isinstance(text, str) and mode == "oneshot" and len(text) > state.settings.max_text_chars:
        raise KokoroError(
            f"text has {len(text)} characters; the limit is {state.settings.max_text_chars}",
            ErrorCode.TEXT_TOO_LONG,
        )
    text_format = data.get("text_format")
    if text_format is not None and not isinstance(text_format, str):
        raise KokoroError("text_format must be a string", ErrorCode.BAD_EVENT)
    choice = choose_voice(state.catalogue, state.default_voice, name, language)
    ssml = (text_format or "").lower() == "ssml"
    return Admitted(
        mode,
        choice,
        choice.speed or state.settings.speed,
        ssml,
        text if mode == "oneshot" else None,
    )


def _voice_fields(voice: object) -> tuple[str | None, str | None]:
    """The voice's name and language; null and absent are the same."""
    if voice is None:
        return None, None
    if not isinstance(voice, dict):
        raise KokoroError(
            'voice must be an object such as {"name": "af_heart"}', ErrorCode.BAD_EVENT
        )
    for key in ("name", "language", "speaker"):
        if voice.get(key) is not None and not isinstance(voice[key], str):
            raise KokoroError(f"voice {key} must be a string", ErrorCode.BAD_EVENT)
    name, language = voice.get("name") or None, voice.get("language") or None
    if name is not None and len(name) > MAX_CLIENT_TEXT:
        _LOGGER.info("Voice name of %d characters: none of ours", len(name))
        name = None  # no voice or blend is that long: the language's default speaks
    if language is not None and len(language) > MAX_CLIENT_TEXT:
        language = None  # no locale is that long either
    return name, language


def stream_text(event: Event, chars_so_far: int, limits: WireSettings) -> str | KokoroError:
    """A ``synthesize-chunk``'s text, or why it fails its stream."""
    text = event.data.get("text") if isinstance(event.data, dict) else None
    if not isinstance(text, str):
        return KokoroError("malformed synthesize-chunk: text must be a string", ErrorCode.BAD_EVENT)
    if chars_so_far + len(text) > limits.max_stream_chars:
        limit = limits.max_stream_chars
        return KokoroError(
            f"stream text is over the limit of {limit} characters", ErrorCode.TEXT_TOO_LONG
        )
    return text
