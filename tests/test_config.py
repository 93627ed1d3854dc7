"""One precedence rule for every setting: CLI > KOKORO_* environment > config file > default."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from wyoming_kokoro import config
from wyoming_kokoro.config import (
    ALL_OPTIONS,
    ConfigError,
    Settings,
    load_settings,
)
from wyoming_kokoro.engine.providers import PROVIDER_KEYS

ROOT = Path(__file__).resolve().parent.parent


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_defaults_when_nothing_is_given(tmp_path: Path) -> None:
    empty = write_config(tmp_path, "")
    settings = load_settings(["--config", str(empty)], environ={}).settings
    assert settings == Settings()
    assert settings.uri == "tcp://0.0.0.0:10200"
    assert settings.voice == "af_heart"


def test_file_beats_default_env_beats_file_cli_beats_env(tmp_path: Path) -> None:
    config = write_config(tmp_path, "speed: 1.2\nvoice: bf_emma\nuri: tcp://127.0.0.1:1\n")
    argv = ["--config", str(config)]
    env = {"KOKORO_SPEED": "1.4", "KOKORO_VOICE": "am_adam"}

    assert load_settings(argv, environ={}).settings.speed == 1.2
    from_env = load_settings(argv, environ=env).settings
    assert (from_env.speed, from_env.voice, from_env.uri) == (1.4, "am_adam", "tcp://127.0.0.1:1")
    from_cli = load_settings([*argv, "--speed", "0.8"], environ=env).settings
    assert (from_cli.speed, from_cli.voice) == (0.8, "am_adam")


def value_of(settings: Settings, key: str) -> object:
    """A setting's value; per-provider switches live in ``provider_switches``."""
    if "_provider_" in key:
        provider, switch = key.split("_provider_")
        return getattr(settings.switches(provider), switch)
    return getattr(settings, key)


def test_every_option_follows_the_rule(tmp_path: Path) -> None:
    """For each option, a file value loses to env, which loses to the CLI."""
    samples = {
        "uri": ("tcp://127.0.0.1:1", "tcp://127.0.0.1:2", "tcp://127.0.0.1:3"),
        "voice": ("af_bella", "am_adam", "bf_emma"),
        "speed": (0.6, 0.7, 0.9),
        "data_dir": (["/a"], "/b", "/c"),
        "download_dir": ("/x", "/y", "/z"),
        "model": ("/m1", "/m2", "/m3"),
        "voices": ("/v1", "/v2", "/v3"),
        "model_variant": ("fp32", "fp16", "int8"),
        "download": (False, "true", False),
        "download_url": ("http://a", "http://b", "http://c"),
        "stats_file": ("a.jsonl", "b.jsonl", "c.jsonl"),
        "samples_per_chunk": (256, "512", 2048),
        "zeroconf": ("home", "true", "living-room"),
        "zeroconf_address": ("a.lan:1", "b.lan:2", "c.lan:3"),
        "debug": (True, "false", True),
        "provider": ("cuda,cpu", "openvino", "cpu"),
        "device_id": (1, "2", 3),
        "openvino_device": ("CPU", "NPU", "GPU"),
        "graph_opt_level": ("basic", "extended", "disabled"),
        "optimized_model_cache": (False, "true", False),
        "cpu_intra_threads": (1, "2", 4),
        "cpu_inter_threads": (1, "2", 4),
        "cpu_mem_arena": (False, "true", False),
        "mem_pattern": (True, "false", True),
        "cpu_arena_shrink": (False, "true", False),
        "verbose_logs": (True, "false", True),
        "benchmark_providers": (True, "false", None),
        "short_segment_phonemes": (50, "60", 70),
        "provider_cooldown": (5, "6", 7),
        "phrase_cache_mb": (0, "16", 128),
        "first_clause": (False, "true", False),
        "vocoder_split": (False, "true", False),
        "native_kernels": (False, "true", False),
        "lexicon": (["/l1.yaml"], "/l2.yaml", "/l3.yaml"),
        "default_lexicon": (False, "true", False),
        "sentence_silence": (0.4, "auto", 0.6),
        "clause_silence": ("auto", "0.2", 0.25),
        "paragraph_silence": (1.0, "auto", 0.9),
        "loudness_lufs": (-23, "off", -16),
        "volume": (0.5, "6dB", "-3 dB"),
        "tail_silence": (0, "0.3", 0.5),
        "max_header_bytes": (2048, "4096", 8192),
        "max_data_bytes": (2048, "4096", 8192),
        "max_payload_bytes": (0, "10", 20),
        "max_text_chars": (10, "20", 30),
        "max_stream_chars": (10, "20", 30),
        "max_connections": (1, "2", 3),
        "idle_timeout": (5, "6", 7),
        "write_timeout": (5, "6", 7),
        "shutdown_timeout": (1, "2", 3),
        "stall_timeout": (5.0, "6", 7.0),
        "stream_keepalive": (False, "true", False),
        "scheduler": ("first-segment", "deadline", "first-segment"),
        "stats_max_mb": (1, "2", 3),
        "stats_keep": (1, "2", 3),
        "custom_voices": (
            {"a": {"af_heart": 1, "af_bella": 1}},
            "{b: {am_adam: 2, bm_george: 1, speed: 1.1}}",
            "{c: {bf_emma: 1, description: Emma}}",
        ),
        "http": ("0.0.0.0:8880", "8881", "127.0.0.1:8882"),
        "http_api_key": ("k1", "k2", "k3"),
    }
    for key in PROVIDER_KEYS:
        samples[f"{key}_provider_enabled"] = (False, "true", False)
        samples[f"{key}_provider_benchmark"] = (True, "auto", "false")
        samples[f"{key}_provider_priority"] = (3, "4", "default")
    assert set(samples) == {o.key for o in ALL_OPTIONS}
    for option in ALL_OPTIONS:
        file_value, env_value, cli_value = samples[option.key]
        config = write_config(tmp_path, yaml.safe_dump({option.key: file_value}))
        env = {option.env: str(env_value)}
        if isinstance(cli_value, bool):
            cli = [option.flag if cli_value else "--no-" + option.flag[2:]]
        else:
            cli = [option.flag, str(cli_value)]
        argv = ["--config", str(config)]
        parse = option.parse
        assert value_of(load_settings(argv, {}).settings, option.key) == parse(file_value)
        assert value_of(load_settings(argv, env).settings, option.key) == parse(env_value)
        if option.cli:
            got = value_of(load_settings(argv + cli, env).settings, option.key)
            assert got == parse(cli_value), option.key


