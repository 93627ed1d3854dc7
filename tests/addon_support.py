"""Helpers for the add-on tests: its files, and a stub of the bashio functions it uses.

The add-on's s6 scripts are run for real with bash, after the stub. The container-only
paths in a script are rewritten to temporary ones first (``localize``).
"""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
ADDON = ROOT / "addon"
ROOTFS = ADDON / "rootfs"
SERVICES = ROOTFS / "etc" / "s6-overlay" / "s6-rc.d"
RUN_SCRIPT = SERVICES / "kokoro" / "run"
FINISH_SCRIPT = SERVICES / "kokoro" / "finish"
DISCOVERY_SCRIPT = SERVICES / "discovery" / "run"
VENV_PYTHON = "/usr/src/.venv/bin/python"
ADDON_PORT = "10200"


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


def bashio_value(value: Any) -> str:
    """An option's value as ``bashio::config`` prints it (jq's raw, compact output)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):  # one item after another
        return "\n".join(json.dumps(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def write_bashio_stub(folder: Path, options: dict[str, Any]) -> Path:
    """Shell functions standing in for bashio; every call is recorded in ``folder``.

    Options in addon/config.yaml's schema but not in ``options`` read as ``null``
    (optional options the user left empty). ``config-reads`` gets each option read,
    ``unknown-options`` any option the schema does not have, ``discovery`` a line per
    discovery message.
    """
    known = {key: options.get(key) for key in addon_config()["schema"]} | options
    cases = "\n".join(
        f"        {key}) printf '%s\\n' {shlex.quote(bashio_value(value))} ;;"
        for key, value in known.items()
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
bashio::config.has_value() {{
    local value
    value="$(bashio::config "$1")"
    [[ "$value" != null && -n "$value" ]]
}}
bashio::log.trace() {{ echo "[trace] $*" >&2; }}
bashio::log.debug() {{ echo "[debug] $*" >&2; }}
bashio::log.info() {{ echo "[info] $*" >&2; }}
bashio::log.notice() {{ echo "[notice] $*" >&2; }}
bashio::log.warning() {{ echo "[warning] $*" >&2; }}
bashio::log.error() {{ echo "[error] $*" >&2; }}
bashio::log.fatal() {{ echo "[fatal] $*" >&2; }}
bashio::exit.nok() {{ echo "[fatal] $*" >&2; exit 1; }}
bashio::exit.ok() {{ exit 0; }}
bashio::discovery() {{ printf '%s %s\\n' "$1" "$2" >> {record}/discovery; }}
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
