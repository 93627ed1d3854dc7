"""Command line: parse settings, find assets, load the engine, serve Wyoming."""

from __future__ import annotations

import asyncio
import logging
import sys
from functools import partial

from wyoming.server import AsyncServer

from . import __version__
from .assets import AssetError, resolve_assets, resolve_voices
from .config import ConfigError, Settings, load_settings
from .discovery import ZeroconfAnnouncer, ZeroconfUnavailableError
from .engine.synthesizer import KokoroModel, ModelLoadError
from .engine.voices import VoiceCatalogue, VoicesFileError
from .handler import KokoroEventHandler
from .info import build_info
from .speech import Speaker
from .stats import StatsWriter
from .text.g2p import Phonemizer

_LOGGER = logging.getLogger("wyoming_kokoro")


def _print_voices(catalogue: VoiceCatalogue) -> None:
    for voice in catalogue.voices:
        print(f"{voice.name:<16} {voice.locale:<6} {voice.description}")


def _load_speaker(settings: Settings) -> Speaker:
    paths = resolve_assets(settings)
    catalogue = VoiceCatalogue.from_file(paths.voices)
    if settings.voice not in catalogue:
        raise ConfigError(f"voice: {settings.voice!r} is not a known voice (see --list-voices)")
    model = KokoroModel(paths.model)
    speaker = Speaker(model, catalogue, Phonemizer(), settings.voice)
    speaker.warm_up()
    return speaker


async def _serve(settings: Settings, speaker: Speaker, stats_writer: StatsWriter) -> None:
    server = AsyncServer.from_uri(settings.uri)
    info_event = build_info(speaker.catalogue).event()
    factory = partial(
        KokoroEventHandler,
        speaker=speaker,
        info_event=info_event,
        stats_writer=stats_writer,
        speed=settings.speed,
        samples_per_chunk=settings.samples_per_chunk,
    )
    announcer: ZeroconfAnnouncer | None = None
    if settings.zeroconf:
        announcer = ZeroconfAnnouncer(settings.zeroconf, settings.uri)
        await announcer.start()
    _LOGGER.info(
        "Ready: %s voices on %s (provider %s, default voice %s)",
        len(speaker.catalogue),
        settings.uri,
        speaker.provider,
        settings.voice,
    )
    try:
        await server.run(factory)
    finally:
        if announcer is not None:
            await announcer.close()


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
    logging.basicConfig(
        level=logging.DEBUG if settings.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if invocation.config_path is not None:
        _LOGGER.debug("Config file: %s", invocation.config_path)
    try:
        if invocation.list_voices:
            voices_path, _ = resolve_voices(settings)
            _print_voices(VoiceCatalogue.from_file(voices_path))
            return 0
        speaker = _load_speaker(settings)
    except ConfigError as err:
        _LOGGER.error("%s", err)
        return 2
    except (AssetError, ModelLoadError, VoicesFileError) as err:
        _LOGGER.error("%s", err)
        return 1
    stats_writer = StatsWriter(settings.stats_path)
    if settings.stats_path is not None:
        _LOGGER.info("Stats file: %s", settings.stats_path)
    try:
        asyncio.run(_serve(settings, speaker, stats_writer))
    except KeyboardInterrupt:
        pass
    except ZeroconfUnavailableError as err:
        _LOGGER.error("%s", err)
        return 1
    except OSError as err:
        _LOGGER.error("Cannot listen on %s: %s", settings.uri, err)
        return 1
    finally:
        speaker.close()
        stats_writer.close()
    return 0


def run() -> None:
    """Console script entry point (``wyoming-kokoro``)."""
    sys.exit(main())


if __name__ == "__main__":
    run()