def test_lexicon_paths_default_to_the_download_and_data_dirs(tmp_path: Path) -> None:
    empty = write_config(tmp_path, "")
    base = ["--config", str(empty), "--download-dir", "/dl", "--data-dir", "/d1"]
    settings = load_settings([*base, "--data-dir", "/dl"], {}).settings
    assert settings.lexicon_paths == [Path("/dl/lexicon.yaml"), Path("/d1/lexicon.yaml")]
    settings = load_settings([*base, "--lexicon", "/a.yaml", "--lexicon", "/b.yaml"], {}).settings
    assert settings.lexicon_paths == [Path("/a.yaml"), Path("/b.yaml")]
    assert load_settings(base, {"KOKORO_LEXICON": "/c.yaml:/d.yaml"}).settings.lexicon == [
        "/c.yaml",
        "/d.yaml",
    ]


def test_volume_in_decibels_or_as_a_factor_and_loudness_off() -> None:
    settings = load_settings(["--volume", "6dB", "--loudness-lufs", "off"], {}).settings
    assert settings.volume == pytest.approx(1.995, abs=1e-3)
    assert settings.loudness_lufs is None
    assert load_settings(["--volume", "0.5"], {}).settings.volume == 0.5
    assert load_settings([], {"KOKORO_VOLUME": "-6 dB"}).settings.volume == pytest.approx(
        0.501, abs=1e-3
    )
    audio = load_settings(["--sentence-silence", "auto", "--clause-silence", "0.1"], {}).settings
    assert (audio.sentence_silence, audio.clause_silence) == (None, 0.1)
    for bad in (["--volume", "loud"], ["--volume", "40dB"], ["--loudness-lufs", "3"]):
        with pytest.raises(ConfigError):
            load_settings(bad, {})


def test_data_dir_flag_repeats_and_env_uses_path_separator(tmp_path: Path) -> None:
    empty = write_config(tmp_path, "")
    base = ["--config", str(empty)]
    cli = load_settings([*base, "--data-dir", "/a", "--data-dir", "/b"], {}).settings
    assert cli.data_dir == ["/a", "/b"]
    env = load_settings(base, {"KOKORO_DATA_DIR": "/c:/d"}).settings
    assert env.data_dir == ["/c", "/d"]


