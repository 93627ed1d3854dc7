"""Command line: parse settings, find assets, load the engine, serve Wyoming."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any, cast

from . import __version__
from .assets import AssetError, file_digest, resolve_model, resolve_voices
from .config import (
    AssetSettings,
    ConfigError,
    DiscoverySettings,
    EngineSettings,
    HttpSettings,
    Settings,
    SpeechSettings,
    StatsSettings,
    WireSettings,
    load_settings,
)
from .discovery import ZeroconfAnnouncer, ZeroconfUnavailableError
from .engine.benchmark import BenchmarkCache, format_table, run_benchmark
from .engine.synthesizer import KokoroModel, ModelLoadError
from .engine.voices import UnknownVoiceError, VoiceCatalogue, VoicesFileError
from .handler import KokoroConnection
from .http.metrics import ObservedStatsWriter
from .http.store import load_saved_voices
from .info import build_info
from .liveness import Liveness
from .server import KokoroServer
from .shaping import AudioSettings
from .speech import Speaker, SpeakerHandle
from .stats import StatsWriter
from .text.g2p import Phonemizer

_LOGGER = logging.getLogger("wyoming_kokoro")


def _print_voices(catalogue: VoiceCatalogue) -> None:
    for voice in catalogue.voices:
        print(f"{voice.name:<16} {voice.locale:<6} {voice.description}")


def _load_catalogue(assets: AssetSettings, speech: SpeechSettings) -> VoiceCatalogue:
    voices_path, _ = resolve_voices(assets)
    catalogue = VoiceCatalogue.from_file(voices_path)
    for name, custom in speech.custom_voices.items():
        try:
            catalogue.add_custom(name, custom.weights, custom.speed, custom.description)
        except UnknownVoiceError as err:
            raise ConfigError(f"custom_voices: {err}") from None
    load_saved_voices(catalogue, speech.download_path)  # saved from the web page
    if speech.voice not in catalogue:
        raise ConfigError(f"voice: {speech.voice!r} is not a known voice (see --list-voices)")
    return catalogue


def _load_speaker(settings: Settings, catalogue: VoiceCatalogue) -> Speaker:
    """Find the model, open its sessions, build the G2P and warm everything up."""
    model_path, _ = resolve_model(settings.section(AssetSettings))
    engine = settings.section(EngineSettings)
    model = KokoroModel.from_settings(model_path, engine, model_digest=file_digest(model_path))
    speech = settings.section(SpeechSettings)
    audio = settings.section(AudioSettings)
    speaker = Speaker.from_settings(
        model, catalogue, Phonemizer(), speech, audio, scheduler=engine.scheduler
    )
    speaker.warm_up()
    _benchmark(engine, speech.voice, model, catalogue, table=False)
    release_freed_memory()
    return speaker


def _benchmark(
    engine: EngineSettings, voice: str, model: KokoroModel, catalogue: VoiceCatalogue, table: bool
) -> None:
    """Benchmark at start-up (cached) or for --benchmark-providers (measured afresh)."""
    sessions = [
        s
        for s in model.sessions
        if table
        or (
            engine.switches(s.spec.key).benchmark
            if engine.switches(s.spec.key).benchmark is not None
            else engine.benchmark_providers
        )
    ]
    if not sessions:
        return
    results = run_benchmark(
        model,
        sessions,
        lambda n: catalogue.style(voice, n),
        BenchmarkCache(engine.download_path / "benchmarks.json"),
        refresh=table,
    )
    if table:
        print(format_table(results))
    else:
        for result in results:
            _LOGGER.info(
                "Benchmark %s%s: first segment %.0f ms, RTF %.3f",
                result.provider,
                " (cached)" if result.cached else "",
                result.first_segment_ms,
                result.long_rtf,
            )
    _LOGGER.info(
        "Routing: short segments -> %s, long segments -> %s",
        model.router.choose(1).label,
        model.router.choose(510).label,
    )


def _in_daemon_thread(fn: Callable[..., Speaker], *args: Any) -> asyncio.Future[Speaker]:
    """Run ``fn`` on a daemon thread: a shutdown never waits for a model still loading."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Speaker] = loop.create_future()

    def settle(result: Speaker | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def work() -> None:
        try:
            result, error = fn(*args), None
        except BaseException as err:  # handed to the event loop, never lost
            result, error = None, err
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=work, name="model-loader", daemon=True).start()
    return future


