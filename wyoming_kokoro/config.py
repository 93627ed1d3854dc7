"""Settings: defaults ◄ config file ◄ KOKORO_* environment ◄ command line.

Every setting is declared once, as one field made with :func:`setting` in the
section (a frozen dataclass) of the subsystem that uses it: its name is the config
key, ``KOKORO_<NAME>`` its variable and ``--name-with-dashes`` its flag; its default,
parser and help sit beside it. :class:`Settings` inherits every section; the flags,
the environment and the file parsing are all derived from its fields, with one rule
for every setting: CLI flag > environment > config file > default. Each subsystem
takes only its own section, ``settings.section(WireSettings)``. To add a setting,
add one field to its section (and its row in README's configuration table and in
config.yaml).

This module imports nothing of the runtime: the sections and the small value types
settings parse into (provider switches, custom voices) live here.
"""

from __future__ import annotations

import argparse
import inspect
import math
import os
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import urlparse

import yaml

ENV_PREFIX = "KOKORO_"
MODEL_VARIANTS = ("int8", "fp16", "fp32")
UPSTREAM_URL = "https://github.com/thewh1teagle/kokoro-onnx/releases/download/model-files-v1.0"
# The execution providers' keys, in the catalogue's order (engine/providers.py checks it).
PROVIDER_KEYS = (
    "tensorrt",
    "cuda",
    "rocm",
    "migraphx",
    "openvino",
    "directml",
    "ane",
    "mps",
    "cpu",
)
_CHECKOUT = Path(__file__).resolve().parent.parent  # a source checkout, or site-packages


class ConfigError(ValueError):
    """A setting has an invalid value; the message names where it came from."""


def default_download_dir() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join("~", ".local", "share")
    return os.path.join(base, "wyoming-kokoro")


@dataclass(frozen=True)
class CustomVoice:
    """A named blend from the configuration."""

    weights: dict[str, float]
    speed: float | None = None
    description: str | None = None


@dataclass(frozen=True)
class ProviderSwitches:
    """The three per-provider settings (KOKORO_<NAME>_PROVIDER_ENABLED/BENCHMARK/PRIORITY)."""

    enabled: bool = True
    benchmark: bool | None = None  # None: follow benchmark_providers
    priority: int | None = None  # None: the catalogue's default

    def effective_priority(self, spec: Any) -> int:
        """``spec`` is an engine ProviderSpec: anything with an int ``priority``."""
        priority: int = spec.priority if self.priority is None else self.priority
        return priority


# --------------------------------------------------------------------------- value parsers


def _str(value: Any) -> str:
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ValueError(f"expected a string, got {value!r}")
    return str(value)


def _folder(value: Any) -> str:
    """A folder; empty (``KOKORO_DOWNLOAD_DIR=``) means the default, not the current one."""
    text = _str(value).strip()
    return text or default_download_dir()


def _off_or_str(value: Any) -> str:
    """A file name, or off: YAML reads ``off``, ``false`` and an empty value as False or
    None, which mean off here as "off" does on the command line."""
    if value is None or value is False:
        return "off"
    return _str(value)


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
        if kind is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(f"expected a whole number, got {value!r}")  # YAML's 1000.9
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
    wrong = ValueError(f"must be tcp://HOST:PORT or unix://PATH, got {value!r}")
    parsed = urlparse(text)
    if parsed.scheme == "unix" and parsed.path and not parsed.path.endswith("/"):
        return text
    if parsed.scheme != "tcp" or not parsed.hostname:
        raise wrong
    try:
        port = parsed.port  # ValueError for "tcp://host:abc" or a port over 65535
    except ValueError:
        raise wrong from None
    if port is None:
        raise wrong
    return text


def _url(value: Any) -> str:
    text = _str(value).strip().rstrip("/")
    if urlparse(text).scheme not in ("http", "https", "file"):
        raise ValueError(f"must be an http://, https:// or file:// URL, got {value!r}")
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
            if (
                isinstance(weight, bool)
                or not isinstance(weight, (int, float))
                or not math.isfinite(weight)
                or weight <= 0
            ):
                raise ValueError(f"{name}: the weight of {voice} must be a finite number > 0")
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


