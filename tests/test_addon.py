"""The Home Assistant add-on in addon/: its files agree with each other and with the server,
and the wheel it installs is this source's (its services are tested in test_addon_services.py).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests import wheel_tools
from tests.addon_support import (
    ADDON,
    DISCOVERY_SCRIPT,
    FINISH_SCRIPT,
    ROOT,
    ROOTFS,
    RUN_SCRIPT,
    SERVICES,
    addon_config,
    clean_env,
    list_choices,
    load_yaml,
)
from wyoming_kokoro.assets import resolve_voices
from wyoming_kokoro.config import MODEL_VARIANTS, Settings
from wyoming_kokoro.engine.voices import VoiceCatalogue

WHEEL_TEST_BUDGET_S = 60.0
# The add-on installs the wheel committed in addon/wheels/ (False: from PyPI; see
# addon/wheels/README.md for the switch).
WHEEL_COMMITTED = True


def pyproject_version() -> str:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    project = text.split("[project]", 1)[1].split("\n[", 1)[0]
    match = re.search(r'^version\s*=\s*"([^"]+)"', project, re.MULTILINE)
    assert match, "no version in pyproject.toml's [project] table"
    return match.group(1)


# --------------------------------------------------------------------------- consistency


def test_options_schema_and_translations_agree() -> None:
    config = addon_config()
    options, schema = config["options"], config["schema"]
    translations = load_yaml(ADDON / "translations" / "en.yaml")
    described = translations["configuration"]
    assert set(schema) == set(described)
    # every option without a default is optional (``?``) in the schema
    assert set(options) <= set(schema)
    for key in set(schema) - set(options):
        assert str(schema[key]).endswith("?"), f"{key} has no default and is not optional"
    for key, entry in described.items():
        assert entry.get("name") and entry.get("description"), f"translation of {key}"
    assert set(translations["network"]) == set(config["ports"]) == set(config["ports_description"])

    # every default is valid under its own schema
    assert options["voice"] in list_choices(schema["voice"])
    assert options["provider"] in list_choices(schema["provider"])
    assert list_choices(schema["provider"]) == ["auto", "cpu", "cuda", "openvino"]
    assert options["model_variant"] in list_choices(schema["model_variant"])
    assert tuple(list_choices(schema["model_variant"])) == MODEL_VARIANTS
    match = re.fullmatch(r"float\(([\d.]+),([\d.]+)\)", schema["speed"])
    assert match and float(match.group(1)) <= options["speed"] <= float(match.group(2))
    for key in ("stats_file", "debug_logging"):
        assert schema[key] == "bool" and isinstance(options[key], bool)
    assert schema["custom_voice"] == "str?"  # free text: a blend's name fits
    (blend,) = schema["custom_voices"]
    assert set(blend) == {"name", "voices", "speed", "description"}
    assert options["custom_voices"] == []


def test_custom_voices_schema_takes_the_blend_syntax() -> None:
    (blend,) = addon_config()["schema"]["custom_voices"]
    match = re.fullmatch(r"match\((.+)\)", blend["voices"])
    assert match
    pattern = match.group(1)
    for good in ("af_heart", "af_heart:70+af_bella:30", "am_adam+bm_george:0.5"):
        assert re.match(pattern, good), good
    for bad in ("", "af heart", "af_heart+", "af_heart:x", "af_heart;rm -rf /"):
        assert not re.match(pattern, bad), bad


def test_schema_voices_are_the_catalogue() -> None:
    path, _ = resolve_voices(Settings(download=False))
    catalogue = {voice.name for voice in VoiceCatalogue.from_file(path).voices}
    voices = list_choices(addon_config()["schema"]["voice"])
    assert len(voices) == len(set(voices)) == 54
    assert sorted(set(voices) - catalogue) == [], "in the schema, not in the catalogue"
    assert sorted(catalogue - set(voices)) == [], "in the catalogue, not in the schema"


def test_versions_agree() -> None:
    version = importlib.metadata.version("wyoming-kokoro")
    assert version == pyproject_version()
    assert str(addon_config()["version"]) == version
    dockerfile = (ADDON / "Dockerfile").read_text(encoding="utf-8")
    match = re.search(r"^ARG WYOMING_KOKORO_VERSION=(\S+)$", dockerfile, re.MULTILINE)
    assert match and match.group(1) == version
    assert (
        'bash /tmp/install.sh /usr/src/.venv "${WYOMING_KOKORO_VERSION}" /tmp/wheels' in dockerfile
    )
    assert (
        "COPY install.sh /tmp/install.sh" in dockerfile
        and "COPY wheels/ /tmp/wheels/" in dockerfile
    )
    assert '"wyoming-kokoro[bundle]==${version}"' in (ADDON / "install.sh").read_text()
    build = load_yaml(ADDON / "build.yaml")
    assert str(build["args"]["WYOMING_KOKORO_VERSION"]) == version
    assert set(build["build_from"]) == set(addon_config()["arch"])
    assert f"## {version}" in (ADDON / "CHANGELOG.md").read_text(encoding="utf-8")


def test_s6_services_are_wired() -> None:
    assert (SERVICES / "kokoro" / "type").read_text().strip() == "longrun"
    # a longrun, so that no stop or halt waits for it (a oneshot's "up" holds s6-rc's lock)
    assert (SERVICES / "discovery" / "type").read_text().strip() == "longrun"
    assert not (SERVICES / "discovery" / "up").exists()
    assert "exec sleep infinity" in DISCOVERY_SCRIPT.read_text()  # s6 must not rerun it
    assert (SERVICES / "discovery" / "dependencies.d" / "kokoro").is_file()
    bundle = {p.name for p in (SERVICES / "user" / "contents.d").iterdir()}
    assert bundle == {"kokoro", "discovery"}


def test_rootfs_scripts_are_executable_with_a_shebang() -> None:
    scripts = [
        path
        for path in ROOTFS.rglob("*")
        if path.is_file() and (path.name in ("run", "finish") or path.read_bytes()[:2] == b"#!")
    ]
    assert {RUN_SCRIPT, FINISH_SCRIPT, DISCOVERY_SCRIPT} <= set(scripts)
    for path in scripts:
        assert path.read_text(encoding="utf-8").startswith("#!/command/with-contenv bashio\n")
        assert os.access(path, os.X_OK), f"{path} is not executable"
        subprocess.run(["bash", "-n", str(path)], check=True)


def test_images_are_pngs_of_the_right_size() -> None:
    for name, size in (("icon.png", (128, 128)), ("logo.png", (250, 100))):
        head = (ADDON / name).read_bytes()[:24]
        assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
        width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
        assert (width, height) == size, name


# --------------------------------------------------------------------------- the package


@pytest.fixture(scope="module")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout's wheel, built from a copy of its sources."""
    return wheel_tools.build_wheel(tmp_path_factory.mktemp("wheel"), WHEEL_TEST_BUDGET_S)


