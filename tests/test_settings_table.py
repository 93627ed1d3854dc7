"""The settings table is the one declaration: README, sections and flags all follow it."""

from __future__ import annotations

import ast
import inspect
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

import pytest
import yaml

from wyoming_kokoro import config
from wyoming_kokoro.config import (
    OPTIONS,
    SECTIONS,
    ConfigError,
    EngineSettings,
    HttpSettings,
    LivenessSettings,
    Settings,
    ShapingSettings,
    StatsSettings,
    load_settings,
)
from wyoming_kokoro.engine.session import SessionConfig
from wyoming_kokoro.liveness import Liveness
from wyoming_kokoro.shaping import AudioSettings
from wyoming_kokoro.stats import StatsWriter

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


def own_fields(section: type) -> set[str]:
    return set(inspect.get_annotations(section))


def test_every_setting_is_declared_in_exactly_one_section() -> None:
    declared = [name for section in SECTIONS for name in own_fields(section)]
    assert len(declared) == len(set(declared)), "a setting declared in two sections"
    assert set(declared) == {f.name for f in fields(Settings)}  # Settings adds none of its own
    assert all(issubclass(Settings, section) for section in SECTIONS)
    for option in OPTIONS:
        assert option.key in own_fields(getattr(config, option.section))


# Settings far from the defaults: a section must carry them, not its own defaults.
ODD = Settings(
    speed=1.5,
    max_connections=3,
    download_dir="/srv/kokoro",
    lexicon=["/srv/words.yaml"],
    cpu_intra_threads=3,
    device_id=2,
    stall_timeout=5.0,
    stream_keepalive=False,
    volume=2.0,
    tail_silence=0.0,
    stats_file="s.jsonl",
    stats_keep=2,
    http="127.0.0.1:8880",
    idle_timeout=9.0,
    zeroconf="box",
)


@pytest.mark.parametrize("section", SECTIONS, ids=lambda s: s.__name__)
def test_each_section_is_cut_from_the_settings(section: type) -> None:
    built: Any = ODD.section(section)
    assert type(built) is section
    assert all(getattr(built, f.name) == getattr(ODD, f.name) for f in fields(section))


@pytest.mark.parametrize(("kind", "section"), [(AudioSettings, ShapingSettings)])
def test_a_runtime_copy_of_a_section_matches_it(kind: type, section: type) -> None:
    assert {f.name for f in fields(kind)} == {f.name for f in fields(section)}
    assert kind() == Settings().section(kind)  # the runtime object's defaults are the table's
    assert ODD.section(kind) == kind(**{f.name: getattr(ODD, f.name) for f in fields(section)})


def test_a_runtime_object_adds_fixed_fields_to_its_section() -> None:
    liveness = ODD.section(Liveness)
    assert isinstance(liveness, LivenessSettings)
    assert (liveness.stall_timeout, liveness.stream_keepalive) == (5.0, False)
    assert liveness.keepalive_chunk_s == Liveness().keepalive_chunk_s


def test_subsystems_build_their_own_objects_from_their_section() -> None:
    session = SessionConfig.from_settings(ODD.section(EngineSettings))
    assert session.intra_threads == 3 and session.context.device_id == 2
    assert session.cache_dir == session.context.cache_dir == Path("/srv/kokoro")
    from wyoming_kokoro.http.app import HttpOptions

    options = HttpOptions.from_settings(ODD.section(HttpSettings))
    assert (options.address, options.speed, options.max_requests) == ("127.0.0.1:8880", 1.5, 3)
    assert options.voices_folder == Path("/srv/kokoro")
    assert options.lexicon_path == Path("/srv/words.yaml")
    writer = StatsWriter.from_settings(ODD.section(StatsSettings))
    try:
        assert (writer.path, writer.keep) == (Path("/srv/kokoro/s.jsonl"), 2)
    finally:
        writer.close()


def test_a_section_is_frozen() -> None:
    section: Any = ODD.section(EngineSettings)
    with pytest.raises(AttributeError):
        section.device_id = 0


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
