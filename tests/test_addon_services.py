"""The add-on's s6 services (addon/rootfs), run for real with bash and a bashio stub.

``localize`` rewrites a script's container-only paths first: the venv's python becomes
this interpreter (or a fake that records its arguments), ``/data`` and
``/share/kokoro`` become temporary folders (the model and voices are linked into the
``/data`` one), and port 10200 becomes a free loopback port.
"""

from __future__ import annotations

import asyncio
import json
import re
import selectors
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from wyoming.tts import Synthesize, SynthesizeVoice

from tests.addon_support import (
    ADDON_PORT,
    DISCOVERY_SCRIPT,
    FINISH_SCRIPT,
    RUN_SCRIPT,
    VENV_PYTHON,
    addon_config,
    bash_with_stub,
    clean_env,
    healthcheck_command,
    list_choices,
    localize,
    write_bashio_stub,
)
from tests.server import RunningServer, describe, free_port, read_reply
from wyoming_kokoro.assets import resolve_assets
from wyoming_kokoro.config import Settings, load_settings


def localized_run_script(tmp: Path, port: int) -> Path:
    """The run script with this interpreter, temporary folders and a loopback port."""
    data, share, prefetched = tmp / "data", tmp / "share-kokoro", tmp / "usr-share-kokoro"
    data.mkdir()
    assets = resolve_assets(Settings(download=False))
    for asset in (assets.model, assets.voices):
        (data / asset.name).symlink_to(asset)
    return localize(
        RUN_SCRIPT,
        [
            (re.escape(VENV_PYTHON), sys.executable),
            (re.escape("tcp://0.0.0.0:" + ADDON_PORT), f"tcp://127.0.0.1:{port}"),
            (re.escape("0.0.0.0:8880"), f"127.0.0.1:{free_port()}"),
            (r"/usr/share/kokoro\b", str(prefetched)),
            (r"(?<=\s)/share/kokoro\b", str(share)),
            (r"(?<=\s)/data\b", str(data)),
            (r"-m wyoming_kokoro\b(?!\.)", "-m wyoming_kokoro --no-download"),
        ],
        tmp / "run",
    )