def _http_address(value: Any) -> str | None:
    """Off (None), or ``HOST:PORT`` to serve HTTP on (``8880`` alone: every interface)."""
    if value is None or value is False:
        return None
    text = _str(value).strip()
    if text.lower() in ("", "false", "no", "off", "none", "0"):
        return None
    host, colon, port = text.rpartition(":")
    if not colon:
        host, port = "0.0.0.0", text
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT (e.g. 0.0.0.0:8880), got {value!r}")
    return f"{host or '0.0.0.0'}:{int(port)}"


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
    section: str = ""  # the section class that declares it
    repeat: bool = False
    cli_const: str | None = None  # value of the flag given without an argument
    cli: bool = True  # False: config file and environment only

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.key.upper()

    @property
    def flag(self) -> str:
        return "--" + self.key.replace("_", "-")

    @property
    def takes_value(self) -> bool:
        """The flag always takes one value (not a switch, not an optional value)."""
        return self.cli and self.parse is not _bool and self.cli_const is None


def setting(
    default: Any,
    parse: Callable[[Any], Any],
    help: str,
    *,
    repeat: bool = False,
    cli_const: str | None = None,
    cli: bool = True,
) -> Any:
    """One row of the settings table: a dataclass field carrying its :class:`Option`.

    A list or dict default is copied for each instance; a callable default is called
    (for defaults that depend on the environment).
    """
    option = Option("", parse, help, "", repeat, cli_const, cli)
    metadata = {"option": option}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    if callable(default):
        return field(default_factory=default, metadata=metadata)
    return field(default=default, metadata=metadata)


# --------------------------------------------------------------------------- sections
#
# Each subsystem's settings object is one section below; every setting is one field of
# the one section that declares it. A setting two subsystems need lives in a small base
# section both inherit (FolderSettings, ListenSettings, FrontDoorSettings,
# LexiconSettings), so it is still declared once. Settings inherits every section.


@dataclass(frozen=True)
class FolderSettings:
    """Where assets are looked for and written (shared by assets, engine, speech, http, stats)."""

    data_dir: list[str] = setting(
        [], _path_list, "folder searched for model and voices (repeatable)", repeat=True
    )
    download_dir: str = setting(
        default_download_dir, _folder, "folder for assembled, imported and downloaded assets"
    )

    @property
    def download_path(self) -> Path:
        return Path(self.download_dir).expanduser()

    @property
    def data_paths(self) -> list[Path]:
        return [Path(d).expanduser() for d in self.data_dir]


@dataclass(frozen=True)
class ListenSettings:
    """The Wyoming address (shared by the wire server and its zeroconf announcement)."""

    uri: str = setting(
        "tcp://0.0.0.0:10200", _uri, "where to listen: tcp://HOST:PORT or unix://PATH"
    )


@dataclass(frozen=True)
class FrontDoorSettings:
    """What both front doors (Wyoming and HTTP) apply to every request."""

    speed: float = setting(1.0, _number(float, 0.5, 2.0), "default speaking rate, 0.5 to 2.0")
    max_text_chars: int = setting(
        20_000, _number(int, 1, 10_000_000), "longest text of one synthesize"
    )
    max_connections: int = setting(32, _number(int, 1, 100_000), "connections served at once")
    write_timeout: float = setting(
        60.0, _number(float, 1.0, 86400.0), "drop a client that reads nothing this long"
    )


@dataclass(frozen=True)
class LexiconSettings(FolderSettings):
    """The pronunciation lexicons (the speaker reads them, the web page edits the first)."""

    lexicon: list[str] = setting(
        [],
        _path_list,
        "pronunciation lexicon file, reloaded when it changes (repeatable; default: "
        "lexicon.yaml in the download dir and in each data dir)",
        repeat=True,
    )
    default_lexicon: bool = setting(
        True, _bool, "the built-in smart-home lexicon (your entries win)"
    )

    @property
    def lexicon_paths(self) -> list[Path]:
        """The user's lexicon files: as set, else lexicon.yaml in the download and data dirs."""
        if self.lexicon:
            return [Path(p).expanduser() for p in self.lexicon]
        folders = [self.download_path, *self.data_paths]
        return list(dict.fromkeys(folder / "lexicon.yaml" for folder in folders))