def test_committed_wheel_is_this_source(built_wheel: Path) -> None:
    """addon/wheels/ holds the wheel of exactly this source (files and their hashes)."""
    committed = wheel_tools.committed_wheels()
    if not WHEEL_COMMITTED:  # the add-on installs from PyPI (addon/wheels/README.md)
        assert committed == [], "no wheel belongs in addon/wheels/ once PyPI is used"
        return
    names = [wheel.name for wheel in committed]
    assert names == [built_wheel.name], (
        f"addon/wheels/ holds {names}, the source builds {built_wheel.name}: "
        f"{wheel_tools.REFRESH_HINT}"
    )
    stale = wheel_tools.differences(
        wheel_tools.wheel_contents(committed[0]), wheel_tools.wheel_contents(built_wheel)
    )
    assert stale == [], (
        f"addon/wheels/{names[0]} is stale ({'; '.join(stale[:5])}): {wheel_tools.REFRESH_HINT}"
    )


def test_wheel_contents_see_a_changed_file(built_wheel: Path, tmp_path: Path) -> None:
    changed = tmp_path / built_wheel.name
    with zipfile.ZipFile(built_wheel) as source, zipfile.ZipFile(changed, "w") as target:
        for item in source.infolist():
            body = source.read(item)
            if item.filename == "wyoming_kokoro/assets.py":
                body += b"\n# changed\n"
            if item.filename.endswith("/RECORD") or item.filename.endswith("/METADATA"):
                body += b"\nderived or description: not compared\n\n"
            target.writestr(item, body)
    assert wheel_tools.differences(
        wheel_tools.wheel_contents(built_wheel), wheel_tools.wheel_contents(changed)
    ) == ["differs: wyoming_kokoro/assets.py"]


