"""Shared fixtures: the real model and voices (made by script/setup) and a loopback HTTP server."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server import RunningServer, start_server
from wyoming_kokoro.assets import resolve_assets
from wyoming_kokoro.config import Settings


@pytest.fixture(scope="session")
def real_assets() -> tuple[Path, Path]:
    """The int8 model and the voices file, resolved exactly as the server does (no download)."""
    paths = resolve_assets(Settings(download=False))
    return paths.model, paths.voices


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``files``: name -> bytes; ``lies`` names files whose transfer breaks halfway."""

    files: dict[str, bytes] = {}
    broken: set[str] = set()
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        name = self.path.rsplit("/", 1)[-1]
        self.requests.append(name)
        body = self.files.get(name)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if name in self.broken:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(2)  # the peer hangs up mid-transfer
            return
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class FileServer:
    def __init__(self) -> None:
        handler: type[_Handler] = type(
            "Handler", (_Handler,), {"files": {}, "broken": set(), "requests": []}
        )
        self.handler = handler
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/release"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def serve(self, name: str, body: bytes, broken: bool = False) -> None:
        self.handler.files[name] = body
        if broken:
            self.handler.broken.add(name)

    @property
    def requests(self) -> list[str]:
        return self.handler.requests

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    server = FileServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One real server (real model, 54 voices) shared by the end-to-end tests."""
    running = start_server(tmp_path_factory.mktemp("server"))
    yield running
    running.stop()