@dataclass(frozen=True)
class ProcessSettings:
    """The process itself: logging and shutdown (``__main__``)."""

    debug: bool = setting(False, _bool, "log at DEBUG level")
    shutdown_timeout: float = setting(
        10.0,
        _number(float, 0.0, 3600.0),
        "on SIGTERM/SIGINT, seconds requests in progress get to finish",
    )


@dataclass(frozen=True)
class AssetSettings(FolderSettings):
    """Finding, verifying and downloading the model and voices (``assets``)."""

    model: str | None = setting(None, _optional_path, "explicit path to a Kokoro .onnx model")
    voices: str | None = setting(
        None, _optional_path, "explicit path to a voices file (voices-v1.0.bin)"
    )
    model_variant: str = setting("int8", _choice(*MODEL_VARIANTS), "int8, fp16 or fp32")
    download: bool = setting(True, _bool, "allow downloading missing assets from download_url")
    download_url: str = setting(
        UPSTREAM_URL, _url, "base URL of the kokoro-onnx model-files-v1.0 release"
    )


@dataclass(frozen=True)
class EngineSettings(FolderSettings):
    """onnxruntime, providers and routing (``engine``); the download dir caches optimized models."""

    provider: list[str] = setting(
        ["auto"],
        _provider_list,
        f"execution providers in order of preference, comma-separated ({', '.join(PROVIDER_KEYS)}),"
        " or auto (every available one by priority)",
    )
    device_id: int = setting(0, _number(int, 0, 64), "GPU index for CUDA, TensorRT, ROCm, DirectML")
    openvino_device: str = setting(
        "GPU", _str, "OpenVINO device_type: CPU, GPU, NPU, AUTO:GPU,CPU…"
    )
    graph_opt_level: str = setting(
        "all",
        _choice("disabled", "basic", "extended", "all"),
        "onnxruntime graph optimization level",
    )
    optimized_model_cache: bool = setting(
        True, _bool, "save the optimized model once per provider and load it at the next start"
    )
    cpu_intra_threads: int = setting(
        0, _number(int, 0, 256), "CPU threads inside an operator (0: auto)"
    )
    cpu_inter_threads: int = setting(
        0, _number(int, 0, 256), "CPU threads across operators (0: sequential execution)"
    )
    cpu_mem_arena: bool = setting(True, _bool, "onnxruntime's CPU memory arena")
    cpu_arena_shrink: bool = setting(
        True, _bool, "return the CPU arena's free memory whenever the engine goes idle"
    )
    mem_pattern: bool = setting(
        False,
        _bool,
        "onnxruntime's memory-pattern planning (costs memory: Kokoro's shapes vary)",
    )
    verbose_logs: bool = setting(False, _bool, "onnxruntime's own verbose logging")
    benchmark_providers: bool = setting(
        False,
        _bool,
        "benchmark providers at start-up to order the routing (CLI --benchmark-providers "
        "instead prints the table and exits)",
        cli=False,
    )
    short_segment_phonemes: int = setting(
        150,
        _number(int, 1, 510),
        "segments up to this many phonemes go to the lowest-latency provider",
    )
    provider_cooldown: float = setting(
        60.0,
        _number(float, 0.0, 86400.0),
        "seconds a failed provider rests before it is tried again",
    )
    vocoder_split: bool = setting(
        True,
        _bool,
        "vocode a segment in parts: its opening is sent while the rest renders",
    )
    native_kernels: bool = setting(
        True,
        _bool,
        "compile the vocoder's elementwise chains as onnxruntime kernels at the first start "
        "(needs a C++ compiler, Eigen and onnxruntime's C API headers; the same audio to the "
        "bit) and keep them if they are faster",
    )
    scheduler: str = setting(
        "first-segment",
        _choice("deadline", "first-segment"),
        "inference order: every first segment first, or by playback deadline",
    )
    # KOKORO_<NAME>_PROVIDER_ENABLED / _BENCHMARK / _PRIORITY, one entry per provider key
    # (derived options: see SWITCH_OPTIONS)
    provider_switches: dict[str, ProviderSwitches] = field(default_factory=dict)

    def switches(self, key: str) -> ProviderSwitches:
        return self.provider_switches.get(key, ProviderSwitches())


