"""Settings: defaults ◄ config file ◄ KOKORO_* environment ◄ command line.

Every setting is declared once in ``OPTIONS``: its config key, its ``KOKORO_*``
variable, its ``--flag``, its default and how a raw value is checked. The same
rule holds for all of them: CLI flag > environment > config file > default.
"""

from __future__ import annotations

import argparse
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from .engine.providers import PROVIDER_KEYS, ProviderSwitches
from .engine.voices import CustomVoice
from .postprocess import AudioSettings
from .protocol import Limits

ENV_PREFIX = "KOKORO_"
MODEL_VARIANTS = ("int8", "fp16", "fp32")
UPSTREAM_URL = "https://github.com/thewh1teagle/kokoro-onnx/releases/download/model-files-v1.0"
_CHECKOUT = Path(__file__).resolve().parent.parent  # a source checkout, or site-packages


class ConfigError(ValueError):
    """A setting has an invalid value; the message names where it came from."""


def default_download_dir() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join("~", ".local", "share")
    return os.path.join(base, "wyoming-kokoro")


@dataclass
class Settings:
    """Everything the server needs to start. Built by :func:`load_settings`."""

    uri: str = "tcp://0.0.0.0:10200"
    voice: str = "af_heart"
    speed: float = 1.0
    data_dir: list[str] = field(default_factory=list)
    download_dir: str = field(default_factory=default_download_dir)
    model: str | None = None
    voices: str | None = None
    model_variant: str = "int8"
    download: bool = True
    download_url: str = UPSTREAM_URL
    stats_file: str = "stats.jsonl"
    samples_per_chunk: int = 1024
    zeroconf: str | None = None
    zeroconf_address: str | None = None
    debug: bool = False
    provider: list[str] = field(default_factory=lambda: ["auto"])
    device_id: int = 0
    openvino_device: str = "GPU"
    graph_opt_level: str = "all"
    optimized_model_cache: bool = True
    cpu_intra_threads: int = 0
    cpu_inter_threads: int = 0
    cpu_mem_arena: bool = True
    cpu_arena_shrink: bool = True
    mem_pattern: bool = False
    verbose_logs: bool = False
    benchmark_providers: bool = False
    short_segment_phonemes: int = 150
    provider_cooldown: float = 60.0
    phrase_cache_mb: int = 32
    first_clause: bool = True
    vocoder_split: bool = True
    lexicon: list[str] = field(default_factory=list)
    default_lexicon: bool = True
    # output audio (postprocess.AudioSettings)
    sentence_silence: float | None = None
    clause_silence: float | None = None
    paragraph_silence: float | None = None
    loudness_lufs: float | None = AudioSettings.loudness_lufs
    volume: float = 1.0
    tail_silence: float = AudioSettings.tail_silence
    # protocol limits: the defaults live in protocol.Limits
    max_header_bytes: int = Limits.max_header_bytes
    max_data_bytes: int = Limits.max_data_bytes
    max_payload_bytes: int = Limits.max_payload_bytes
    max_text_chars: int = Limits.max_text_chars
    max_stream_chars: int = Limits.max_stream_chars
    max_connections: int = Limits.max_connections
    idle_timeout: float = Limits.idle_timeout
    write_timeout: float = Limits.write_timeout
    shutdown_timeout: float = 10.0
    stats_max_mb: float = 10.0
    stats_keep: int = 5
    custom_voices: dict[str, CustomVoice] = field(default_factory=dict)
    # KOKORO_<NAME>_PROVIDER_ENABLED / _BENCHMARK / _PRIORITY, one entry per provider key
    provider_switches: dict[str, ProviderSwitches] = field(default_factory=dict)

    def limits(self) -> Limits:
        return Limits(**{f.name: getattr(self, f.name) for f in fields(Limits)})

    def audio(self) -> AudioSettings:
        return AudioSettings(
            sentence_silence=self.sentence_silence,
            clause_silence=self.clause_silence,
            paragraph_silence=self.paragraph_silence,
            loudness_lufs=self.loudness_lufs,
            volume=self.volume,
            tail_silence=self.tail_silence,
        )

    def switches(self, key: str) -> ProviderSwitches:
        return self.provider_switches.get(key, ProviderSwitches())

    @property
    def download_path(self) -> Path:
        return Path(self.download_dir).expanduser()

    @property
    def data_paths(self) -> list[Path]:
        return [Path(d).expanduser() for d in self.data_dir]

    @property
    def lexicon_paths(self) -> list[Path]:
        """The user's lexicon files: as set, else lexicon.yaml in the download and data dirs."""
        if self.lexicon:
            return [Path(p).expanduser() for p in self.lexicon]
        folders = [self.download_path, *self.data_paths]
        return list(dict.fromkeys(folder / "lexicon.yaml" for folder in folders))

    @property
    def stats_path(self) -> Path | None:
        """Where stats go: None when disabled; a bare file name lives in the download dir."""
        value = self.stats_file.strip()
        if value.lower() in ("", "none", "off", "false"):
            return None
        path = Path(value).expanduser()
        if path.parent == Path(".") and not value.startswith("."):
            return self.download_path / path
        return path


