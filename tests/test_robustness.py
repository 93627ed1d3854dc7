"""Never falls over: bad input, limits, hang-ups, slow clients, shutdown and start-up faults.

Each bad-input case is followed by a fresh Describe and a correct synthesis on another
connection: the server and every other client must be unaffected.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from wyoming.event import Event, async_read_event
from wyoming.tts import Synthesize, SynthesizeVoice

from tests.server import RunningServer, describe, read_reply, start_server

pytestmark = pytest.mark.e2e

PARAGRAPH = (
    "Good evening. The living room lights are on, and the front door is locked. "
    "Tomorrow looks sunny with a light breeze from the west, so the windows can stay open. "
    "The washing machine has finished, and the dryer needs about an hour. "
)


def frame(event_type: str, data: object = None, payload: bytes = b"", **header: object) -> bytes:
    body = b"" if data is None else json.dumps(data).encode()
    head: dict[str, object] = {"type": event_type, **header}
    if body:
        head["data_length"] = len(body)
    if payload:
        head["payload_length"] = len(payload)
    return json.dumps(head).encode() + b"\n" + body + payload


async def exchange(
    server: RunningServer, data: bytes, then_describe: bool, half_close: bool = False
) -> list[Event]:
    """Send raw bytes; collect what comes back until the server closes or goes quiet."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    events: list[Event] = []

    async def send() -> None:
        # The server may hang up halfway through a flood: that is the point.
        with contextlib.suppress(ConnectionError):
            writer.write(data)
            await writer.drain()
            if then_describe:
                writer.write(frame("describe"))
                await writer.drain()
            if half_close:  # "that was everything I had"
                writer.write_eof()

    sender = asyncio.create_task(send())
    try:
        while True:
            event = await asyncio.wait_for(async_read_event(reader), 30)
            if event is None:
                break
            events.append(event)
            if event.type in ("audio-stop", "info", "error"):
                break
    except (ConnectionError, asyncio.TimeoutError):
        pass
    finally:
        sender.cancel()
        writer.close()
    return events


async def still_serving(server: RunningServer) -> None:
    info = await describe(server)
    assert len(info.tts[0].voices) == 54
    async with server.client() as client:
        await client.write_event(Synthesize(text="Still fine.").event())
        reply = await read_reply(client)
    assert reply.seconds > 0.3


MEGABYTE_TEXT = "word " * 200_000

# (name, bytes, expected): "error" = an error event (the connection may close), "audio" =
# spoken, "silent" = audio-start + audio-stop without audio, "ignored" = no answer but the
# connection goes on (a Describe on it is answered).
CASES: list[tuple[str, bytes, str]] = [
    ("invalid JSON header", b"{this is not json}\n", "error"),
    ("non-UTF-8 header", b"\xff\xfe\xfd\n", "error"),
    ("header without type", b'{"data": {"text": "hi"}}\n', "error"),
    ("huge data_length", b'{"type": "synthesize", "data_length": 8000000000}\n', "error"),
    (
        "huge payload_length and a flood",
        b'{"type": "synthesize", "payload_length": 9000000000}\n' + b"\0" * 3_000_000,
        "error",
    ),
    ("endless header line", b"x" * 300_000, "error"),
    ("data that is not an object", frame("synthesize", [1, 2, 3]), "error"),
    ("negative data_length", b'{"type": "describe", "data_length": -5}\n', "error"),
    (
        "payload on a synthesize",
        frame("synthesize", {"text": "A payload is ignored."}, payload=b"\x01" * 1000),
        "audio",
    ),
    ("unknown event type", frame("make-coffee", {"strength": 11}), "ignored"),
    ("text is a number", frame("synthesize", {"text": 42}), "error"),
    ("voice is a string", frame("synthesize", {"text": "Hello.", "voice": "af_heart"}), "error"),
    ("chunk before start", frame("synthesize-chunk", {"text": "orphan"}), "error"),
    ("stop without start", frame("synthesize-stop"), "error"),
    (
        "second start mid-stream",
        frame("synthesize-start") + frame("synthesize-start"),
        "error",
    ),
    ("empty text", frame("synthesize", {"text": ""}), "silent"),
    ("whitespace text", frame("synthesize", {"text": " \n\t  "}), "silent"),
    ("1 MB of text", frame("synthesize", {"text": MEGABYTE_TEXT}), "error"),
    ("control characters", frame("synthesize", {"text": "Hello\x00\x07 there\x1b."}), "audio"),
    ("emoji only", frame("synthesize", {"text": "😀🎉👍🏽"}), "silent"),
    (
        "unknown voice",
        frame("synthesize", {"text": "Hello.", "voice": {"name": "en_US-amy-medium"}}),
        "audio",
    ),
    (
        "unknown language",
        frame("synthesize", {"text": "Hello.", "voice": {"language": "tlh"}}),
        "audio",
    ),
    (
        "broken SSML",
        frame("synthesize", {"text": "<speak><p>Broken <s>markup <break time="}),
        "audio",
    ),
    # Sent, then the client shuts its sending side: the event can never be completed.
    ("truncated event", b'{"type": "synthesize", "data_length": 500}\n{"text"', "error-eof"),
]