@pytest.mark.parametrize(
    ("file_text", "env", "cli", "named"),
    [
        ("speed: fast", {}, [], "speed"),
        ("speed: 9", {}, [], "speed"),
        ("model_variant: int4", {}, [], "model_variant"),
        ("colour: blue", {}, [], "colour"),
        ("", {"KOKORO_DEBUG": "maybe"}, [], "KOKORO_DEBUG"),
        ("", {"KOKORO_URI": "http://x"}, [], "KOKORO_URI"),
        ("", {"KOKORO_URI": "tcp://127.0.0.1:abc"}, [], "KOKORO_URI"),  # not at listen time
        ("", {"KOKORO_URI": "tcp://host"}, [], "KOKORO_URI"),
        ("", {"KOKORO_URI": "unix://"}, [], "KOKORO_URI"),
        ("download_url: 127.0.0.1:8000/x", {}, [], "download_url"),
        ("", {}, ["--samples-per-chunk", "0"], "--samples-per-chunk"),
        ("samples_per_chunk: 1000.9", {}, [], "whole number"),  # not silently 1000
    ],
)
def test_invalid_values_name_the_key(
    tmp_path: Path, file_text: str, env: dict[str, str], cli: list[str], named: str
) -> None:
    argv = ["--config", str(write_config(tmp_path, file_text)), *cli]
    with pytest.raises(ConfigError, match=named):
        load_settings(argv, env)


def test_shipped_config_documents_every_setting_with_its_default() -> None:
    shipped = yaml.safe_load((ROOT / "config.yaml").read_text())
    text = (ROOT / "config.yaml").read_text()
    defaults = Settings()
    for option in ALL_OPTIONS:
        assert f"{option.key}:" in text, f"config.yaml does not document {option.key}"
        if option.key in shipped:
            assert option.parse(shipped[option.key]) == getattr(defaults, option.key), option.key
    loaded = load_settings(["--config", str(ROOT / "config.yaml")], {}).settings
    assert loaded == defaults


def test_stats_file_location_rules(tmp_path: Path) -> None:
    settings = Settings(download_dir=str(tmp_path))
    assert settings.stats_path == tmp_path / "stats.jsonl"
    assert Settings(stats_file="none").stats_path is None
    assert Settings(stats_file="/var/log/k.jsonl").stats_path == Path("/var/log/k.jsonl")
    assert Settings(stats_file="./k.jsonl").stats_path == Path("k.jsonl")


def test_stats_off_in_yaml_and_an_empty_download_dir(tmp_path: Path) -> None:
    """YAML reads off, false and an empty value as False or None: off, as "off" is on the
    command line. An empty KOKORO_DOWNLOAD_DIR= is the default folder, not the current."""
    for text in ("stats_file: off", "stats_file: false", "stats_file:", "stats_file: none"):
        settings = load_settings(["--config", str(write_config(tmp_path, text))], {}).settings
        assert settings.stats_path is None, text
    empty = str(write_config(tmp_path, ""))
    settings = load_settings(["--config", empty], {"KOKORO_DOWNLOAD_DIR": ""}).settings
    assert settings.download_dir == Settings().download_dir


def test_a_config_file_that_is_not_utf8_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes("voice: af_heart # caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="latin.yaml: not UTF-8"):
        load_settings(["--config", str(path)], {})


def test_readme_documents_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    for option in ALL_OPTIONS:
        if "_provider_" in option.key:
            continue  # documented once as <name>_provider_enabled / _benchmark / _priority
        assert f"`{option.key}`" in readme, option.key
    assert "<name>_provider_enabled" in readme and "KOKORO_<NAME>_PROVIDER_PRIORITY" in readme


def test_config_file_lookup_without_a_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The user's config dir first, then a source checkout's config.yaml; a wheel install
    (the package in site-packages, no pyproject.toml beside it) never reads site-packages."""
    user = tmp_path / "xdg" / "wyoming-kokoro" / "config.yaml"
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    # In this checkout, with no user file: the checkout's own config.yaml.
    assert load_settings([], env).config_path == ROOT / "config.yaml"
    user.parent.mkdir(parents=True)
    user.write_text("voice: bf_emma\n")
    invocation = load_settings([], env)
    assert invocation.config_path == user and invocation.settings.voice == "bf_emma"
    assert load_settings([], {**env, "KOKORO_CONFIG": str(ROOT / "config.yaml")}).config_path == (
        ROOT / "config.yaml"
    )
    # Installed from a wheel: the package's parent is site-packages.
    site = tmp_path / "site-packages"
    site.mkdir()
    (site / "config.yaml").write_text("voice: am_adam\n")  # some other package's file
    monkeypatch.setattr(config, "_CHECKOUT", site)
    assert load_settings([], {"XDG_CONFIG_HOME": str(tmp_path / "none")}).config_path is None
    assert load_settings([], env).settings.voice == "bf_emma"
