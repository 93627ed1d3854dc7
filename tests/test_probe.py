"""python -m wyoming_kokoro.probe: the health check as a command (stub server)."""

from __future__ import annotations

import asyncio
import sys

import pytest

from tests.server import free_port
from tests.stub import stub_server
from wyoming_kokoro.probe import ProbeFailed, probe


async def run_probe(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wyoming_kokoro.probe", *args, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await process.communicate()
    return process.returncode or 0, stderr.decode()


async def test_a_server_is_healthy_and_a_closed_port_is_not() -> None:
    async with stub_server() as server:
        assert await run_probe(f"127.0.0.1:{server.port}") == (0, "")
        assert await run_probe(f"127.0.0.1:{server.port}", "--speak") == (0, "")
    code, stderr = await run_probe(f"127.0.0.1:{free_port()}", "--timeout", "2")
    assert code == 1 and "unhealthy" in stderr


async def test_speak_fails_until_the_model_has_loaded() -> None:
    async with stub_server(loaded=False) as server:
        await probe("127.0.0.1", server.port)  # describe is answered while loading
        with pytest.raises((ProbeFailed, asyncio.TimeoutError)):
            await probe("127.0.0.1", server.port, speak=True, timeout=1)