@pytest.fixture(scope="module")
def addon_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The kokoro service's run script, started with the add-on's default options."""
    tmp = tmp_path_factory.mktemp("addon")
    port = free_port()
    script = localized_run_script(tmp, port)
    stub = write_bashio_stub(tmp, addon_config()["options"])
    log_path = tmp / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            bash_with_stub(stub, script),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=clean_env(),
            cwd=tmp,
        )
    server = RunningServer(process, port, tmp / "data" / "stats.jsonl", log_path)
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"run script exited with {process.returncode}:\n{server.log()}")
            try:
                asyncio.run(describe(server))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"add-on server never answered:\n{server.log()}") from None
                time.sleep(0.3)
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------------------- the kokoro service


async def test_run_script_serves_every_voice(addon_server: RunningServer) -> None:
    info = await describe(addon_server)
    assert len(info.tts) == 1
    voices = [voice.name for voice in info.tts[0].voices]
    assert len(voices) == 54
    assert set(voices) == set(list_choices(addon_config()["schema"]["voice"]))


async def test_run_script_speaks_and_writes_stats(addon_server: RunningServer) -> None:
    async with addon_server.client() as client:
        text = "Hello from the Home Assistant add-on."
        await client.write_event(Synthesize(text=text, voice=SynthesizeVoice("af_heart")).event())
        reply = await read_reply(client)
    assert reply.types[0] == "audio-start"
    assert len(reply.audio) > 0
    # stats_file: true -> stats.jsonl in the download dir, /data (written after audio-stop)
    for _ in range(200):
        if addon_server.stats_path.is_file() and addon_server.stats_path.read_text().strip():
            break
        await asyncio.sleep(0.05)
    record = json.loads(addon_server.stats_path.read_text().splitlines()[-1])
    assert record["outcome"] == "ok"


def test_run_script_reads_every_option(addon_server: RunningServer) -> None:
    folder = addon_server.log_path.parent
    assert not (folder / "unknown-options").exists(), (folder / "unknown-options").read_text()
    reads = set((folder / "config-reads").read_text().split())
    assert reads == set(addon_config()["schema"])
    assert "[info] Starting the Kokoro server: voice af_heart" in addon_server.log()


def run_with_fake_python(tmp_path: Path, options: dict[str, Any]) -> tuple[list[str], str]:
    """The run script with a python that records its arguments and KOKORO_CUSTOM_VOICES."""
    record = tmp_path / "record.json"
    fake = tmp_path / "python"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"open({str(record)!r}, 'w').write(json.dumps(\n"
        "    [sys.argv[1:], os.environ.get('KOKORO_CUSTOM_VOICES')]))\n"
    )
    fake.chmod(0o755)
    script = localize(
        RUN_SCRIPT,
        [(re.escape(VENV_PYTHON), str(fake)), (r"mkdir -p /share/kokoro", "true")],
        tmp_path / "run",
    )
    stub = write_bashio_stub(tmp_path, options)
    result = subprocess.run(
        bash_with_stub(stub, script), capture_output=True, text=True, timeout=60, env=clean_env()
    )
    assert result.returncode == 0, result.stderr
    args, custom_voices = json.loads(record.read_text())
    assert args[:2] == ["-m", "wyoming_kokoro"]
    return args[2:], custom_voices


def flag_values(args: list[str], flag: str) -> list[str]:
    return [args[i + 1] for i, arg in enumerate(args) if arg == flag]


def test_run_script_turns_every_option_into_the_servers_setting(tmp_path: Path) -> None:
    options = {
        **addon_config()["options"],
        "voice": "bm_george",
        "custom_voice": "cozy",
        "speed": 1.25,
        "custom_voices": [
            {"name": "cozy", "voices": "af_heart:70+af_bella:30", "speed": 1.1},
            {"name": "duo", "voices": "am_adam+bm_george", "description": "Two men"},
        ],
        "provider": "openvino",
        "model_variant": "fp16",
        "stats_file": False,
        "debug_logging": True,
        "lexicon": "/share/kokoro/my-words.yaml",
        "volume": 1.5,
        "tail_silence": 0.5,
        "http_api_key": "k3y",
    }
    assert set(options) == set(addon_config()["schema"])  # every option, none at its default
    args, custom_voices = run_with_fake_python(tmp_path, options)
    assert flag_values(args, "--uri") == ["tcp://0.0.0.0:" + ADDON_PORT]
    assert flag_values(args, "--data-dir") == ["/data", "/share/kokoro", "/usr/share/kokoro"]
    assert flag_values(args, "--download-dir") == ["/data"]
    assert flag_values(args, "--http") == ["0.0.0.0:8880"]
    assert flag_values(args, "--voice") == ["cozy"]  # custom_voice wins over voice
    # the real server's parser reads them as the user meant
    settings = load_settings(args, environ={"KOKORO_CUSTOM_VOICES": custom_voices}).settings
    assert (settings.voice, settings.speed, settings.model_variant) == ("cozy", 1.25, "fp16")
    assert settings.provider == ["openvino"]
    assert settings.stats_path is None and settings.debug
    assert settings.lexicon == ["/share/kokoro/my-words.yaml"]
    assert (settings.volume, settings.tail_silence) == (1.5, 0.5)
    cozy, duo = settings.custom_voices["cozy"], settings.custom_voices["duo"]
    assert (cozy.weights, cozy.speed) == ({"af_heart": 70.0, "af_bella": 30.0}, 1.1)
    assert (duo.weights, duo.description) == ({"am_adam": 1.0, "bm_george": 1.0}, "Two men")


def test_run_script_defaults(tmp_path: Path) -> None:
    args, custom_voices = run_with_fake_python(tmp_path, addon_config()["options"])
    settings = load_settings(args, environ={"KOKORO_CUSTOM_VOICES": custom_voices}).settings
    assert (settings.voice, settings.speed, settings.model_variant) == ("af_heart", 1.0, "int8")
    assert settings.provider == ["auto"] and settings.custom_voices == {}
    assert settings.stats_path is not None and settings.stats_path.name == "stats.jsonl"
    assert not settings.debug
    assert (settings.volume, settings.tail_silence) == (1.0, 0.2)


def test_run_script_stops_on_an_unreadable_blend(tmp_path: Path) -> None:
    options = {**addon_config()["options"], "custom_voices": [{"name": "x", "voices": "a:b"}]}
    script = localize(RUN_SCRIPT, [(r"mkdir -p /share/kokoro", "true")], tmp_path / "run")
    stub = write_bashio_stub(tmp_path, options)
    result = subprocess.run(
        bash_with_stub(stub, script), capture_output=True, text=True, timeout=60, env=clean_env()
    )
    assert result.returncode == 1
    assert "[fatal] Option custom_voices cannot be read" in result.stderr


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"voice": "zz_missing"}, "voice: 'zz_missing' is not a known voice"),
        ({"custom_voice": "nobody"}, "voice: 'nobody' is not a known voice"),
        (
            {"custom_voices": [{"name": "bad", "voices": "af_heart+af_nobody"}]},
            "custom_voices: ",
        ),
        ({"speed": 7}, "speed"),
    ],
)
def test_an_invalid_option_stops_the_server_with_a_clear_line(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    script = localized_run_script(tmp_path, free_port())
    stub = write_bashio_stub(tmp_path, {**addon_config()["options"], **change})
    result = subprocess.run(
        bash_with_stub(stub, script), capture_output=True, text=True, timeout=120, env=clean_env()
    )
    assert result.returncode == 2, result.stderr  # the finish script halts on it
    assert message in result.stderr


def test_healthcheck_answers_only_with_a_server(addon_server: RunningServer) -> None:
    command = healthcheck_command()
    assert command[0] == VENV_PYTHON
    code = command[-1]
    assert "127.0.0.1" in code and ADDON_PORT in code

    def health(port: int) -> int:
        script = code.replace(ADDON_PORT, str(port))
        argv = [sys.executable, *command[1:-1], script]
        return subprocess.run(argv, capture_output=True, env=clean_env(), timeout=60).returncode

    assert health(addon_server.port) == 0
    assert health(free_port()) == 1


@pytest.mark.parametrize(
    ("exit_code", "signal", "halts"),
    [("0", "0", False), ("256", "15", False), ("1", "0", True), ("2", "0", True)],
)
def test_finish_halts_only_on_failure(
    tmp_path: Path, exit_code: str, signal: str, halts: bool
) -> None:
    results, halted = tmp_path / "exitcode", tmp_path / "halted"
    halt = tmp_path / "halt"
    halt.write_text(f"#!/bin/sh\ntouch {shlex.quote(str(halted))}\n")
    halt.chmod(0o755)
    script = localize(
        FINISH_SCRIPT,
        [
            (re.escape("/run/s6-linux-init-container-results/exitcode"), str(results)),
            (re.escape("/run/s6/basedir/bin/halt"), str(halt)),
        ],
        tmp_path / "finish",
    )
    stub = write_bashio_stub(tmp_path, addon_config()["options"])
    result = subprocess.run(
        bash_with_stub(stub, script, exit_code, signal), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert halted.exists() == halts
    if halts:
        assert results.read_text().strip() == exit_code


# --------------------------------------------------------------------------- the discovery service


def start_discovery(tmp_path: Path, port: int, server_up: str) -> subprocess.Popen[str]:
    """The discovery service, with an ``s6-svstat`` that reports the server as up or not."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    svstat = bin_dir / "s6-svstat"
    svstat.write_text(f'#!/bin/sh\n[ "$3" = /run/service/kokoro ] && echo {server_up}\n')
    svstat.chmod(0o755)
    stub = write_bashio_stub(tmp_path, addon_config()["options"])
    script = localize(
        DISCOVERY_SCRIPT,
        [(rf"\b{ADDON_PORT}\b", str(port)), (r"down_limit_s=\d+", "down_limit_s=2")],
        tmp_path / "run",
    )
    env = clean_env()
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    return subprocess.Popen(
        bash_with_stub(stub, script), stderr=subprocess.PIPE, text=True, env=env
    )