def test_wheel_installs_like_the_dockerfile(tmp_path: Path, built_wheel: Path) -> None:
    """Install the wheel into a fresh venv with pip, as addon/Dockerfile does.

    The build (``built_wheel``) runs on a copy of the sources, with
    ``--no-build-isolation`` when this venv's setuptools can build the wheel, otherwise
    in pip's isolated build environment (which gets setuptools from the configured
    package index). The fresh venv gets the wheel alone (``--no-deps --no-index``): to
    stay offline and fast, its dependencies come from this project's .venv through
    ``PYTHONPATH`` (PYTHONPATH does not process .pth files, so the editable install
    there is not seen; the import of ``wyoming_kokoro`` is checked to come from the
    fresh venv). Every step runs under one budget of ``WHEEL_TEST_BUDGET_S`` seconds,
    so a hung step fails the test.
    """
    deadline = time.monotonic() + WHEEL_TEST_BUDGET_S

    def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        remaining = max(1.0, deadline - time.monotonic())
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=remaining, cwd=tmp_path, **kwargs
        )
        assert result.returncode == 0, f"{argv}:\n{result.stdout}\n{result.stderr}"
        return result

    out = built_wheel.parent
    version = importlib.metadata.version("wyoming-kokoro")
    (wheel,) = out.glob("wyoming_kokoro-*.whl")
    assert wheel.name.startswith(f"wyoming_kokoro-{version}-")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"wyoming_kokoro-{version}.dist-info/METADATA").decode()
    assert {
        "wyoming_kokoro/data/vocab.json",
        "wyoming_kokoro/data/lexicon.yaml",
        "wyoming_kokoro/py.typed",
    } <= names
    assert "Provides-Extra: bundle" in metadata  # the Dockerfile installs [bundle]

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    # addon/install.sh, as the Dockerfile runs it; pip reads --no-deps/--no-index from env
    offline = clean_env() | {"PIP_NO_DEPS": "1", "PIP_NO_INDEX": "1"}
    installer = [str(ADDON / "install.sh"), str(venv), version]
    empty = tmp_path / "no-wheels"
    empty.mkdir()
    from_index = subprocess.run(
        [*installer, str(empty)], capture_output=True, text=True, env=offline, timeout=120
    )
    assert from_index.returncode != 0  # no wheel: it asks the (here absent) index
    assert "from the package index" in from_index.stdout
    assert f"wyoming-kokoro=={version}" in from_index.stderr.replace("[bundle]", "")
    installed = run([*installer, str(out)], env=offline)
    assert f"from {out}" in installed.stdout
    paths = sysconfig.get_paths()
    env = clean_env()
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys([paths["purelib"], paths["platlib"]]))
    assert run([str(venv / "bin" / "wyoming-kokoro"), "--version"], env=env).stdout.strip() == (
        version
    )
    where = run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import wyoming_kokoro; print(wyoming_kokoro.__file__)",
        ],
        env=env,
    ).stdout.strip()
    assert Path(where).resolve().is_relative_to(venv.resolve())
