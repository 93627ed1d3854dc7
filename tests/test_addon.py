"""The Home Assistant add-on in addon/: its files agree with each other and with the server.

The add-on's s6 scripts are run for real with bash, with a stub of the few ``bashio``
functions they use (its ``bashio::config`` answers with the defaults from
addon/config.yaml). The container-only paths in a script are rewritten to temporary
ones first: the venv's python becomes this interpreter, ``/data`` and ``/share/kokoro``
become temporary folders (the model and voices are linked into the ``/data`` one), and
port 10200 becomes a free loopback port.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from wyoming.tts import Synthesize, SynthesizeVoice

from tests.server import RunningServer, describe, free_port, read_reply
from wyoming_kokoro.assets import resolve_assets, resolve_voices
from wyoming_kokoro.config import MODEL_VARIANTS, Settings, load_settings
from wyoming_kokoro.engine.voices import VoiceCatalogue

ROOT = Path(__file__).resolve().parent.parent
ADDON = ROOT / "addon"
ROOTFS = ADDON / "rootfs"
SERVICES = ROOTFS / "etc" / "s6-overlay" / "s6-rc.d"
RUN_SCRIPT = SERVICES / "kokoro" / "run"
FINISH_SCRIPT = SERVICES / "kokoro" / "finish"
DISCOVERY_SCRIPT = SERVICES / "discovery" / "run"
VENV_PYTHON = "/usr/src/.venv/bin/python"
ADDON_PORT = "10200"
WHEEL_TEST_BUDGET_S = 60.0


# --------------------------------------------------------------------------- helpers


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def addon_config() -> dict[str, Any]:
    config = load_yaml(ADDON / "config.yaml")
    assert isinstance(config, dict)
    return config


def list_choices(schema: str) -> list[str]:
    """The choices of a schema entry such as ``list(a|b|c)``."""
    match = re.fullmatch(r"list\((.+)\)\??", schema.strip())
    assert match, f"not a list(...) schema: {schema!r}"
    return match.group(1).split("|")


def pyproject_version() -> str:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    project = text.split("[project]", 1)[1].split("\n[", 1)[0]
    match = re.search(r'^version\s*=\s*"([^"]+)"', project, re.MULTILINE)
    assert match, "no version in pyproject.toml's [project] table"
    return match.group(1)


def bashio_value(value: Any) -> str:
    """A option's value as ``bashio::config`` prints it (jq's raw output)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_bashio_stub(folder: Path, options: dict[str, Any]) -> Path:
    """Shell functions standing in for bashio; every call is recorded in ``folder``.

    ``config-reads`` gets each option read, ``unknown-options`` any option that
    addon/config.yaml does not have, ``discovery`` the last discovery message.
    """
    cases = "\n".join(
        f"        {key}) echo {shlex.quote(bashio_value(value))} ;;"
        for key, value in options.items()
    )
    record = shlex.quote(str(folder))
    stub = f"""# Stub of the bashio functions used by the add-on's scripts.
bashio::config() {{
    echo "$1" >> {record}/config-reads
    case "$1" in
{cases}
        *) echo "$1" >> {record}/unknown-options; echo null ;;
    esac
}}
bashio::config.true() {{ [[ "$(bashio::config "$1")" == true ]]; }}
bashio::config.false() {{ [[ "$(bashio::config "$1")" == false ]]; }}
bashio::config.has_value() {{ [[ "$(bashio::config "$1")" != null ]]; }}
bashio::log.trace() {{ echo "[trace] $*" >&2; }}
bashio::log.debug() {{ echo "[debug] $*" >&2; }}
bashio::log.info() {{ echo "[info] $*" >&2; }}
bashio::log.notice() {{ echo "[notice] $*" >&2; }}
bashio::log.warning() {{ echo "[warning] $*" >&2; }}
bashio::log.error() {{ echo "[error] $*" >&2; }}
bashio::log.fatal() {{ echo "[fatal] $*" >&2; }}
bashio::exit.nok() {{ echo "[fatal] $*" >&2; exit 1; }}
bashio::exit.ok() {{ exit 0; }}
bashio::discovery() {{ printf '%s\\n%s\\n' "$1" "$2" > {record}/discovery; }}
"""
    path = folder / "bashio"
    path.write_text(stub, encoding="utf-8")
    return path