@dataclass(frozen=True)
class SpeechSettings(LexiconSettings):
    """Voices, text and the phrase cache (the speaker and the voice catalogue)."""

    voice: str = setting("af_heart", _str, "default voice (see --list-voices)")
    phrase_cache_mb: int = setting(
        32, _number(int, 0, 65536), "memory for repeated phrases' audio (0: off)"
    )
    first_clause: bool = setting(
        True,
        _bool,
        "speak a stream's first clause as soon as it is complete (and a one-shot's, when it "
        "is not planned whole)",
    )
    custom_voices: dict[str, CustomVoice] = setting(
        {},
        _custom_voices,
        "named blends as YAML: {cozy: {af_heart: 0.7, af_bella: 0.3, speed: 1.1}}",
    )


@dataclass(frozen=True)
class ShapingSettings:
    """Output audio shaping: pauses, loudness, volume, tail (shaping.AudioSettings)."""

    sentence_silence: float | None = setting(
        None,
        _off_or(_number(float, 0.0, 10.0), "auto"),
        "seconds of silence after a sentence (auto: Kokoro's own pause for the language)",
    )
    clause_silence: float | None = setting(
        None,
        _off_or(_number(float, 0.0, 10.0), "auto"),
        "seconds of silence after a clause's comma, semicolon, colon or dash (auto: Kokoro's)",
    )
    paragraph_silence: float | None = setting(
        None,
        _off_or(_number(float, 0.0, 10.0), "auto"),
        "seconds of silence after a paragraph (auto: the sentence pause + 0.3 s)",
    )
    loudness_lufs: float | None = setting(
        -20.0,
        _off_or(_number(float, -50.0, -5.0), "off", "none", "false", "no"),
        "bring every request to this integrated loudness (LUFS; off: as the voice makes it)",
    )
    volume: float = setting(1.0, _volume, "volume on top: a factor (1.5) or decibels (6dB, -3dB)")
    tail_silence: float = setting(
        0.2,
        _number(float, 0.0, 10.0),
        "seconds of silence after a request's last audio (for players that cut the end)",
    )


@dataclass(frozen=True)
class WireSettings(ListenSettings, FrontDoorSettings):
    """The Wyoming front door: the server, each connection's reader, writer and admission."""

    samples_per_chunk: int = setting(
        1024, _number(int, 64, 96000), "PCM samples per audio-chunk event"
    )
    max_header_bytes: int = setting(
        64 * 1024, _number(int, 1024, 16 * 2**20), "longest event header line"
    )
    max_data_bytes: int = setting(
        256 * 1024, _number(int, 1024, 64 * 2**20), "largest data_length accepted"
    )
    max_payload_bytes: int = setting(
        1024 * 1024, _number(int, 0, 256 * 2**20), "largest payload_length accepted"
    )
    max_stream_chars: int = setting(
        100_000, _number(int, 1, 10_000_000), "longest text of one stream"
    )
    idle_timeout: float = setting(
        300.0, _number(float, 1.0, 86400.0), "close a connection silent this long (s)"
    )


@dataclass(frozen=True)
class HttpSettings(FrontDoorSettings, LexiconSettings):
    """The HTTP front door (wyoming_kokoro/http): OpenAI's speech API and the web page."""

    http: str | None = setting(
        None,
        _http_address,
        "serve OpenAI's /v1/audio/speech and the web page on HOST:PORT (off by default)",
    )
    http_api_key: str | None = setting(
        None,
        _optional_path,
        "Bearer token the HTTP API asks for (and that allows writes from outside ingress)",
    )


@dataclass(frozen=True)
class DiscoverySettings(ListenSettings):
    """The zeroconf announcement of the Wyoming service (``discovery``)."""

    zeroconf: str | None = setting(
        None,
        _zeroconf,
        "announce _wyoming._tcp over mDNS with this name (flag alone: kokoro-<MAC>)",
        cli_const="true",
    )
    zeroconf_address: str | None = setting(
        None,
        _host_port,
        "announce this HOST:PORT over zeroconf instead of our own (a load balancer's)",
    )


@dataclass(frozen=True)
class LivenessSettings:
    """A request keeps moving: the stall bound and a paused stream's keep-alive (``liveness``)."""

    stall_timeout: float = setting(
        30.0,
        _number(float, 0.0, 86400.0),
        "end a request whose own work (model load, G2P, inference) makes no progress this "
        "long (s; 0: never)",
    )
    stream_keepalive: bool = setting(
        True,
        _bool,
        "once a stream speaks, send silence whenever its audio would run out (a pause in its text)",
    )


