"""Start the real server as a subprocess and talk to it with the wyoming client library."""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.info import Describe, Info

from wyoming_kokoro.config import default_download_dir


def stats_records(path: Path) -> list[dict[str, object]]:
    """The records in a stats file that its writer thread may be appending to right now:
    complete lines only (a reader can see the start of a line before its end)."""
    if not path.exists():
        return []
    lines = path.read_text().split("\n")[:-1]  # the piece after the last newline is not done
    return [json.loads(line) for line in lines if line.strip()]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    process: subprocess.Popen[bytes]
    port: int
    stats_path: Path
    log_path: Path

    def client(self) -> AsyncTcpClient:
        return AsyncTcpClient("127.0.0.1", self.port)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


_written: list[Path] = []  # the test run's download dir, made on first use


def run_download_dir() -> Path:
    """Where the servers of one test run write (the optimized models they build and
    cache): a temporary folder shared by the run, so that a test never writes the user's
    download dir and a cache written by other code is never read."""
    if not _written:
        folder = Path(tempfile.mkdtemp(prefix="wyoming-kokoro-tests-"))
        atexit.register(shutil.rmtree, folder, True)
        _written.append(folder)
    return _written[0]


def spawn_server(tmp: Path, *args: str, env: dict[str, str] | None = None) -> RunningServer:
    """Start ``python -m wyoming_kokoro`` on a free loopback port (without waiting). Unless
    the test names its own folders or model, the server reads the model and voices from
    the default download dir (where script/setup puts them) and writes to the test run's
    own (:func:`run_download_dir`)."""
    port = free_port()
    stats_path = tmp / "stats.jsonl"
    log_path = tmp / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOKORO_")} | (env or {})
    folders: list[str] = []
    if not {"--data-dir", "--download-dir", "--model"} & set(args) and not {
        "KOKORO_DATA_DIR",
        "KOKORO_DOWNLOAD_DIR",
        "KOKORO_MODEL",
    } & set(env):
        installed = str(Path(default_download_dir()).expanduser())
        folders = ["--data-dir", installed, "--download-dir", str(run_download_dir())]
    command = [
        sys.executable,
        "-m",
        "wyoming_kokoro",
        "--uri",
        f"tcp://127.0.0.1:{port}",
        "--stats-file",
        str(stats_path),
        "--no-download",
        *folders,
        *args,
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    server = RunningServer(process, port, stats_path, log_path)
    return server


def start_server(
    tmp: Path, *args: str, timeout: float = 120.0, env: dict[str, str] | None = None
) -> RunningServer:
    """Start the server and wait until it answers Describe."""
    server = spawn_server(tmp, *args, env=env)
    process = server.process
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}:\n{server.log()}")
            try:
                asyncio.run(describe(server))
                return server
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"server did not answer within {timeout}s:\n{server.log()}")
    except BaseException:
        server.stop()  # never leave a server behind
        raise


async def describe(server: RunningServer) -> Info:
    async with server.client() as client:
        await client.write_event(Describe().event())
        event = await client.read_event()
        assert event is not None
        return Info.from_event(event)


@dataclass
class Reply:
    """Everything a server sent for one request."""

    events: list[Event] = field(default_factory=list)

    @property
    def types(self) -> list[str]:
        return [e.type for e in self.events]

    @property
    def audio(self) -> bytes:
        return b"".join(e.payload or b"" for e in self.events if e.type == "audio-chunk")

    @property
    def seconds(self) -> float:
        return len(self.audio) / (24000 * 2)


async def read_reply(client: AsyncTcpClient, last: str = "audio-stop") -> Reply:
    reply = Reply()
    while True:
        event = await asyncio.wait_for(client.read_event(), timeout=300)
        assert event is not None, f"connection closed after {reply.types}"
        reply.events.append(event)
        if event.type == last:
            return reply