# --------------------------------------------------------------------------- value parsers


def _str(value: Any) -> str:
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ValueError(f"expected a string, got {value!r}")
    return str(value)


def _optional_path(value: Any) -> str | None:
    if value is None:
        return None
    text = _str(value).strip()
    return text or None


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _number(kind: type, low: float, high: float) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(f"expected a number, got {value!r}")
        try:
            number = kind(value)
        except (TypeError, ValueError):
            raise ValueError(f"expected a number, got {value!r}") from None
        if not low <= number <= high:
            raise ValueError(f"must be between {low:g} and {high:g}, got {value!r}")
        return number

    return parse


def _choice(*choices: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = _str(value).strip().lower()
        if text not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {value!r}")
        return text

    return parse


def _uri(value: Any) -> str:
    text = _str(value).strip()
    if not text.startswith(("tcp://", "unix://")):
        raise ValueError(f"must be tcp://HOST:PORT or unix://PATH, got {value!r}")
    return text


def default_zeroconf_name() -> str:
    """``kokoro-`` and this machine's MAC address: two servers on a LAN never collide."""
    return f"kokoro-{uuid.getnode():012x}"


def _zeroconf(value: Any) -> str | None:
    """Off (None), or the service name to announce; ``true`` means the default name."""
    if value is None or value is False:
        return None
    if value is True:
        return default_zeroconf_name()
    text = _str(value).strip()
    if text.lower() in ("", "false", "no", "off", "none", "0"):
        return None
    if text.lower() in ("true", "yes", "on", "1"):
        return default_zeroconf_name()
    return text


def _host_port(value: Any) -> str | None:
    """``HOST:PORT`` (a balancer's address to announce instead of our own), or off."""
    if value is None:
        return None
    text = _str(value).strip()
    if text.lower() in ("", "none", "off", "false"):
        return None
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    return text


def _provider_list(value: Any) -> list[str]:
    items = value if isinstance(value, (list, tuple)) else _str(value).split(",")
    keys = [_str(item).strip().lower() for item in items if _str(item).strip()]
    if not keys:
        raise ValueError("name at least one provider, or auto")
    if "auto" in keys and keys != ["auto"]:
        raise ValueError("auto stands alone: it means every available provider by priority")
    unknown = [k for k in keys if k != "auto" and k not in PROVIDER_KEYS]
    if unknown:
        raise ValueError(
            f"unknown provider {unknown[0]!r}; known: auto, {', '.join(PROVIDER_KEYS)}"
        )
    return keys


def _optional_bool(value: Any) -> bool | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "auto", "none")):
        return None
    return _bool(value)


def _optional_priority(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "default")):
        return None
    parsed: int = _number(int, 0, 1000)(value)
    return parsed


def _custom_voices(value: Any) -> dict[str, CustomVoice]:
    """``{name: {voice: weight, …, speed: 1.1, description: "…"}}``, or the same as YAML."""
    if isinstance(value, str):
        try:
            value = yaml.safe_load(value) if value.strip() else {}
        except yaml.YAMLError as err:
            raise ValueError(f"not valid YAML: {err}") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("expected a mapping of voice name to {voice: weight, …}")
    voices: dict[str, CustomVoice] = {}
    for name, spec in value.items():
        if not isinstance(spec, dict) or not spec:
            raise ValueError(f"{name}: expected {{voice: weight, …}}")
        speed = spec.get("speed")
        description = spec.get("description")
        weights = {k: v for k, v in spec.items() if k not in ("speed", "description")}
        for voice, weight in weights.items():
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight <= 0:
                raise ValueError(f"{name}: the weight of {voice} must be a number > 0")
        if not weights:
            raise ValueError(f"{name}: names no voice to blend")
        voices[str(name)] = CustomVoice(
            {str(k): float(v) for k, v in weights.items()},
            None if speed is None else _number(float, 0.5, 2.0)(speed),
            None if description is None else _str(description),
        )
    return voices