@dataclass(frozen=True)
class StatsSettings(FolderSettings):
    """The stats file and its rotation (``stats``)."""

    stats_file: str = setting(
        "stats.jsonl",
        _off_or_str,
        "JSON-lines stats file; a bare name lives in the download dir; none",
    )
    stats_max_mb: float = setting(
        10.0, _number(float, 0.01, 1e6), "rotate the stats file at this size (MB)"
    )
    stats_keep: int = setting(
        5, _number(int, 0, 1000), "rotated stats files kept (stats.jsonl.1 …)"
    )

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


SECTIONS: tuple[type, ...] = (
    ListenSettings,
    FrontDoorSettings,
    FolderSettings,
    LexiconSettings,
    ProcessSettings,
    AssetSettings,
    EngineSettings,
    SpeechSettings,
    ShapingSettings,
    WireSettings,
    HttpSettings,
    DiscoverySettings,
    LivenessSettings,
    StatsSettings,
)

_T = TypeVar("_T")


@dataclass(frozen=True)
class Settings(
    ProcessSettings,
    WireSettings,
    SpeechSettings,
    AssetSettings,
    StatsSettings,
    DiscoverySettings,
    EngineSettings,
    ShapingSettings,
    LivenessSettings,
    HttpSettings,
):
    """Everything the server needs to start: every section's settings, flat. Built by
    :func:`load_settings`; each subsystem takes its own section (:meth:`section`)."""

    def section(self, kind: type[_T]) -> _T:
        """The settings object of one subsystem: ``kind`` (a dataclass) with each of its
        fields that is a setting taken from here; its other fields keep their defaults."""
        names = {f.name for f in fields(Settings)}
        values = {f.name: getattr(self, f.name) for f in fields(cast(Any, kind)) if f.name in names}
        return kind(**values)


def _declared_in(name: str) -> str:
    """The section class whose own body declares the field ``name``."""
    for cls in SECTIONS:
        if name in inspect.get_annotations(cls):
            return cls.__name__
    raise LookupError(name)


_SECTION_NAMES = [cls.__name__ for cls in SECTIONS]
# In the order of SECTIONS (--help lists them so), each section's in its own order.
OPTIONS: tuple[Option, ...] = tuple(
    sorted(
        (
            replace(f.metadata["option"], key=f.name, section=_declared_in(f.name))
            for f in fields(Settings)
            if "option" in f.metadata
        ),
        key=lambda option: _SECTION_NAMES.index(option.section),
    )
)
SWITCH_OPTIONS: tuple[Option, ...] = tuple(
    option
    for key in PROVIDER_KEYS
    for option in (
        Option(
            f"{key}_provider_enabled",
            _bool,
            f"use the {key} provider when available",
            "EngineSettings",
        ),
        Option(
            f"{key}_provider_benchmark",
            _optional_bool,
            f"benchmark {key} at start-up: true, false, or auto (follow benchmark_providers)",
            "EngineSettings",
        ),
        Option(
            f"{key}_provider_priority",
            _optional_priority,
            f"{key}'s priority (lower first)",
            "EngineSettings",
        ),
    )
)
ALL_OPTIONS = OPTIONS + SWITCH_OPTIONS
_OPTION_BY_KEY = {option.key: option for option in ALL_OPTIONS}


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


_VALUE_FLAGS = frozenset(o.flag for o in ALL_OPTIONS if o.takes_value) | {"--config"}


def join_values(argv: Sequence[str]) -> list[str]:
    """``--volume -3dB`` as ``--volume=-3dB``: a flag that always takes a value takes the next
    word even when it starts with a dash (argparse would read it as an unknown flag)."""
    joined: list[str] = []
    words = iter(argv)
    for word in words:
        if word in _VALUE_FLAGS:
            value = next(words, None)
            joined.append(word if value is None else f"{word}={value}")
        else:
            joined.append(word)
    return joined


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
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
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
    argv = join_values(sys.argv[1:] if argv is None else argv)
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
    for key in (o.key for o in OPTIONS if o.repeat):  # repeated flags arrive as lists
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
