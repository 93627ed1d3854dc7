"""Provider plan, routing, CPU fallback, benchmark cache and the optimized-model cache."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from wyoming_kokoro.engine.benchmark import BenchmarkCache, ProviderBenchmark, run_benchmark
from wyoming_kokoro.engine.providers import (
    ProviderSpec,
    ProviderSwitches,
    plan_providers,
    provider_spec,
)
from wyoming_kokoro.engine.router import ProviderSession, Router
from wyoming_kokoro.engine.session import (
    OpenedSession,
    SessionConfig,
    create_session,
    session_options,
)
from wyoming_kokoro.engine.synthesizer import KokoroModel
from wyoming_kokoro.engine.voices import VoiceCatalogue
from wyoming_kokoro.request import speak_text
from wyoming_kokoro.speech import Speaker, choose_voice
from wyoming_kokoro.stats import RequestStats
from wyoming_kokoro.text.g2p import Phonemizer

CPU_ONLY = ["CPUExecutionProvider"]
WITH_CUDA = ["CUDAExecutionProvider", "CPUExecutionProvider"]


def keys(plan: list[ProviderSpec]) -> list[str]:
    return [spec.key for spec in plan]


def test_auto_takes_every_available_provider_by_priority() -> None:
    available = ["CoreMLExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert keys(plan_providers(["auto"], {}, available)) == ["cuda", "ane", "mps", "cpu"]
    assert keys(plan_providers(["auto"], {}, CPU_ONLY)) == ["cpu"]


def test_switches_disable_and_reorder() -> None:
    available = ["CoreMLExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    switches = {
        "mps": ProviderSwitches(enabled=False),
        "ane": ProviderSwitches(priority=3),
    }
    assert keys(plan_providers(["auto"], switches, available)) == ["ane", "cuda", "cpu"]


def test_missing_provider_is_named_with_what_to_install(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        plan = plan_providers(["cuda", "cpu"], {}, CPU_ONLY)
    assert keys(plan) == ["cpu"]
    assert "onnxruntime-gpu" in caplog.text and "cuda" in caplog.text


def test_explicit_order_is_kept_and_cpu_always_closes_the_plan(
    caplog: pytest.LogCaptureFixture,
) -> None:
    available = ["OpenVINOExecutionProvider", *WITH_CUDA]
    assert keys(plan_providers(["openvino", "cuda"], {}, available)) == ["openvino", "cuda", "cpu"]
    with caplog.at_level(logging.WARNING):
        plan = plan_providers(["cuda"], {"cuda": ProviderSwitches(enabled=False)}, WITH_CUDA)
    assert keys(plan) == ["cpu"] and "disabled" in caplog.text


class Named:
    def __init__(self, name: str) -> None:
        self.name = name


def session(key: str, latency: float | None = None, rtf: float | None = None) -> ProviderSession:
    return ProviderSession(provider_spec(key), Named(key), latency_ms=latency, rtf=rtf)


def test_routing_by_priority_then_by_benchmark() -> None:
    cuda, openvino, cpu = session("cuda"), session("openvino"), session("cpu")
    router = Router([cuda, openvino, cpu], lambda: cpu, short_threshold=100)
    assert router.choose(20) is cuda and router.choose(400) is cuda  # plan order
    cuda.latency_ms, cuda.rtf = 80.0, 0.05
    openvino.latency_ms, openvino.rtf = 30.0, 0.20
    cpu.latency_ms, cpu.rtf = 300.0, 0.6
    assert router.choose(20) is openvino  # lowest latency for first audio
    assert router.choose(400) is cuda  # highest throughput for long segments


def test_single_provider_gets_everything() -> None:
    cpu = session("cpu")
    router = Router([cpu], lambda: cpu)
    assert router.choose(1) is cpu and router.choose(510) is cpu


# --------------------------------------------------------------------------- real model


@pytest.fixture(scope="module")
def catalogue(real_assets: tuple[Path, Path]) -> VoiceCatalogue:
    return VoiceCatalogue.from_file(real_assets[1])


@pytest.fixture(scope="module")
def phonemizer() -> Phonemizer:
    return Phonemizer()


class FlakyGpuSession:
    """A real CPU session presented as CUDA, whose runs fail once ``fail_from`` is reached."""

    def __init__(self, real: Any, fail_from: int) -> None:
        self.real = real
        self.calls = 0
        self.fail_from = fail_from

    def get_providers(self) -> list[str]:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]

    def run(self, outputs: Any, feeds: Any, run_options: Any = None) -> Any:
        self.calls += 1
        if self.calls >= self.fail_from:
            raise RuntimeError("CUDA failure 700: an illegal memory access was encountered")
        return self.real.run(outputs, feeds, run_options)


def flaky_factory(fail_from: int | None, holder: list[FlakyGpuSession]) -> Any:
    """Session factory: real CPU sessions; CUDA either cannot start or fails mid-request."""

    def factory(path: Path, spec: ProviderSpec, config: SessionConfig, digest: str) -> Any:
        if spec.key == "cpu":
            return create_session(path, spec, config)
        if fail_from is None:
            raise RuntimeError("libcudart.so.12: cannot open shared object file")
        real = create_session(path, provider_spec("cpu"), config)
        holder.append(FlakyGpuSession(real.session, fail_from))
        return OpenedSession(holder[-1], 0.01)

    return factory


async def speak(speaker: Speaker, text: str, stats: RequestStats) -> np.ndarray:
    voice = choose_voice(speaker.catalogue, "af_heart", "af_heart", None)
    return await speak_text(speaker, text, voice, 1.0, stats)


LONG_TEXT = " ".join(["the porch light turns on at sunset and off at sunrise every day"] * 20)


async def test_session_creation_failure_falls_back_to_cpu(
    real_assets: tuple[Path, Path],
    catalogue: VoiceCatalogue,
    phonemizer: Phonemizer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        model = KokoroModel(
            real_assets[0],
            providers=["cuda", "cpu"],
            available=WITH_CUDA,
            session_factory=flaky_factory(None, []),
        )
    assert "libcudart" in caplog.text
    assert [s.label for s in model.sessions] == ["CPUExecutionProvider"]
    speaker = Speaker(model, catalogue, phonemizer, "af_heart")
    stats = RequestStats(mode="oneshot", voice="af_heart", language="en_US", provider="")
    audio = await speak(speaker, "The request still succeeds.", stats)
    assert len(audio) > 24000 * 0.5
    assert stats.provider == "CPUExecutionProvider"
    speaker.close()


async def test_run_failure_mid_request_retries_on_cpu(
    real_assets: tuple[Path, Path], catalogue: VoiceCatalogue, phonemizer: Phonemizer
) -> None:
    now = [1000.0]
    flaky: list[FlakyGpuSession] = []
    model = KokoroModel(
        real_assets[0],
        providers=["cuda", "cpu"],
        available=WITH_CUDA,
        session_factory=flaky_factory(2, flaky),
        cooldown=30.0,
    )
    model.router.clock = lambda: now[0]
    speaker = Speaker(model, catalogue, phonemizer, "af_heart")
    stats = RequestStats(mode="oneshot", voice="af_heart", language="en_US", provider="")
    audio = await speak(speaker, LONG_TEXT, stats)  # more than 510 phonemes: several segments
    assert stats.segments >= 3
    # Segment 1 on "CUDA", segment 2 failed there and was redone on CPU, the rest on CPU
    # while CUDA rests: nothing is lost.
    assert flaky[0].calls == 2
    assert stats.fallback is not None and "illegal memory access" in stats.fallback
    cuda = stats.providers["CUDAExecutionProvider"]
    cpu = stats.providers["CPUExecutionProvider"]
    assert (cuda["segments"], cuda["failures"]) == (1, 1)
    assert (cpu["segments"], cpu["fallbacks"]) == (stats.segments - 1, 1)
    assert stats.provider == "CUDAExecutionProvider+CPUExecutionProvider"
    assert len(audio) / 24000 > 40  # about 240 words of speech
    usage = model.router.usage
    assert usage["CUDAExecutionProvider"].failures == 1
    assert usage["CPUExecutionProvider"].fallbacks == 1
    # After the cool-down CUDA is tried again.
    assert model.router.choose(50).spec.key == "cpu"
    now[0] += 31
    assert model.router.choose(50).spec.key == "cuda"
    speaker.close()


def test_benchmark_cache_reuses_same_key_and_remeasures_a_changed_one(
    tmp_path: Path, real_assets: tuple[Path, Path], catalogue: VoiceCatalogue
) -> None:
    calls: list[str] = []

    def fake_measure(model: KokoroModel, s: ProviderSession, style_for: Any) -> ProviderBenchmark:
        calls.append(model.config.graph_opt_level)
        from wyoming_kokoro.engine.session import cache_key

        key = cache_key(model.model_digest, s.spec, model.config)
        return ProviderBenchmark(s.label, key, 0.5, 100.0, {"30": 0.3, "150": 0.2, "400": 0.1})

    cache_path = tmp_path / "benchmarks.json"

    def bench(level: str) -> list[ProviderBenchmark]:
        model = KokoroModel(
            real_assets[0], SessionConfig(graph_opt_level=level), model_digest="abc"
        )
        return run_benchmark(
            model,
            model.sessions,
            lambda n: catalogue.style("af_heart", n),
            BenchmarkCache(cache_path),
            measure_fn=fake_measure,
        )

    first = bench("all")
    assert calls == ["all"] and not first[0].cached
    again = bench("all")
    assert calls == ["all"] and again[0].cached  # same key: reused from the file
    assert again[0].first_segment_ms == 100.0
    changed = bench("extended")
    assert calls == ["all", "extended"] and not changed[0].cached  # changed key: measured


def test_optimized_model_is_saved_once_and_reused(
    tmp_path: Path, real_assets: tuple[Path, Path]
) -> None:
    config = SessionConfig(cache_dir=tmp_path)
    cpu = provider_spec("cpu")
    first = create_session(real_assets[0], cpu, config, model_digest="digest")
    assert not first.from_cache
    assert len(list((tmp_path / "optimized").glob("*.onnx"))) == 1
    second = create_session(real_assets[0], cpu, config, model_digest="digest")
    assert second.from_cache
    feeds = {
        "tokens": np.array([[0, 50, 83, 54, 156, 57, 135, 0]], dtype=np.int64),
        "style": np.zeros((1, 256), dtype=np.float32),
        "speed": np.array([1.0], dtype=np.float32),
    }
    a = first.session.run(None, feeds)[0]
    b = second.session.run(None, feeds)[0]
    assert a.shape == b.shape and np.allclose(a, b, atol=1e-4)


def test_sessions_stop_their_threads_spinning_when_a_run_ends() -> None:
    """The text side's threads must not hold the cores while the vocoder's session runs
    right after it (each session has its own pool)."""
    options = session_options(SessionConfig())
    assert options.get_session_config_entry("session.force_spinning_stop") == "1"