class StartupError(RuntimeError):
    """The server cannot start; the message says which step failed and why."""


def _loaded(load_task: asyncio.Future[Speaker]) -> Speaker:
    try:
        return load_task.result()
    except (AssetError, ModelLoadError, VoicesFileError):
        raise  # their messages name the file and the fix
    except (OSError, ValueError) as err:
        raise StartupError(f"Cannot load the model: {err}") from err


async def _announce(settings: DiscoverySettings) -> ZeroconfAnnouncer:
    announcer = ZeroconfAnnouncer.from_settings(settings)
    try:
        await announcer.start()
    except OSError as err:
        raise StartupError(f"Cannot announce {settings.zeroconf!r} over zeroconf: {err}") from err
    return announcer


async def _listen(
    settings: WireSettings, handle: SpeakerHandle, stats_writer: StatsWriter
) -> KokoroServer:
    def factory(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> KokoroConnection:
        # Info is built per connection: voices saved from the web page join it at once.
        return connection(reader, writer, info_event=build_info(handle.catalogue).event())

    connection = partial(
        KokoroConnection, speaker=handle, stats_writer=stats_writer, settings=settings
    )
    server = KokoroServer(settings, factory)
    try:
        await server.start()
    except (OSError, ValueError) as err:
        raise StartupError(f"Cannot listen on {settings.uri}: {err}") from err
    _LOGGER.info(
        "Listening on %s; loading the model (Describe is answered meanwhile)", settings.uri
    )
    return server


async def _listen_http(
    settings: HttpSettings, handle: SpeakerHandle, stats_writer: StatsWriter
) -> Any:
    """The HTTP front door (OpenAI's speech API, the web page), when ``http`` is set."""
    from .http.app import HttpFrontDoor, HttpOptions  # aiohttp only when asked for
    from .http.metrics import Metrics

    metrics = getattr(stats_writer, "metrics", None) or Metrics()
    front = HttpFrontDoor(handle, stats_writer, metrics, HttpOptions.from_settings(settings))
    try:
        await front.start()
    except (OSError, ValueError) as err:
        raise StartupError(f"Cannot serve HTTP on {settings.http}: {err}") from err
    _LOGGER.info("HTTP (OpenAI speech API and web page) on http://%s/", settings.http)
    return front


def _hand_over(handle: SpeakerHandle, task: asyncio.Future[Speaker]) -> None:
    """Whenever the load ends (even during a shutdown), requests waiting for it go on."""
    if task.cancelled():
        handle.fail(RuntimeError("start-up was cancelled"))
    elif task.exception() is not None:
        handle.fail(task.exception() or RuntimeError("unknown"))
    else:
        handle.set(task.result())


async def _serve(
    settings: Settings, handle: SpeakerHandle, stats_writer: StatsWriter, started: float
) -> None:
    """Listen at once (Describe works from the first second); load the model meanwhile.

    SIGTERM / SIGINT: stop accepting, let requests in progress finish within
    shutdown_timeout, cancel the rest; the caller then flushes the stats file.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    server = await _listen(settings.section(WireSettings), handle, stats_writer)
    http = (
        await _listen_http(settings.section(HttpSettings), handle, stats_writer)
        if settings.http
        else None
    )
    load_task = _in_daemon_thread(_load_speaker, settings, handle.catalogue)
    load_task.add_done_callback(partial(_hand_over, handle))
    stop_task = asyncio.create_task(stop.wait())
    announcer: ZeroconfAnnouncer | None = None
    try:
        waiting: set[asyncio.Future[Any]] = {load_task, stop_task}
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if load_task.done():
            speaker = _loaded(load_task)  # a failed load raises here: start-up failed
            if settings.zeroconf:
                announcer = await _announce(settings.section(DiscoverySettings))
            _LOGGER.info(
                "Ready after %.2f s: %s voices on %s (provider %s, default voice %s)",
                time.monotonic() - started,
                len(handle.catalogue),
                settings.uri,
                speaker.provider,
                settings.voice,
            )
            await stop_task
        _LOGGER.info("Stopping")
    finally:
        stop_task.cancel()
        server.stop_accepting()  # first: withdrawing the announcement takes a moment
        if announcer is not None:
            await announcer.close()
        doors = [server] if http is None else [server, http]
        await asyncio.gather(*(door.shutdown(settings.shutdown_timeout) for door in doors))


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's per-thread malloc arenas before any thread starts.

    The G2P, inference and onnxruntime threads would each get an arena of their own and
    keep freed memory there: measured here, about 70 MB of resident memory less with two.
    MALLOC_ARENA_MAX in the environment still wins.
    """
    if sys.platform != "linux" or "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-8, arenas)  # M_ARENA_MAX
    except (OSError, AttributeError):  # not glibc (musl, for one): nothing to tune
        pass


def release_freed_memory() -> None:
    """Hand back to the system what loading the model freed. glibc keeps freed memory for
    reuse; a first start, which cuts the model and times two vocoders, otherwise stayed
    ~120 MB larger (720 against 600 MB resident here) for the life of the process."""
    gc.collect()
    if sys.platform != "linux":
        return
    with contextlib.suppress(OSError, AttributeError):  # not glibc (musl, for one)
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def main(argv: list[str] | None = None) -> int:
    try:
        invocation = load_settings(argv)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if invocation.show_version:
        print(__version__)
        return 0
    settings = invocation.settings
    limit_malloc_arenas()
    logging.basicConfig(
        level=logging.DEBUG if settings.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if invocation.config_path is not None:
        _LOGGER.debug("Config file: %s", invocation.config_path)
    started = time.monotonic()
    try:
        if invocation.list_voices:
            voices_path, _ = resolve_voices(settings.section(AssetSettings))
            try:
                _print_voices(VoiceCatalogue.from_file(voices_path))
                sys.stdout.flush()
            except BrokenPipeError:  # `--list-voices | head`: the reader has what it wanted
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        catalogue = _load_catalogue(
            settings.section(AssetSettings), settings.section(SpeechSettings)
        )
        if invocation.benchmark_table:
            speaker = _load_speaker(settings, catalogue)
            model = cast(KokoroModel, speaker.model)
            engine = settings.section(EngineSettings)
            _benchmark(engine, settings.voice, model, catalogue, table=True)  # measured afresh
            speaker.close()
            return 0
    except ConfigError as err:
        _LOGGER.error("%s", err)
        return 2
    except (AssetError, ModelLoadError, VoicesFileError) as err:
        _LOGGER.error("%s", err)
        return 1
    except (OSError, ValueError) as err:
        _LOGGER.error("Start-up failed: %s", err)
        return 1
    return _run_server(settings, catalogue, started)


def _run_server(settings: Settings, catalogue: VoiceCatalogue, started: float) -> int:
    """Serve until SIGTERM / SIGINT; the exit status."""
    # With HTTP on, the records also feed /metrics and the web page's figures.
    stats = settings.section(StatsSettings)
    stats_writer = (ObservedStatsWriter if settings.http else StatsWriter).from_settings(stats)
    if stats.stats_path is not None:
        _LOGGER.info("Stats file: %s", stats.stats_path)
    liveness = settings.section(Liveness)
    handle = SpeakerHandle(catalogue, settings.voice, liveness)
    try:
        asyncio.run(_serve(settings, handle, stats_writer, started))
    except KeyboardInterrupt:
        pass
    except (AssetError, ModelLoadError, VoicesFileError, ZeroconfUnavailableError) as err:
        _LOGGER.error("%s", err)
        return 1
    except StartupError as err:
        _LOGGER.error("%s", err)
        return 1
    finally:
        if handle.speaker is not None:
            _LOGGER.info("Provider utilization: %s", handle.speaker.utilization())
            handle.speaker.close()
        stats_writer.close()
    return 0


def run() -> None:
    """Console script entry point (``wyoming-kokoro``)."""
    code = main()
    # An inference the shutdown could not wait for (shutdown_timeout) is still running on
    # a daemon thread inside onnxruntime; finalizing the interpreter under it aborts the
    # process ("terminate called without an active exception"). Everything is flushed by
    # now, so leave without finalizing.
    if any(t.daemon and t.is_alive() for t in threading.enumerate()):
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
