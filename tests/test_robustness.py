"""Never falls over: bad input (in-process, stub model), and in the real server as a
subprocess: SIGTERM, broken assets and start-up faults.

Each bad-input case is followed by a fresh Describe and a correct synthesis on another
connection: the server and every other client must be unaffected. Limits, hang-ups, slow
clients and shutdown during inference are in test_bounds.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from wyoming.event import Event, async_read_event
from wyoming.info import Describe
from wyoming.tts import Synthesize, SynthesizeVoice

from tests.server import read_reply, start_server
from tests.stub import StubServer, audio_bytes, stub_server

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
    port: int, data: bytes, then_describe: bool, half_close: bool = False
) -> list[Event]:
    """Send raw bytes; collect what comes back until the server closes or goes quiet."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
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
            event = await asyncio.wait_for(async_read_event(reader), 10)
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


async def still_serving(server: StubServer) -> None:
    client = await server.connect()
    await client.send(Describe().event())
    info = await client.read()
    assert info is not None and info.type == "info"
    await client.send(Synthesize(text="Still fine.").event())
    assert audio_bytes(await client.read_until("audio-stop")) > 0
    client.close()


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


@pytest.mark.parametrize(("name", "data", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_bad_input(name: str, data: bytes, expected: str) -> None:
    async with stub_server() as server:
        events = await exchange(
            server.port,
            data,
            then_describe=expected == "ignored",
            half_close=expected == "error-eof",
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
        await still_serving(server)


@pytest.mark.e2e
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
    assert "Traceback" not in server.log() and "Event loop is closed" not in server.log()


@pytest.mark.e2e
def test_sigterm_during_an_inference_that_cannot_finish_exits_quietly(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--shutdown-timeout", "0")

    async def scenario() -> None:
        async with server.client() as client:
            text = PARAGRAPH * 3
            await client.write_event(
                Synthesize(text=text, voice=SynthesizeVoice("am_echo")).event()
            )
            assert (await client.read_event()).type == "audio-start"
            assert (await client.read_event()).type == "audio-chunk"  # inference goes on
            server.process.send_signal(signal.SIGTERM)
            while (await asyncio.wait_for(client.read_event(), 60)) is not None:
                pass  # the connection closes: no time was given to finish

    asyncio.run(scenario())
    assert server.process.wait(60) == 0
    assert "Traceback" not in server.log() and "Event loop is closed" not in server.log()
    records = [json.loads(line) for line in server.stats_path.read_text().splitlines()]
    assert [r["outcome"] for r in records if r["voice"] == "am_echo"] == ["cancelled"]


@pytest.mark.e2e
def test_start_up_errors_name_the_step_that_failed(
    tmp_path: Path, real_assets: tuple[Path, Path]
) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    common = ["--voices", str(real_assets[1]), "--stats-file", "none"]
    # The model cannot be downloaded into a "folder" that is a file: not a listening fault.
    result = run_cli(
        "--uri", "tcp://127.0.0.1:0", "--download-dir", str(not_a_folder),
        "--model-variant", "fp32", "--download-url", "http://127.0.0.1:9/none", *common,
    )  # fmt: skip
    assert result.returncode == 1
    assert "Cannot load the model" in result.stderr and "Cannot listen" not in result.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("--uri", f"tcp://127.0.0.1:{port}", *common)
    assert result.returncode == 1 and f"Cannot listen on tcp://127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wyoming_kokoro", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.e2e
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
