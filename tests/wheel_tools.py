"""The add-on's wheel (addon/wheels/): built from this checkout, compared by its contents.

``python -m tests.wheel_tools`` (what script/addon-wheel runs) builds the wheel from a
clean copy of the sources and puts it into addon/wheels/, replacing the one there only
when the contents differ (wheel bytes differ at every build: zip timestamps).

Contents are the wheel's files and each file's sha256, except two derived parts:
``RECORD`` (a list of the other files' hashes) and the long description in
``METADATA`` (the README, which only a package index shows); METADATA's headers
(version, dependencies, extras, entry points) are compared.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WHEELS = ROOT / "addon" / "wheels"
SOURCES = ("pyproject.toml", "README.md")
PACKAGE = "wyoming_kokoro"
REFRESH_HINT = "run script/addon-wheel and commit addon/wheels/"


def copy_sources(dest: Path) -> Path:
    """What the wheel is built from (never a stale build/ folder of the checkout)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in SOURCES:
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(
        ROOT / PACKAGE, dest / PACKAGE, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    return dest


def can_build_without_isolation() -> bool:
    """setuptools >= 68 (as pyproject requires) that can make wheels, here in this venv."""
    if importlib.util.find_spec("setuptools") is None:
        return False
    major, minor = (int(p) for p in importlib.metadata.version("setuptools").split(".")[:2])
    has_bdist_wheel = (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None
    return major >= 68 and has_bdist_wheel


def build_wheel(workdir: Path, timeout: float = 300.0) -> Path:
    """Build this checkout's wheel in ``workdir``; the path of the wheel."""
    source = copy_sources(workdir / "src")
    out = workdir / "dist"
    isolation = ["--no-build-isolation"] if can_build_without_isolation() else []
    argv = [sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-w", str(out)]
    result = subprocess.run(
        [*argv, str(source)], capture_output=True, text=True, timeout=timeout, cwd=workdir
    )
    if result.returncode != 0:
        raise RuntimeError(f"pip wheel failed:\n{result.stdout}\n{result.stderr}")
    (wheel,) = out.glob(f"{PACKAGE}-*.whl")
    return wheel


def wheel_contents(wheel: Path) -> dict[str, str]:
    """Each file of the wheel and the sha256 of what is compared of it."""
    contents: dict[str, str] = {}
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if name.endswith(".dist-info/RECORD"):
                continue
            body = archive.read(name)
            if name.endswith(".dist-info/METADATA"):
                body = body.split(b"\n\n", 1)[0]  # headers; the description is the README
            contents[name] = hashlib.sha256(body).hexdigest()
    return contents


def differences(committed: dict[str, str], built: dict[str, str]) -> list[str]:
    """What the committed wheel lacks, has in excess or has otherwise, one line each."""
    lines = [f"missing: {name}" for name in sorted(built.keys() - committed.keys())]
    lines += [f"not in the source: {name}" for name in sorted(committed.keys() - built.keys())]
    lines += [
        f"differs: {name}"
        for name in sorted(built.keys() & committed.keys())
        if built[name] != committed[name]
    ]
    return lines


def committed_wheels() -> list[Path]:
    return sorted(WHEELS.glob(f"{PACKAGE}-*.whl"))


def refresh() -> int:
    """Put this checkout's wheel into addon/wheels/ unless an equal one is there."""
    with tempfile.TemporaryDirectory(prefix="addon-wheel-") as tmp:
        print("Building the wheel from a copy of the sources …", flush=True)
        built = build_wheel(Path(tmp))
        current = committed_wheels()
        if [w.name for w in current] == [built.name] and not differences(
            wheel_contents(current[0]), wheel_contents(built)
        ):
            print(f"addon/wheels/{built.name} is up to date")
            return 0
        for old in current:
            old.unlink()
        shutil.copy2(built, WHEELS / built.name)
    print(f"addon/wheels/{built.name} written; commit it (git add addon/wheels)")
    return 0


if __name__ == "__main__":
    sys.exit(refresh())