def wait_for_line(process: subprocess.Popen[str], marker: str, timeout: float = 60.0) -> str:
    """The service's log up to the line with ``marker`` (it keeps running after it)."""
    assert process.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stderr, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=0.5):
                continue
            line = process.stderr.readline()
            if not line:
                break
            lines.append(line)
            if marker in line:
                return "".join(lines)
    raise AssertionError(f"no {marker!r} from the service:\n{''.join(lines)}")


def stays_running(process: subprocess.Popen[str]) -> bool:
    """Does the service keep running (so that s6 does not start it, and announce, again)?"""
    try:
        process.wait(timeout=1.5)
    except subprocess.TimeoutExpired:
        return True
    return False


def logs_and_keeps_running(tmp_path: Path, port: int, server_up: str, marker: str) -> None:
    """The discovery service logs ``marker`` and then keeps running (until killed here)."""
    process = start_discovery(tmp_path, port, server_up)
    try:
        wait_for_line(process, marker)
        assert stays_running(process)
    finally:
        process.kill()
        process.wait()


def test_discovery_announces_the_server_once(addon_server: RunningServer, tmp_path: Path) -> None:
    logs_and_keeps_running(
        tmp_path, addon_server.port, "true", "[info] Successfully sent discovery"
    )
    (message,) = (tmp_path / "discovery").read_text().splitlines()
    kind, config = message.split(" ", 1)
    assert kind == "wyoming"
    hostname = subprocess.run(["hostname"], capture_output=True, text=True).stdout.strip()
    assert json.loads(config) == {"uri": f"tcp://{hostname}:{addon_server.port}"}


def test_discovery_gives_up_when_the_server_is_down(tmp_path: Path) -> None:
    marker = "[warning] The Kokoro server is not running; no discovery sent"
    logs_and_keeps_running(tmp_path, free_port(), "false", marker)
    assert not (tmp_path / "discovery").exists()


def test_discovery_waits_while_the_server_is_starting(tmp_path: Path) -> None:
    process = start_discovery(tmp_path, free_port(), "true")  # up, not yet listening
    try:
        assert stays_running(process)
        assert stays_running(process)  # past the 2 s it would wait for a server that is down
    finally:
        process.kill()
        process.wait()
    assert not (tmp_path / "discovery").exists()
