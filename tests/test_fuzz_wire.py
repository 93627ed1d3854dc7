"""A fuzz test of the wire path (in-process, stub model): whatever a client sends, every
request ends on the wire, Describe keeps answering, each request gets one stats record
and no task of the server dies.

Events of random types carry random JSON (any unicode, lone surrogates included, huge
and non-finite numbers, deep nesting) and reach the server in arbitrary pieces. A frame
the server cannot read on (data nested deeper than JSON can be parsed) ends the
connection with an ``error``; the requests opened before it are still each recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.stub import stub_server

ANY_CHAR = st.characters(exclude_categories=())  # surrogates and control characters too
TEXT = st.text(ANY_CHAR, max_size=30)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | TEXT
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
KNOWN_TYPES = ("synthesize", "synthesize-start", "synthesize-chunk", "synthesize-stop", "describe")
EVENT_TYPE = (
    st.sampled_from(KNOWN_TYPES)
    | st.sampled_from(("audio-chunk", "info"))
    | st.text(ANY_CHAR, min_size=1, max_size=20)  # an empty type is a broken frame
)
VOICE_NAME = (
    st.sampled_from(
        ["af_heart", "am_adam", "af_heart:nan+am_adam:1", "af_heart+\ud800", "fr_FR-x", ""]
    )
    | TEXT
)
VOICE = (
    st.none()
    | JSON
    | st.fixed_dictionaries(
        {},
        optional={"name": VOICE_NAME | JSON, "language": st.sampled_from(["fr_FR", "en"]) | JSON},
    )
)
DATA = st.fixed_dictionaries(
    {},
    optional={"text": TEXT | JSON, "voice": VOICE, "text_format": st.just("ssml") | JSON},
) | st.dictionaries(TEXT, JSON, max_size=3)


@dataclass
class Frame:
    type: str
    data: dict[str, Any]
    deep: bool = False  # nested beyond what the server can parse: ends the connection

    def encode(self) -> bytes:
        body = json.dumps(self.data).encode()  # ensure_ascii: lone surrogates as \\udXXX
        if self.deep:
            body = b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        header: dict[str, Any] = {"type": self.type, "data_length": len(body)}
        return json.dumps(header).encode() + b"\n" + body


FRAMES = st.builds(Frame, EVENT_TYPE, DATA)


@dataclass
class Expected:
    requests: int = 0  # requests the server opens (each ends with audio-stop)
    describes: int = 0
    stream_open: bool = False
    closes: bool = False  # a frame the server cannot read: the connection ends

    @classmethod
    def of(cls, frames: list[Frame]) -> Expected:
        seen = cls()
        for frame in frames:
            if frame.deep:
                seen.closes = True
                break
            if frame.type == "describe":
                seen.describes += 1
            elif frame.type == "synthesize" and not seen.stream_open:
                seen.requests += 1
            elif frame.type == "synthesize-start" and not seen.stream_open:
                seen.requests, seen.stream_open = seen.requests + 1, True
            elif frame.type == "synthesize-stop":
                seen.stream_open = False
        return seen


@dataclass
class Answers:
    types: list[str] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return self.types.count(kind)


async def exchange(frames: list[Frame], cuts: list[int]) -> None:
    async with stub_server() as server:
        expected = Expected.of(frames)
        data = b"".join(frame.encode() for frame in frames)
        pieces = [
            data[a:b] for a, b in zip([0, *sorted(cuts)], [*sorted(cuts), len(data)], strict=True)
        ]
        client = await server.connect()
        for piece in pieces:
            with contextlib.suppress(ConnectionError):
                client.writer.write(piece)
                await client.writer.drain()
            await asyncio.sleep(0)
        answers = Answers()
        with contextlib.suppress(ConnectionError, asyncio.TimeoutError):
            while not expected.closes and (
                answers.count("audio-stop") < expected.requests
                or answers.count("info") < expected.describes
            ):
                event = await client.read(5.0)
                if event is None:
                    break
                answers.types.append(event.type)
            if expected.closes:
                while (event := await client.read(5.0)) is not None:
                    answers.types.append(event.type)
        client.close()

        assert answers.count("audio-stop") == expected.requests, answers.types
        if not expected.closes:
            assert answers.count("info") == expected.describes, answers.types
        else:  # the broken frame is named before the connection closes
            assert "error" in answers.types, answers.types
        # Every audio-start is followed by its audio-stop before the next one begins.
        control = [t for t in answers.types if t in ("audio-start", "audio-stop")]
        assert control == ["audio-start", "audio-stop"] * (len(control) // 2), answers.types
        assert answers.count("audio-start") == answers.count("audio-stop")
        # One record per request, however it ended (written just after the answer).
        for _ in range(300):
            if len(server.stats.records) >= expected.requests:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        assert len(server.stats.records) == expected.requests, server.stats.records
        assert len({r.request_id for r in server.stats.records}) == expected.requests
        # Describe still answers, on a new connection.
        fresh = await server.connect()
        fresh.writer.write(b'{"type": "describe"}\n')
        reply = await fresh.read(5.0)
        assert reply is not None and reply.type == "info"
    # stub_server checks on the way out that no connection task died of a bug.


@st.composite
def sessions(draw: st.DrawFn) -> tuple[list[Frame], list[int]]:
    frames = draw(st.lists(FRAMES, max_size=12))
    frames.append(Frame("synthesize-stop", {}))  # a stream still open ends here
    frames.append(Frame("describe", {}))
    if draw(st.booleans()) and draw(st.booleans()):
        frames.insert(draw(st.integers(0, len(frames))), Frame("describe", {}, deep=True))
    size = sum(len(frame.encode()) for frame in frames)
    cuts = draw(st.lists(st.integers(0, size), max_size=8))
    return frames, cuts


@settings(
    max_examples=150,  # about 15 s here
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(sessions())
def test_the_wire_path_survives_any_session(session: tuple[list[Frame], list[int]]) -> None:
    frames, cuts = session
    asyncio.run(exchange(frames, cuts))
