"""The real server and CLI on this machine's providers (CPU only in CI)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import onnxruntime as ort
import pytest
from wyoming.tts import Synthesize

from tests.server import read_reply, start_server
from wyoming_kokoro.assets import resolve_assets
from wyoming_kokoro.config import Settings

pytestmark = pytest.mark.e2e


@pytest.mark.skipif(
    "CUDAExecutionProvider" in ort.get_available_providers(), reason="this machine has CUDA"
)
def test_cuda_requested_without_cuda_names_the_fix_and_serves_on_cpu(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--provider", "cuda,cpu")

    async def talk() -> float:
        async with server.client() as client:
            await client.write_event(Synthesize(text="Served on the processor.").event())
            return (await read_reply(client)).seconds

    try:
        assert asyncio.run(talk()) > 0.5
        assert "onnxruntime-gpu" in server.log()
        for _ in range(100):
            if server.stats_path.exists() and server.stats_path.read_text().strip():
                break
            time.sleep(0.05)
        record = json.loads(server.stats_path.read_text().splitlines()[-1])
        assert record["provider"] == "CPUExecutionProvider"
        assert record["fallback"] is None
        assert record["providers"]["CPUExecutionProvider"]["segments"] == record["segments"]
    finally:
        server.stop()
    # The shutdown summary names each provider's work.
    assert "Provider utilization: CPUExecutionProvider: 1 requests" in server.log()


def test_benchmark_providers_prints_a_table_and_caches_it(tmp_path: Path) -> None:
    dl = tmp_path / "dl"
    dl.mkdir()
    paths = resolve_assets(Settings(download=False))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "wyoming_kokoro",
            "--benchmark-providers",
            "--provider",
            "cpu",
            "--model",
            str(paths.model),
            "--voices",
            str(paths.voices),
            "--download-dir",
            str(dl),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["provider", "start-up"]
    assert "RTF @30" in lines[0] and "RTF @400" in lines[0]
    row = lines[2].split()
    assert row[0] == "CPUExecutionProvider"
    assert all(float(cell) > 0 for cell in row[1:])
    cache = json.loads((dl / "benchmarks.json").read_text())
    [entry] = cache.values()
    assert entry["provider"] == "CPUExecutionProvider" and set(entry["rtf"]) == {"30", "150", "400"}
