"""The settings table is the one declaration: README, sections and flags all follow it."""

from __future__ import annotations

import ast
from dataclasses import MISSING, fields
from pathlib import Path

import pytest
import yaml

from wyoming_kokoro import config
from wyoming_kokoro.config import OPTIONS, ConfigError, Settings, load_settings
from wyoming_kokoro.protocol import Limits
from wyoming_kokoro.shaping import AudioSettings

ROOT = Path(__file__).resolve().parent.parent


def readme_rows() -> dict[str, list[str]]:
    """README's configuration table: config key -> its cells (env, flag, default, meaning)."""
    lines = (ROOT / "README.md").read_text().splitlines()
    start = lines.index("| config key | env var | flag | default | meaning |")
    rows: dict[str, list[str]] = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        rows[cells[0].strip("`")] = cells[1:]
    return rows


def first_code(cell: str) -> str:
    assert "`" in cell, cell
    return cell.split("`")[1]


def test_readme_table_has_a_row_per_setting_with_its_names_and_default() -> None:
    rows = readme_rows()
    defaults = Settings()
    for option in OPTIONS:
        assert option.key in rows, f"README's configuration table has no row for {option.key}"
        env, flag, default, _ = rows[option.key]
        assert first_code(env) == option.env, option.key
        if option.cli:
            assert first_code(flag).split(" ")[0] == option.flag, option.key
        else:
            assert "`" not in flag, f"{option.key} has no flag, README shows one"
        field = next(f for f in fields(Settings) if f.name == option.key)
        if field.default is MISSING and not isinstance(getattr(defaults, option.key), list | dict):
            assert "wyoming-kokoro" in default  # an environment-dependent default, described
            continue
        shown = option.parse(yaml.safe_load(first_code(default)))
        assert shown == getattr(defaults, option.key), f"README's default of {option.key}"
    documented = {key for key in rows if not key.startswith("<name>") and key != "–"}
    assert documented <= {o.key for o in OPTIONS}, documented - {o.key for o in OPTIONS}
    for switch in ("enabled", "benchmark", "priority"):
        assert f"<name>_provider_{switch}" in rows


@pytest.mark.parametrize(("group", "kind"), [("limits", Limits), ("audio", AudioSettings)])
def test_each_subsystem_object_is_built_from_its_own_section(group: str, kind: type) -> None:
    section = Settings().section(group)
    assert {f.name for f in fields(kind)} == set(section)
    assert kind() == kind(**section)  # the runtime object's defaults are the table's


def test_every_setting_belongs_to_a_known_group() -> None:
    groups = {"server", "assets", "engine", "speech", "audio", "limits", "stats", "liveness"}
    assert {o.group for o in config.ALL_OPTIONS} <= groups


def test_config_imports_nothing_of_the_runtime() -> None:
    tree = ast.parse((ROOT / "wyoming_kokoro" / "config.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0 and node.module not in (None, "wyoming_kokoro"), node.module
            assert not (node.module or "").startswith("wyoming_kokoro")
        if isinstance(node, ast.Import):
            assert all(not a.name.startswith("wyoming_kokoro") for a in node.names)


@pytest.mark.parametrize("argv", [["--volume", "-3dB"], ["--volume=-3dB"], ["--volume", "-3 dB"]])
def test_flag_values_may_start_with_a_dash(argv: list[str]) -> None:
    settings = load_settings(argv, {}).settings
    assert settings.volume == pytest.approx(0.708, abs=1e-3)


def test_a_dash_value_that_is_bad_names_the_flag() -> None:
    with pytest.raises(ConfigError, match="--speed"):
        load_settings(["--speed", "-1"], {})
    with pytest.raises(ConfigError, match="--max-connections"):
        load_settings(["--max-connections", "-5"], {})
    # a switch still reads the next word as the next flag
    settings = load_settings(["--debug", "--volume", "-6dB"], {}).settings
    assert settings.debug and settings.volume == pytest.approx(0.501, abs=1e-3)