def _off_or(parse: Callable[[Any], Any], *off: str) -> Callable[[Any], Any]:
    """``parse``, except that null and the words in ``off`` mean None."""

    def parse_or_none(value: Any) -> Any:
        if value is None or value is False:
            return None
        if isinstance(value, str) and value.strip().lower() in ("", *off):
            return None
        return parse(value)

    return parse_or_none


def _volume(value: Any) -> float:
    """A linear factor (``1.5``), or decibels (``6dB``, ``-3 dB``); stored as the factor."""
    if isinstance(value, str) and value.strip().lower().endswith("db"):
        decibels: float = _number(float, -60.0, 20.0)(value.strip()[:-2].strip())
        return float(10.0 ** (decibels / 20.0))
    factor: float = _number(float, 0.0, 10.0)(value)
    return factor


def _path_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [p for p in value.split(os.pathsep) if p.strip()]
    if isinstance(value, (list, tuple)):
        return [_str(v) for v in value]
    raise ValueError(f"expected a list of folders, got {value!r}")


@dataclass(frozen=True)
class Option:
    """One setting: config key, environment variable and CLI flag share ``key``."""

    key: str
    parse: Callable[[Any], Any]
    help: str
    repeat: bool = False
    cli_const: str | None = None  # value of the flag given without an argument
    cli: bool = True  # False: config file and environment only

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.key.upper()

    @property
    def flag(self) -> str:
        return "--" + self.key.replace("_", "-")


