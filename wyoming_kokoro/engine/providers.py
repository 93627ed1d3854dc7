"""Execution providers: the catalogue, detection, and which ones this server will use.

Knows nothing of onnxruntime's objects: it works on provider names, so that the plan can
be tested with any list of "available" providers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..config import PROVIDER_KEYS as PROVIDER_KEYS
from ..config import ProviderSwitches as ProviderSwitches

_LOGGER = logging.getLogger(__name__)

GPU_HINT = (
    "the gpu extra: pip install 'wyoming-kokoro[gpu]' (onnxruntime-gpu, with CUDA 12 and cuDNN 9)"
)


@dataclass(frozen=True)
class ProviderContext:
    """What provider options are built from."""

    device_id: int = 0
    openvino_device: str = "GPU"
    cache_dir: Path = Path(".")


@dataclass(frozen=True)
class ProviderSpec:
    """One way of running the model: an onnxruntime provider plus its options."""

    key: str  # our name: cpu, cuda, ane, mps…
    ort_name: str  # onnxruntime's name
    priority: int  # default; lower = preferred
    install: str  # what to install when it is missing
    options: Callable[[ProviderContext], dict[str, str]] = field(default=lambda ctx: {})

    def provider_options(self, ctx: ProviderContext) -> dict[str, str]:
        return self.options(ctx)


def _device(ctx: ProviderContext) -> dict[str, str]:
    return {"device_id": str(ctx.device_id)}


PROVIDERS: tuple[ProviderSpec, ...] = (
    ProviderSpec(
        "tensorrt",
        "TensorrtExecutionProvider",
        5,
        GPU_HINT + " plus TensorRT 10",
        lambda ctx: {
            **_device(ctx),
            "trt_fp16_enable": "True",
            "trt_engine_cache_enable": "True",
            "trt_engine_cache_path": str(ctx.cache_dir / "tensorrt"),
            "trt_timing_cache_enable": "True",
        },
    ),
    ProviderSpec(
        "cuda",
        "CUDAExecutionProvider",
        10,
        GPU_HINT,
        # Kokoro's input length changes with every sentence: exhaustive cuDNN search would
        # re-run for each new shape, DEFAULT picks a good algorithm at once.
        lambda ctx: {**_device(ctx), "cudnn_conv_algo_search": "DEFAULT"},
    ),
    ProviderSpec("rocm", "ROCMExecutionProvider", 15, "onnxruntime-rocm (AMD ROCm build)", _device),
    ProviderSpec(
        "migraphx", "MIGraphXExecutionProvider", 16, "onnxruntime-migraphx (AMD build)", _device
    ),
    ProviderSpec(
        "openvino",
        "OpenVINOExecutionProvider",
        20,
        "onnxruntime-openvino (Intel CPU, iGPU and NPU)",
        lambda ctx: {"device_type": ctx.openvino_device},
    ),
    ProviderSpec("directml", "DmlExecutionProvider", 25, "onnxruntime-directml (Windows)", _device),
    ProviderSpec(
        "ane",
        "CoreMLExecutionProvider",
        30,
        "onnxruntime on macOS (CoreML is in the standard macOS wheel)",
        lambda ctx: {"MLComputeUnits": "CPUAndNeuralEngine", "ModelFormat": "MLProgram"},
    ),
    ProviderSpec(
        "mps",
        "CoreMLExecutionProvider",
        31,
        "onnxruntime on macOS (CoreML is in the standard macOS wheel)",
        lambda ctx: {
            "MLComputeUnits": "CPUAndGPU",
            "ModelFormat": "MLProgram",
            "AllowLowPrecisionAccumulationOnGPU": "1",
        },
    ),
    ProviderSpec("cpu", "CPUExecutionProvider", 100, "onnxruntime"),
)
if tuple(p.key for p in PROVIDERS) != PROVIDER_KEYS:  # config names them without importing us
    raise ImportError("config.PROVIDER_KEYS and the provider catalogue differ")
_BY_KEY = {p.key: p for p in PROVIDERS}
CPU = _BY_KEY["cpu"]


def provider_spec(key: str) -> ProviderSpec:
    return _BY_KEY[key]


def plan_providers(
    requested: Sequence[str],
    switches: Mapping[str, ProviderSwitches],
    available: Sequence[str],
) -> list[ProviderSpec]:
    """The providers to open sessions for, most preferred first.

    ``requested`` is an ordered list of provider keys, or ``["auto"]`` for every available
    one by priority. Anything asked for but unusable is named in a warning with what to
    install, and the plan goes on with the next one; CPU closes every plan.
    """
    available_set = set(available)
    auto = list(requested) == ["auto"] or not requested
    if auto:
        candidates = sorted(
            PROVIDERS,
            key=lambda p: switches.get(p.key, ProviderSwitches()).effective_priority(p),
        )
    else:
        candidates = [_BY_KEY[key] for key in requested]
    plan: list[ProviderSpec] = []
    for spec in candidates:
        switch = switches.get(spec.key, ProviderSwitches())
        if not switch.enabled:
            if not auto:
                _LOGGER.warning(
                    "Provider %s was asked for but is disabled (KOKORO_%s_PROVIDER_ENABLED=false)",
                    spec.key,
                    spec.key.upper(),
                )
            continue
        if spec.ort_name not in available_set:
            if not auto:
                _LOGGER.warning(
                    "Provider %s (%s) is not available in this onnxruntime build; install %s. "
                    "Going on with the next provider.",
                    spec.key,
                    spec.ort_name,
                    spec.install,
                )
            continue
        if spec not in plan:
            plan.append(spec)
    if CPU not in plan:
        if not auto and "cpu" not in requested:
            _LOGGER.warning("Adding CPU as the fallback for %s", ", ".join(requested))
        plan.append(CPU)
    if plan == [CPU] and not auto and "cpu" not in requested:
        _LOGGER.warning(
            "None of the requested providers (%s) is usable: running on CPU", ", ".join(requested)
        )
    return plan
