"""deploy/haproxy.cfg: HAProxy's own checker accepts it, for one replica and for several."""

from __future__ import annotations

import asyncio
import csv
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.server import free_port
from tests.stub import stub_server

CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "haproxy.cfg"
HAPROXY = shutil.which("haproxy") or (
    "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").is_file() else None
)
needs_haproxy = pytest.mark.skipif(
    HAPROXY is None, reason="haproxy is not installed (apt-get install haproxy)"
)


def check(replicas: dict[str, str]) -> subprocess.CompletedProcess[str]:
    assert HAPROXY is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOKORO_")} | replicas
    return subprocess.run(
        [HAPROXY, "-c", "-f", str(CONFIG)], env=env, capture_output=True, text=True, timeout=30
    )


@needs_haproxy
@pytest.mark.parametrize("count", [1, 3, 8])
def test_haproxy_accepts_the_recipe(count: int) -> None:
    replicas = {f"KOKORO_REPLICA{i}": f"10.0.0.{10 + i}:10200" for i in range(1, count + 1)}
    result = check(replicas)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr


@needs_haproxy
def test_the_first_replica_is_required() -> None:
    result = check({})
    assert result.returncode != 0 and "server" in result.stdout + result.stderr


@needs_haproxy
async def test_the_health_check_passes_against_a_server_and_fails_against_a_stranger() -> None:
    """HAProxy's describe check, live: a Wyoming server is UP (layer 7 OK), a listener
    that answers something other than info is DOWN."""
    assert HAPROXY is not None
    stranger = await asyncio.start_server(_wrong_answer, "127.0.0.1", 0)
    stats_port = free_port()
    async with stub_server() as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KOKORO_")} | {
            "KOKORO_REPLICA1": f"127.0.0.1:{server.port}",
            "KOKORO_REPLICA2": f"127.0.0.1:{stranger.sockets[0].getsockname()[1]}",
            "KOKORO_BIND": f"127.0.0.1:{free_port()}",
            "KOKORO_STATS_BIND": f"127.0.0.1:{stats_port}",
        }
        process = await asyncio.create_subprocess_exec(
            HAPROXY, "-f", str(CONFIG), env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            states: dict[str, tuple[str, str]] = {}
            for _ in range(100):
                await asyncio.sleep(0.2)
                states = await asyncio.to_thread(_server_states, stats_port)
                if states.get("replica1", ("",))[0] == "UP" and states.get("replica2", ("",))[
                    0
                ].startswith("DOWN"):
                    break
            assert states["replica1"] == ("UP", "L7OK"), states
            assert states["replica2"][0] == "DOWN", states
        finally:
            process.terminate()
            await process.wait()
    stranger.close()


async def _wrong_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readline()
    writer.write(b'{"type": "error", "data": {"text": "not wyoming-kokoro"}}\n')
    await writer.drain()
    writer.close()


def _server_states(stats_port: int) -> dict[str, tuple[str, str]]:
    """Each server's (status, last check) from HAProxy's CSV stats."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{stats_port}/stats;csv", timeout=2) as r:
            rows = list(csv.DictReader(r.read().decode().lstrip("# ").splitlines()))
    except OSError:
        return {}
    return {row["svname"]: (row["status"], row["check_status"]) for row in rows}