OPTIONS: tuple[Option, ...] = (
    Option("uri", _uri, "where to listen: tcp://HOST:PORT or unix://PATH"),
    Option("voice", _str, "default voice (see --list-voices)"),
    Option("speed", _number(float, 0.5, 2.0), "default speaking rate, 0.5 to 2.0"),
    Option("data_dir", _path_list, "folder searched for model and voices (repeatable)", True),
    Option("download_dir", _str, "folder for assembled, imported and downloaded assets"),
    Option("model", _optional_path, "explicit path to a Kokoro .onnx model"),
    Option("voices", _optional_path, "explicit path to a voices file (voices-v1.0.bin)"),
    Option("model_variant", _choice(*MODEL_VARIANTS), "int8, fp16 or fp32"),
    Option("download", _bool, "allow downloading missing assets from download_url"),
    Option("download_url", _str, "base URL of the kokoro-onnx model-files-v1.0 release"),
    Option(
        "stats_file", _str, "JSON-lines stats file; a bare name lives in the download dir; none"
    ),
    Option("samples_per_chunk", _number(int, 64, 96000), "PCM samples per audio-chunk event"),
    Option(
        "zeroconf",
        _zeroconf,
        "announce _wyoming._tcp over mDNS with this name (flag alone: kokoro)",
        cli_const="true",
    ),
    Option(
        "zeroconf_address",
        _host_port,
        "announce this HOST:PORT over zeroconf instead of our own (a load balancer's)",
    ),
    Option("debug", _bool, "log at DEBUG level"),
    Option(
        "provider",
        _provider_list,
        f"execution providers in order of preference, comma-separated ({', '.join(PROVIDER_KEYS)}),"
        " or auto (every available one by priority)",
    ),
    Option("device_id", _number(int, 0, 64), "GPU index for CUDA, TensorRT, ROCm, DirectML"),
    Option("openvino_device", _str, "OpenVINO device_type: CPU, GPU, NPU, AUTO:GPU,CPU…"),
    Option(
        "graph_opt_level",
        _choice("disabled", "basic", "extended", "all"),
        "onnxruntime graph optimization level",
    ),
    Option(
        "optimized_model_cache",
        _bool,
        "save the optimized model once per provider and load it at the next start",
    ),
    Option("cpu_intra_threads", _number(int, 0, 256), "CPU threads inside an operator (0: auto)"),
    Option("cpu_inter_threads", _number(int, 0, 256), "CPU threads across operators (0: auto)"),
    Option("cpu_mem_arena", _bool, "onnxruntime's CPU memory arena"),
    Option(
        "cpu_arena_shrink",
        _bool,
        "return the CPU arena's free memory whenever the engine goes idle",
    ),
    Option(
        "mem_pattern",
        _bool,
        "onnxruntime's memory-pattern planning (costs memory: Kokoro's shapes vary)",
    ),
    Option("verbose_logs", _bool, "onnxruntime's own verbose logging"),
    Option(
        "benchmark_providers",
        _bool,
        "benchmark providers at start-up to order the routing (CLI --benchmark-providers "
        "instead prints the table and exits)",
        cli=False,
    ),
    Option(
        "short_segment_phonemes",
        _number(int, 1, 510),
        "segments up to this many phonemes go to the lowest-latency provider",
    ),
    Option(
        "provider_cooldown",
        _number(float, 0.0, 86400.0),
        "seconds a failed provider rests before it is tried again",
    ),
    Option(
        "phrase_cache_mb", _number(int, 0, 65536), "memory for repeated phrases' audio (0: off)"
    ),
    Option("first_clause", _bool, "speak the first clause on its own for the fastest first audio"),
    Option(
        "vocoder_split",
        _bool,
        "render a request's first segment in two parts: its opening is sent while the rest renders",
    ),
    Option(
        "lexicon",
        _path_list,
        "pronunciation lexicon file, reloaded when it changes (repeatable; default: "
        "lexicon.yaml in the download dir and in each data dir)",
        True,
    ),
    Option("default_lexicon", _bool, "the built-in smart-home lexicon (your entries win)"),
    Option(
        "sentence_silence",
        _off_or(_number(float, 0.0, 10.0), "auto"),
        "seconds of silence after a sentence (auto: Kokoro's own pause for the language)",
    ),
    Option(
        "clause_silence",
        _off_or(_number(float, 0.0, 10.0), "auto"),
        "seconds of silence after a clause's comma, semicolon, colon or dash (auto: Kokoro's)",
    ),
    Option(
        "paragraph_silence",
        _off_or(_number(float, 0.0, 10.0), "auto"),
        "seconds of silence after a paragraph (auto: the sentence pause + 0.3 s)",
    ),
    Option(
        "loudness_lufs",
        _off_or(_number(float, -50.0, -5.0), "off", "none", "false", "no"),
        "bring every request to this integrated loudness (LUFS; off: as the voice makes it)",
    ),
    Option("volume", _volume, "volume on top: a factor (1.5) or decibels (6dB, -3dB)"),
    Option(
        "tail_silence",
        _number(float, 0.0, 10.0),
        "seconds of silence after a request's last audio (for players that cut the end)",
    ),
    Option("max_header_bytes", _number(int, 1024, 16 * 2**20), "longest event header line"),
    Option("max_data_bytes", _number(int, 1024, 64 * 2**20), "largest data_length accepted"),
    Option("max_payload_bytes", _number(int, 0, 256 * 2**20), "largest payload_length accepted"),
    Option("max_text_chars", _number(int, 1, 10_000_000), "longest text of one synthesize"),
    Option("max_stream_chars", _number(int, 1, 10_000_000), "longest text of one stream"),
    Option("max_connections", _number(int, 1, 100_000), "connections served at once"),
    Option("idle_timeout", _number(float, 1.0, 86400.0), "close a connection silent this long (s)"),
    Option(
        "write_timeout", _number(float, 1.0, 86400.0), "drop a client that reads nothing this long"
    ),
    Option(
        "shutdown_timeout",
        _number(float, 0.0, 3600.0),
        "on SIGTERM/SIGINT, seconds requests in progress get to finish",
    ),
    Option("stats_max_mb", _number(float, 0.01, 1e6), "rotate the stats file at this size (MB)"),
    Option("stats_keep", _number(int, 0, 1000), "rotated stats files kept (stats.jsonl.1 …)"),
    Option(
        "custom_voices",
        _custom_voices,
        "named blends as YAML: {cozy: {af_heart: 0.7, af_bella: 0.3, speed: 1.1}}",
    ),
)
SWITCH_OPTIONS: tuple[Option, ...] = tuple(
    option
    for key in PROVIDER_KEYS
    for option in (
        Option(f"{key}_provider_enabled", _bool, f"use the {key} provider when available"),
        Option(
            f"{key}_provider_benchmark",
            _optional_bool,
            f"benchmark {key} at start-up: true, false, or auto (follow benchmark_providers)",
        ),
        Option(f"{key}_provider_priority", _optional_priority, f"{key}'s priority (lower first)"),
    )
)
ALL_OPTIONS = OPTIONS + SWITCH_OPTIONS
_OPTION_BY_KEY = {option.key: option for option in ALL_OPTIONS}
assert {o.key for o in OPTIONS} == {f.name for f in fields(Settings)} - {"provider_switches"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wyoming-kokoro",
        description="Wyoming text-to-speech server for Kokoro-82M. "
        "Precedence: CLI flag > KOKORO_* environment > config file > default.",
    )
    parser.add_argument(
        "--config",
        help="YAML config file (default: ~/.config/wyoming-kokoro/config.yaml, else a "
        "source checkout's config.yaml)",
    )
    parser.add_argument("--list-voices", action="store_true", help="print every voice and exit")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument(
        "--benchmark-providers",
        action="store_true",
        dest="benchmark_table",
        help="measure every usable provider, print a table and exit",
    )
    for option in ALL_OPTIONS:
        if not option.cli:
            continue
        kwargs: dict[str, Any] = {"help": option.help, "default": argparse.SUPPRESS}
        if option.parse is _bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif option.repeat:
            kwargs["action"] = "append"
        elif option.cli_const is not None:
            kwargs.update(nargs="?", const=option.cli_const, metavar="NAME")
        parser.add_argument(option.flag, dest=option.key, **kwargs)
    return parser