def localize(script: Path, replacements: list[tuple[str, str]], dest: Path) -> Path:
    """Copy ``script`` to ``dest`` with each regex replaced; every one must match."""
    text = script.read_text(encoding="utf-8")
    for pattern, new in replacements:
        text, count = re.subn(pattern, new.replace("\\", "\\\\"), text)
        assert count, f"{script.name}: nothing matches {pattern!r}; update this test"
    dest.write_text(text, encoding="utf-8")
    return dest


def bash_with_stub(stub: Path, script: Path, *args: str) -> list[str]:
    """bash running ``script`` (with arguments) after the stub, in bashio's strict mode."""
    return [
        "bash",
        "-c",
        'set -o errexit -o errtrace -o nounset -o pipefail; source "$0"; source "$@"',
        str(stub),
        str(script),
        *args,
    ]


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("KOKORO_")}


def healthcheck_command() -> list[str]:
    """The exec-form HEALTHCHECK CMD of addon/Dockerfile."""
    text = (ADDON / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    match = re.search(r"^HEALTHCHECK\b.*?\bCMD\s+(\[.*\])\s*$", text, re.MULTILINE)
    assert match, "no exec-form HEALTHCHECK ... CMD [...] in addon/Dockerfile"
    command = json.loads(match.group(1))
    assert isinstance(command, list) and all(isinstance(part, str) for part in command)
    return command


# --------------------------------------------------------------------------- the add-on running


@pytest.fixture(scope="module")
def addon_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The kokoro service's run script, started with the add-on's default options."""
    tmp = tmp_path_factory.mktemp("addon")
    data, share, prefetched = tmp / "data", tmp / "share-kokoro", tmp / "usr-share-kokoro"
    data.mkdir()
    assets = resolve_assets(Settings(download=False))
    for asset in (assets.model, assets.voices):
        (data / asset.name).symlink_to(asset)
    port = free_port()
    script = localize(
        RUN_SCRIPT,
        [
            (re.escape(VENV_PYTHON), sys.executable),
            (re.escape("tcp://0.0.0.0:" + ADDON_PORT), f"tcp://127.0.0.1:{port}"),
            (r"/usr/share/kokoro\b", str(prefetched)),
            (r"(?<=\s)/share/kokoro\b", str(share)),
            (r"(?<=\s)/data\b", str(data)),
            (r"-m wyoming_kokoro\b(?!\.)", "-m wyoming_kokoro --no-download"),
        ],
        tmp / "run",
    )
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
    server = RunningServer(process, port, data / "stats.jsonl", log_path)
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
    assert reads == set(addon_config()["options"])
    log = addon_server.log()
    help_text = subprocess.run(
        [sys.executable, "-m", "wyoming_kokoro", "--help"],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=True,
    ).stdout
    if "--provider" in help_text:
        assert "cannot be selected" not in log
        for choice in list_choices(addon_config()["schema"]["provider"]):
            load_settings(["--provider", choice], environ={})  # raises if the server refuses it
    else:
        assert "[warning] Provider 'auto' cannot be selected" in log


@pytest.mark.parametrize("knows_provider", [False, True])
def test_run_script_builds_the_flags(tmp_path: Path, knows_provider: bool) -> None:
    """With a fake python that records its arguments: every option becomes its flag."""
    argv_file = tmp_path / "argv.json"
    help_text = "usage: wyoming-kokoro [--provider PROVIDER]" if knows_provider else "usage: x"
    fake = tmp_path / "python"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        "if '--help' in sys.argv:\n"
        f"    print({help_text!r})\n"
        "else:\n"
        f"    open({str(argv_file)!r}, 'w').write(json.dumps(sys.argv[1:]))\n"
    )
    fake.chmod(0o755)
    script = localize(
        RUN_SCRIPT,
        [(re.escape(VENV_PYTHON), str(fake)), (r"mkdir -p /share/kokoro", "true")],
        tmp_path / "run",
    )
    options = {
        **addon_config()["options"],
        "voice": "bm_george",
        "speed": 1.25,
        "provider": "openvino",
        "model_variant": "fp16",
        "stats_file": False,
        "debug_logging": True,
    }
    stub = write_bashio_stub(tmp_path, options)
    result = subprocess.run(
        bash_with_stub(stub, script), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    args = json.loads(argv_file.read_text())
    assert args[:2] == ["-m", "wyoming_kokoro"]

    def values(flag: str) -> list[str]:
        return [args[i + 1] for i, arg in enumerate(args) if arg == flag]

    assert values("--uri") == ["tcp://0.0.0.0:" + ADDON_PORT]
    assert values("--data-dir") == ["/data", "/share/kokoro", "/usr/share/kokoro"]
    assert values("--download-dir") == ["/data"]
    assert values("--voice") == ["bm_george"]
    assert values("--speed") == ["1.25"]
    assert values("--model-variant") == ["fp16"]
    assert values("--stats-file") == ["none"]
    assert values("--lexicon") == ["/share/kokoro/lexicon.yaml"]
    assert "--debug" in args
    if knows_provider:
        assert values("--provider") == ["openvino"]
        assert "[warning]" not in result.stderr
    else:
        assert "--provider" not in args
        assert "[warning] Provider 'openvino' cannot be selected" in result.stderr
    # the real server's parser accepts them (--provider is checked in the test above)
    server_args = args[2:]
    if knows_provider:
        at = server_args.index("--provider")
        del server_args[at : at + 2]
    settings = load_settings(server_args, environ={}).settings
    assert (settings.voice, settings.speed, settings.model_variant) == ("bm_george", 1.25, "fp16")
    assert settings.stats_path is None and settings.debug


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


def test_discovery_announces_the_server(addon_server: RunningServer, tmp_path: Path) -> None:
    stub = write_bashio_stub(tmp_path, addon_config()["options"])
    script = localize(
        DISCOVERY_SCRIPT, [(rf"\b{ADDON_PORT}\b", str(addon_server.port))], tmp_path / "run"
    )
    result = subprocess.run(
        bash_with_stub(stub, script), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    kind, config = (tmp_path / "discovery").read_text().splitlines()
    assert kind == "wyoming"
    hostname = subprocess.run(["hostname"], capture_output=True, text=True).stdout.strip()
    assert json.loads(config) == {"uri": f"tcp://{hostname}:{addon_server.port}"}
    assert "[info]" in result.stderr


def test_discovery_gives_up_without_a_server(tmp_path: Path) -> None:
    stub = write_bashio_stub(tmp_path, addon_config()["options"])
    script = localize(
        DISCOVERY_SCRIPT,
        [(rf"\b{ADDON_PORT}\b", str(free_port())), (r"wait_s=\d+", "wait_s=2")],
        tmp_path / "run",
    )
    result = subprocess.run(
        bash_with_stub(stub, script), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "discovery").exists()
    assert "[error]" in result.stderr


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


# --------------------------------------------------------------------------- consistency


def test_options_schema_and_translations_agree() -> None:
    config = addon_config()
    options, schema = config["options"], config["schema"]
    translations = load_yaml(ADDON / "translations" / "en.yaml")
    described = translations["configuration"]
    assert set(options) == set(schema) == set(described)
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
    assert (SERVICES / "discovery" / "type").read_text().strip() == "oneshot"
    up = (SERVICES / "discovery" / "up").read_text().strip()
    assert (ROOTFS / up.lstrip("/")).resolve() == DISCOVERY_SCRIPT.resolve()
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


def can_build_without_isolation() -> bool:
    """setuptools >= 68 (as pyproject requires) that can make wheels, here in this venv."""
    if importlib.util.find_spec("setuptools") is None:
        return False
    major, minor = (int(p) for p in importlib.metadata.version("setuptools").split(".")[:2])
    has_bdist_wheel = (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None
    return major >= 68 and has_bdist_wheel


def test_wheel_installs_like_the_dockerfile(tmp_path: Path) -> None:
    """Build the wheel and install it into a fresh venv with pip, as addon/Dockerfile does.

    The build runs on a copy of the sources, with ``--no-build-isolation`` when this
    venv's setuptools can build the wheel, otherwise in pip's isolated build
    environment (which gets setuptools from the configured package index). The fresh
    venv gets the wheel alone (``--no-deps --no-index``): to stay offline and fast, its
    dependencies come from this project's .venv through ``PYTHONPATH`` (PYTHONPATH does
    not process .pth files, so the editable install there is not seen; the import of
    ``wyoming_kokoro`` is checked to come from the fresh venv). Every step runs under
    one budget of ``WHEEL_TEST_BUDGET_S`` seconds, so a hung step fails the test.
    """
    deadline = time.monotonic() + WHEEL_TEST_BUDGET_S

    def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        remaining = max(1.0, deadline - time.monotonic())
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=remaining, cwd=tmp_path, **kwargs
        )
        assert result.returncode == 0, f"{argv}:\n{result.stdout}\n{result.stderr}"
        return result

    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "wyoming_kokoro",
        source / "wyoming_kokoro",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    isolation = ["--no-build-isolation"] if can_build_without_isolation() else []
    out = tmp_path / "dist"
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-w", str(out), str(source)]
    )
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
