"""What interrupted downloads leave is cleaned up, and script/run hands setup its ARGS."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import FileServer
from wyoming_kokoro.assets import AssetError, AssetSpec, download, resolve_model
from wyoming_kokoro.config import Settings

ROOT = Path(__file__).resolve().parent.parent


def stale_part(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f".{name}.k3j9x.part"
    part.write_bytes(b"\0" * 1000)
    old = time.time() - 3600
    os.utime(part, (old, old))
    return part


def test_stale_parts_go_at_start_and_before_a_new_download(
    tmp_path: Path, file_server: FileServer
) -> None:
    model = stale_part(tmp_path, "kokoro-v1.0.int8.onnx")
    fresh = tmp_path / ".voices-v1.0.bin.a1b2c.part"  # a download running right now
    fresh.write_bytes(b"\0")
    with pytest.raises(AssetError):
        resolve_model(Settings(download_dir=str(tmp_path), model=str(tmp_path / "none.onnx")))
    assert not model.exists() and fresh.exists()

    dest = tmp_path / "dl" / "file.bin"
    left = stale_part(dest.parent, "file.bin")
    file_server.serve("file.bin", b"x" * 1000)
    download(f"{file_server.url}/file.bin", dest, AssetSpec("file.bin"))
    assert not left.exists() and dest.read_bytes() == b"x" * 1000


def test_the_addon_backup_leaves_out_unfinished_downloads() -> None:
    excluded = yaml.safe_load((ROOT / "addon" / "config.yaml").read_text())["backup_exclude"]
    assert ".*.part" in excluded and "*.part" in excluded


def fake_checkout(tmp_path: Path) -> Path:
    """script/run beside a script/setup and a .venv python that only note their ARGS."""
    checkout = tmp_path / "checkout"
    (checkout / "script").mkdir(parents=True)
    (checkout / ".venv" / "bin").mkdir(parents=True)
    shutil.copy(ROOT / "script" / "run", checkout / "script" / "run")
    for path, log in (
        (checkout / "script" / "setup", "setup"),
        (checkout / ".venv/bin/python", "server"),
    ):
        path.write_text(f'#!/usr/bin/env bash\nprintf "%s\\n" "$@" > "$ARGS_DIR/{log}.args"\n')
        path.chmod(0o755)
    return checkout


def test_script_run_gives_setup_the_asset_args(tmp_path: Path) -> None:
    checkout = fake_checkout(tmp_path)
    argv = [
        "--no-download",
        "--data-dir",
        "/models",
        "--voice",
        "bm_george",
        "--model-variant=fp16",
        "--download-dir",
        "/dl",
        "--volume",
        "-3dB",
    ]
    env = {**os.environ, "ARGS_DIR": str(checkout)}
    subprocess.run([str(checkout / "script" / "run"), *argv], check=True, timeout=30, env=env)
    setup = (checkout / "setup.args").read_text().splitlines()
    server = (checkout / "server.args").read_text().splitlines()
    assert setup == [
        "--no-download",
        "--data-dir",
        "/models",
        "--model-variant=fp16",
        "--download-dir",
        "/dl",
    ]
    assert server == ["-m", "wyoming_kokoro", *argv]