def _apply(values: dict[str, Any], source: str, raw: Mapping[str, Any], naming: str) -> None:
    for key, value in raw.items():
        option = _OPTION_BY_KEY[key]
        name = {"file": f"{source}: {key}", "env": option.env, "cli": option.flag}[naming]
        try:
            values[key] = option.parse(value)
        except ValueError as err:
            raise ConfigError(f"{name}: {err}") from None


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"cannot read config file {path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    unknown = sorted(str(k) for k in loaded if k not in _OPTION_BY_KEY)
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s): {', '.join(unknown)}")
    return loaded


def config_file_path(cli_value: str | None, environ: Mapping[str, str]) -> Path | None:
    if cli_value:
        return Path(cli_value).expanduser()
    if environ.get(ENV_PREFIX + "CONFIG"):
        return Path(environ[ENV_PREFIX + "CONFIG"]).expanduser()
    return next((path for path in default_config_files(environ) if path.is_file()), None)


def default_config_files(environ: Mapping[str, str]) -> list[Path]:
    """Where a config file is looked for when none is named, first found wins: the user's
    ``$XDG_CONFIG_HOME/wyoming-kokoro/config.yaml``, then a source checkout's own
    ``config.yaml`` (never ``site-packages/config.yaml`` of a wheel install)."""
    base = environ.get("XDG_CONFIG_HOME") or os.path.join("~", ".config")
    files = [Path(base).expanduser() / "wyoming-kokoro" / "config.yaml"]
    if (_CHECKOUT / "pyproject.toml").is_file():
        files.append(_CHECKOUT / "config.yaml")
    return files


@dataclass
class Invocation:
    """The parsed command line: settings plus the CLI-only actions."""

    settings: Settings
    list_voices: bool = False
    show_version: bool = False
    config_path: Path | None = None
    benchmark_table: bool = False


def load_settings(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> Invocation:
    """Merge defaults, config file, environment and CLI into one :class:`Settings`."""
    environ = os.environ if environ is None else environ
    args = vars(build_parser().parse_args(argv))
    config_path = config_file_path(args.pop("config", None), environ)
    list_voices = bool(args.pop("list_voices", False))
    show_version = bool(args.pop("version", False))
    benchmark_table = bool(args.pop("benchmark_table", False))

    values: dict[str, Any] = {}
    if config_path is not None:
        _apply(values, str(config_path), read_config_file(config_path), "file")
    env_values = {o.key: environ[o.env] for o in ALL_OPTIONS if environ.get(o.env) is not None}
    _apply(values, "environment", env_values, "env")
    for key in ("data_dir", "lexicon"):  # repeated flags arrive as lists of single paths
        if key in args:
            args[key] = [str(d) for d in args[key]]
    _apply(values, "command line", args, "cli")
    switches: dict[str, ProviderSwitches] = {}
    for key in PROVIDER_KEYS:
        parts = {
            name: values.pop(f"{key}_provider_{name}")
            for name in ("enabled", "benchmark", "priority")
            if f"{key}_provider_{name}" in values
        }
        if parts:
            switches[key] = ProviderSwitches(**parts)
    settings = Settings(**values, provider_switches=switches)
    return Invocation(settings, list_voices, show_version, config_path, benchmark_table)