@pytest.fixture(scope="module")
def robust_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = start_server(tmp_path_factory.mktemp("robust"))
    yield server
    server.stop()


@pytest.mark.parametrize(("name", "data", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_bad_input(
    robust_server: RunningServer, name: str, data: bytes, expected: str
) -> None:
    events = await exchange(
        robust_server, data, then_describe=expected == "ignored", half_close=expected == "error-eof"
    )
    types = [e.type for e in events]
    if expected.startswith("error"):
        assert "error" in types, f"{name}: {types}"
        assert "audio-chunk" not in types
    elif expected == "audio":
        assert types[0] == "audio-start" and types[-1] == "audio-stop", f"{name}: {types}"
        assert "audio-chunk" in types and "error" not in types
    elif expected == "silent":
        assert types == ["audio-start", "audio-stop"], f"{name}: {types}"
    else:
        assert types == ["info"], f"{name}: {types}"
    await still_serving(robust_server)
    assert robust_server.process.poll() is None


async def test_every_queued_request_gets_a_record_when_the_client_leaves(
    robust_server: RunningServer,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", robust_server.port)
    for voice in ("em_alex", "em_santa", "ef_dora"):
        writer.write(frame("synthesize", {"text": PARAGRAPH, "voice": {"name": voice}}))
    await writer.drain()
    started = await asyncio.wait_for(async_read_event(reader), 30)
    assert started is not None and started.type == "audio-start"
    writer.close()  # gone with two requests still queued behind the first
    for voice in ("em_alex", "em_santa", "ef_dora"):
        assert (await wait_record(robust_server, voice=voice))["outcome"] == "cancelled"


async def test_hang_up_mid_paragraph_cancels_the_rest(robust_server: RunningServer) -> None:
    text = PARAGRAPH * 3
    async with robust_server.client() as client:
        await client.write_event(Synthesize(text=text, voice=SynthesizeVoice("am_echo")).event())
        assert (await client.read_event()).type == "audio-start"
        assert (await client.read_event()).type == "audio-chunk"
    # The client is gone after the first audio. Its record says so, and most of the text
    # was never synthesized.
    record = await wait_record(robust_server, voice="am_echo")
    assert record["outcome"] == "cancelled"
    assert isinstance(record["segments"], int) and record["segments"] <= 3
    await still_serving(robust_server)


def wait_until_ready(server: RunningServer) -> None:
    for _ in range(1200):
        if "Ready after" in server.log():
            return
        time.sleep(0.05)
    raise AssertionError(f"the model never got ready:\n{server.log()}")


async def wait_record(server: RunningServer, **match: object) -> dict[str, object]:
    for _ in range(600):
        if server.stats_path.exists():
            for line in reversed(server.stats_path.read_text().splitlines()):
                record = json.loads(line)
                if all(record.get(k) == v for k, v in match.items()):
                    return record
        await asyncio.sleep(0.05)
    raise AssertionError(f"no stats record with {match}")


def test_slow_reader_is_dropped_and_others_are_served(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--write-timeout", "2")

    async def scenario() -> dict[str, object]:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", server.port))
        reader, writer = await asyncio.open_connection(sock=sock)
        text = PARAGRAPH * 8  # minutes of audio: far more than any buffer holds
        writer.write(frame("synthesize", {"text": text, "voice": {"name": "bm_daniel"}}))
        await writer.drain()
        # This client never reads. Another one is served meanwhile.
        await asyncio.sleep(1)
        await still_serving(server)
        record = await wait_record(server, voice="bm_daniel")
        writer.close()
        return record

    try:
        record = asyncio.run(scenario())
        assert record["outcome"] == "cancelled"
        assert "read nothing" in str(record["error"])
        assert server.process.poll() is None
    finally:
        server.stop()


def test_connection_limit_and_idle_timeout(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--max-connections", "2", "--idle-timeout", "3")
    wait_until_ready(server)  # the model load competes for the interpreter meanwhile

    async def scenario() -> None:
        first = await asyncio.open_connection("127.0.0.1", server.port)
        second = await asyncio.open_connection("127.0.0.1", server.port)
        await asyncio.sleep(0.2)
        third_reader, third_writer = await asyncio.open_connection("127.0.0.1", server.port)
        refused = await asyncio.wait_for(async_read_event(third_reader), 10)
        assert refused is not None and refused.type == "error" and refused.data["code"] == "busy"
        assert await asyncio.wait_for(async_read_event(third_reader), 10) is None  # closed
        third_writer.close()
        # Idle connections are closed by the server, which frees their places.
        assert await asyncio.wait_for(async_read_event(first[0]), 10) is None
        assert await asyncio.wait_for(async_read_event(second[0]), 10) is None
        for _, writer in (first, second):
            writer.close()
        await still_serving(server)
        # An open stream that gets no more text does not keep a connection alive.
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(frame("synthesize-start", {"voice": {"name": "pm_alex"}}))
        await writer.drain()
        started = await asyncio.wait_for(async_read_event(reader), 20)
        assert started is not None and started.type == "audio-start"
        assert await asyncio.wait_for(async_read_event(reader), 20) is None
        writer.close()
        assert (await wait_record(server, voice="pm_alex"))["outcome"] == "cancelled"
        # A client that starts an event and never finishes it is cut off too.
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b'{"type": "descr')
        await writer.drain()
        stalled = await asyncio.wait_for(async_read_event(reader), 20)
        assert stalled is not None and stalled.data["code"] == "timeout"
        assert await asyncio.wait_for(async_read_event(reader), 10) is None
        writer.close()

    try:
        asyncio.run(scenario())
    finally:
        server.stop()


def test_sigterm_lets_the_request_finish_flushes_stats_and_exits_0(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--shutdown-timeout", "60")

    async def scenario() -> list[str]:
        async with server.client() as client:
            await client.write_event(
                Synthesize(text=PARAGRAPH, voice=SynthesizeVoice("af_river")).event()
            )
            assert (await client.read_event()).type == "audio-start"
            server.process.send_signal(signal.SIGTERM)
            reply = await read_reply(client)
        return reply.types

    types = asyncio.run(scenario())
    assert types[-1] == "audio-stop" and "error" not in types  # finished, not cut off
    assert server.process.wait(60) == 0
    records = [json.loads(line) for line in server.stats_path.read_text().splitlines()]
    assert [r["outcome"] for r in records if r["voice"] == "af_river"] == ["ok"]
    with pytest.raises(OSError):  # no longer accepting
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()


@pytest.mark.parametrize("which", ["model", "voices"])
def test_truncated_asset_stops_start_up_naming_the_file_and_fix(
    tmp_path: Path, real_assets: tuple[Path, Path], which: str
) -> None:
    model, voices = real_assets
    broken = tmp_path / ("broken.onnx" if which == "model" else "broken-voices.bin")
    source = model if which == "model" else voices
    with source.open("rb") as handle:
        broken.write_bytes(handle.read(source.stat().st_size // 2))
    paths = {"model": model, "voices": voices, which: broken}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "wyoming_kokoro",
            "--uri",
            "tcp://127.0.0.1:0",
            "--no-download",
            "--model",
            str(paths["model"]),
            "--voices",
            str(paths["voices"]),
            "--stats-file",
            "none",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert str(broken) in result.stderr
    assert "delete it" in result.stderr and "wyoming_kokoro.assets" in result.stderr
