"""onnxruntime sessions: options, one session per provider, the optimized-model cache."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Switch off onnxruntime's telemetry before it is imported anywhere.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
os.environ.setdefault("ORT_TELEMETRY_DISABLED", "1")

import onnxruntime as ort  # noqa: E402

from ..config import EngineSettings  # noqa: E402
from .providers import ProviderContext, ProviderSpec  # noqa: E402

_LOGGER = logging.getLogger(__name__)

OPT_LEVELS = {
    "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}
# Providers that compile the graph cannot save it as an optimized ONNX file (they keep
# their own caches, such as TensorRT's engine cache).
_SERIALIZABLE = {"cpu", "cuda", "rocm"}


@dataclass(frozen=True)
class SessionConfig:
    """How sessions are built (from the server's settings)."""

    graph_opt_level: str = "all"
    optimized_model_cache: bool = True
    cache_dir: Path | None = None
    intra_threads: int = 0
    inter_threads: int = 0
    mem_arena: bool = True
    mem_pattern: bool = False
    arena_shrink: bool = True
    verbose: bool = False
    native_kernels: bool = True
    native_library: Path | None = None  # engine/native.py's, registered in every session
    context: ProviderContext = field(default_factory=ProviderContext)

    @classmethod
    def from_settings(cls, settings: EngineSettings) -> SessionConfig:
        """The server's sessions: optimized models and provider caches in the download dir."""
        return cls(
            graph_opt_level=settings.graph_opt_level,
            optimized_model_cache=settings.optimized_model_cache,
            cache_dir=settings.download_path,
            intra_threads=settings.cpu_intra_threads,
            inter_threads=settings.cpu_inter_threads,
            mem_arena=settings.cpu_mem_arena,
            mem_pattern=settings.mem_pattern,
            arena_shrink=settings.cpu_arena_shrink,
            verbose=settings.verbose_logs,
            native_kernels=settings.native_kernels,
            context=ProviderContext(
                device_id=settings.device_id,
                openvino_device=settings.openvino_device,
                cache_dir=settings.download_path,
            ),
        )


def hardware_name() -> str:
    """A readable CPU name: part of the benchmark and optimized-model cache keys."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cache_key(model_digest: str, spec: ProviderSpec, config: SessionConfig) -> str:
    """What an optimized model or a benchmark result depends on, as a short digest."""
    parts = {
        "model": model_digest,
        "onnxruntime": ort.__version__,
        "provider": spec.key,
        "options": spec.provider_options(config.context),
        "level": config.graph_opt_level,
        "hardware": hardware_name(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def writable_folder(folder: Path) -> bool:
    """Whether optimized models can be saved in ``folder`` (made if missing). A download
    dir that cannot be written (a read-only volume) is no reason not to serve: the
    sessions are then opened without saving them, and built again at the next start."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if os.access(folder, os.W_OK):
            return True
        reason = "not writable"
    except OSError as err:
        reason = str(err)
    _LOGGER.warning("Not caching optimized models in %s (%s)", folder, reason)
    return False


def session_options(config: SessionConfig, level: str | None = None) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.graph_optimization_level = OPT_LEVELS[level or config.graph_opt_level]
    options.log_severity_level = 0 if config.verbose else 3
    options.log_verbosity_level = 1 if config.verbose else 0
    if config.intra_threads > 0:
        options.intra_op_num_threads = config.intra_threads
    if config.inter_threads > 0:
        options.inter_op_num_threads = config.inter_threads
        options.execution_mode = ort.ExecutionMode.ORT_PARALLEL
    options.enable_cpu_mem_arena = config.mem_arena
    options.enable_mem_pattern = config.mem_pattern
    # Each session has its own pool of threads, which spin for new work after a run by
    # default: the text side's and the frame-rate half's would then hold the cores while
    # the vocoder runs right after them (a short command's inference took 1.2x as long).
    # Stopped at the end of each run, they spin only within it.
    options.add_session_config_entry("session.force_spinning_stop", "1")
    if config.native_library is not None:
        options.register_custom_ops_library(str(config.native_library))
    return options


@dataclass
class OpenedSession:
    session: Any  # an onnxruntime.InferenceSession, or anything with its run()
    startup_s: float
    from_cache: bool = False


def create_session(
    model_path: Path, spec: ProviderSpec, config: SessionConfig, model_digest: str = ""
) -> OpenedSession:
    """Open ``model_path`` on one provider; reuse or write its optimized model."""
    providers = [(spec.ort_name, spec.provider_options(config.context))]
    if spec.key != "cpu":
        providers.append(("CPUExecutionProvider", {}))  # for operators the provider lacks
    started = time.perf_counter()
    cached: Path | None = None
    if (
        config.optimized_model_cache
        and config.cache_dir is not None
        and model_digest
        and spec.key in _SERIALIZABLE
        and config.graph_opt_level != "disabled"
    ):
        cached = config.cache_dir / "optimized" / f"{cache_key(model_digest, spec, config)}.onnx"
        if cached.is_file():
            try:
                session = ort.InferenceSession(
                    str(cached), session_options(config, "disabled"), providers=providers
                )
                return OpenedSession(session, time.perf_counter() - started, from_cache=True)
            except Exception as err:  # a stale or broken cache file: rebuild it
                _LOGGER.warning("Ignoring optimized model %s: %s", cached, err)
                cached.unlink(missing_ok=True)
    options = session_options(config)
    if cached is not None and not writable_folder(cached.parent):
        cached = None
    if cached is not None:
        options.optimized_model_filepath = str(cached)
    try:
        session = ort.InferenceSession(str(model_path), options, providers=providers)
    except Exception:
        if cached is None:
            raise
        # Saving can fail (read-only folder, provider-specific nodes): open without it.
        with contextlib.suppress(OSError):
            cached.unlink(missing_ok=True)
        session = ort.InferenceSession(
            str(model_path), session_options(config), providers=providers
        )
    return OpenedSession(session, time.perf_counter() - started)
