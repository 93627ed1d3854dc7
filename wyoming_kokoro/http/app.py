"""The HTTP front door: routes, access rules, start and shutdown.

Routes:

* ``POST /v1/audio/speech`` (speech.py), ``GET /v1/audio/voices``, ``GET /v1/models``
  and ``/v1/audio/models``: OpenAI's speech API, as Open WebUI, the ``openai_tts``
  integration and the ``openai`` client library call it;
* ``GET /health``, ``GET /metrics`` (Prometheus text format);
* ``GET /`` and ``/static/…``: the web page; ``/api/…``: what the page reads and writes.

Access: with ``http_api_key`` set, everything but ``/``, ``/static`` and ``/health``
asks for ``Authorization: Bearer <key>``. Writes (custom voices, the lexicon) are
allowed only through Home Assistant's ingress (a request from the Supervisor's ingress
proxy, 172.30.32.2, carrying ``X-Ingress-Path``; Home Assistant has authenticated the
user) or with the key; they must be JSON, so a form on another site cannot make one (no
CORS headers are ever sent, so a browser sends no cross-site JSON either).
"""

from __future__ import annotations

import contextlib
import hmac
import html
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web

from .. import __version__
from ..config import HttpSettings
from ..languages import LANGUAGES
from ..speech import SpeakerHandle
from ..stats import StatsWriter
from .apierror import ApiError
from .metrics import Metrics
from .speech import MODELS, SpeechEndpoint
from .store import LexiconStore, StoreError, VoiceStore

_LOGGER = logging.getLogger(__name__)

INGRESS_PROXY = "172.30.32.2"  # the Supervisor's ingress proxy, as add-ons see it
CLOSE_TIMEOUT_S = 1.0  # at shutdown, after the speech requests: the other requests' time
STATIC = ("app.js", "style.css")
_INGRESS_PATH = re.compile(r"^/[A-Za-z0-9_./-]*$")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class HttpOptions:
    """What the HTTP front door needs of the settings (the server's: :meth:`from_settings`)."""

    address: str  # HOST:PORT
    api_key: str | None = None
    speed: float = 1.0
    max_text_chars: int = 20_000
    max_requests: int = 32
    write_timeout: float = 60.0
    voices_folder: Path | None = None  # where custom voices saved from the page go
    lexicon_path: Path | None = None  # the lexicon file the page edits
    ingress_peers: frozenset[str] = field(default_factory=lambda: frozenset({INGRESS_PROXY}))

    @classmethod
    def from_settings(cls, settings: HttpSettings) -> HttpOptions:
        """The server's front door: ``http`` is its address (it must be set)."""
        if settings.http is None:
            raise ValueError("http is off: no address to serve on")
        return cls(
            address=settings.http,
            api_key=settings.http_api_key,
            speed=settings.speed,
            max_text_chars=settings.max_text_chars,
            max_requests=settings.max_connections,
            write_timeout=settings.write_timeout,
            voices_folder=settings.download_path,
            lexicon_path=next(iter(settings.lexicon_paths), None),
        )

    @property
    def max_body_bytes(self) -> int:
        return 4 * self.max_text_chars + 64 * 1024  # UTF-8 text, JSON-escaped, and fields


class Access:
    """Who may call what (see the module docstring)."""

    def __init__(self, api_key: str | None, ingress_peers: frozenset[str]) -> None:
        self._key = api_key
        self._peers = ingress_peers

    @property
    def key_required(self) -> bool:
        return self._key is not None

    def via_ingress(self, request: web.Request) -> bool:
        return request.remote in self._peers and "X-Ingress-Path" in request.headers

    def has_key(self, request: web.Request) -> bool:
        if self._key is None:
            return False
        # A header's bytes that are not UTF-8 arrive as surrogates: compare them as sent.
        given = request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
        return hmac.compare_digest(given, f"Bearer {self._key}".encode())

    def check_api(self, request: web.Request) -> None:
        if self._key is not None and not (self.via_ingress(request) or self.has_key(request)):
            raise ApiError(401, "missing or wrong API key (Authorization: Bearer …)", None,
                           "invalid_api_key")  # fmt: skip

    def may_write(self, request: web.Request) -> bool:
        return self.via_ingress(request) or self.has_key(request)

    def check_write(self, request: web.Request) -> None:
        if not self.may_write(request):
            if self._key is not None:
                raise ApiError(401, "changes need the API key (Authorization: Bearer …)", None,
                               "invalid_api_key")  # fmt: skip
            raise ApiError(
                403, "changes are allowed through Home Assistant's ingress, or with "
                "http_api_key set", None, "read_only",
            )  # fmt: skip
        if request.content_type != "application/json":
            raise ApiError(415, "send changes as application/json", None, "json_only")


class HttpFrontDoor:
    """The aiohttp application and its listening site."""

    def __init__(
        self,
        handle: SpeakerHandle,
        writer: StatsWriter,
        metrics: Metrics,
        options: HttpOptions,
    ) -> None:
        self.options = options
        self._handle = handle
        self._metrics = metrics
        self._access = Access(options.api_key, options.ingress_peers)
        self._speech = SpeechEndpoint(
            handle, writer, options.speed, options.max_text_chars, options.max_requests,
            options.write_timeout,
        )  # fmt: skip
        self._voices = (
            VoiceStore(handle.catalogue, options.voices_folder) if options.voices_folder else None
        )
        self._lexicon = LexiconStore(options.lexicon_path)
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self.app = self._build()

    def _build(self) -> web.Application:
        app = web.Application(
            client_max_size=self.options.max_body_bytes, middlewares=[self._errors]
        )
        get, post = web.get, web.post
        app.add_routes(
            [
                get("/", self._page),
                get("/static/{name}", self._static),
                post("/v1/audio/speech", self._speech_route),
                get("/v1/audio/voices", self._voices_route),
                get("/v1/models", self._models),
                get("/v1/audio/models", self._models),
                get("/health", self._health),
                get("/metrics", self._metrics_route),
                get("/api/state", self._state),
                get("/api/stats", self._stats),
                post("/api/voices", self._save_voice),
                get("/api/lexicon", self._lexicon_get),
                web.put("/api/lexicon", self._lexicon_put),
                web.delete("/api/lexicon", self._lexicon_delete),
            ]
        )
        return app

    # ------------------------------------------------------------------ lifecycle

    @property
    def port(self) -> int:
        assert self._site is not None and self._site._server is not None
        sockets = getattr(self._site._server, "sockets", None) or []
        return int(sockets[0].getsockname()[1])

    async def start(self) -> None:
        host, _, port = self.options.address.rpartition(":")
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, host.strip("[]") or "0.0.0.0", int(port))
        await self._site.start()

    async def shutdown(self, timeout: float) -> None:
        """Stop accepting; speech requests in progress get ``timeout`` seconds, then are
        cancelled; then the connections close.

        aiohttp's own shutdown would wait ``timeout``, then ask the handler to stop in a
        way a handler that is sending audio never sees, and wait ``timeout`` again: twice
        the time a supervisor grants (Docker's 10 s) before it kills the process."""
        if self._site is not None:
            with contextlib.suppress(RuntimeError):  # already stopped
                await self._site.stop()
        await self._speech.drain(timeout)
        if self._runner is not None:
            # Only short requests (the page's, the lists) can be left by now.
            self._runner._shutdown_timeout = min(timeout, CLOSE_TIMEOUT_S)
            await self._runner.cleanup()
            self._runner = None
        self._speech.close()

    # ------------------------------------------------------------------ plumbing

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as err:
            return err.response()
        except StoreError as err:
            return ApiError(err.status, str(err), err.param).response()
        except web.HTTPRequestEntityTooLarge:
            limit = self.options.max_body_bytes
            return ApiError(413, f"the body is over {limit} bytes", None, "too_large").response()
        except web.HTTPException as err:
            if err.status < 400:
                raise
            kept = {k: v for k, v in err.headers.items() if k in ("Allow", "Retry-After")}
            return ApiError(err.status, err.reason, None, None, headers=kept).response()

    async def _json(self, request: web.Request) -> Any:
        try:
            return await request.json()
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "the body is not valid JSON", None, "invalid_json") from None

    async def _body(self, request: web.Request) -> dict[str, Any]:
        body = await self._json(request)
        if not isinstance(body, dict):
            raise ApiError(400, "the body must be a JSON object", None, "invalid_body")
        return body

    # ------------------------------------------------------------------ OpenAI's API

    async def _speech_route(self, request: web.Request) -> web.StreamResponse:
        self._access.check_api(request)
        return await self._speech.handle(request, await self._json(request))

    async def _voices_route(self, request: web.Request) -> web.Response:
        self._access.check_api(request)
        return web.json_response(
            {"voices": [v["name"] for v in self._voice_list()], "data": self._voice_list()}
        )

    async def _models(self, request: web.Request) -> web.Response:
        self._access.check_api(request)
        data = [
            {"id": name, "object": "model", "created": 0, "owned_by": "wyoming-kokoro"}
            for name in MODELS
        ]
        return web.json_response({"object": "list", "data": data})

    async def _health(self, request: web.Request) -> web.Response:
        speaker = self._handle.speaker
        status = "ok" if speaker is not None else ("failed" if self._handle.failed else "loading")
        body = {
            "status": status,
            "version": __version__,
            "provider": speaker.provider if speaker is not None else None,
            "voices": len(self._handle.catalogue),
        }
        return web.json_response(body, status=200 if speaker is not None else 503)

    async def _metrics_route(self, request: web.Request) -> web.Response:
        self._access.check_api(request)
        speaker = self._handle.speaker
        text = self._metrics.exposition(
            speaker.renderer.scheduler.pending() if speaker is not None else 0,
            speaker.provider if speaker is not None else "loading",
            speaker is not None,
        )
        return web.Response(text=text, content_type="text/plain", charset="utf-8",
                            headers={"X-Content-Type-Options": "nosniff"})  # fmt: skip

    def _voice_list(self) -> list[dict[str, Any]]:
        saved = self._voices.saved() if self._voices is not None else set()
        return [
            {
                "name": v.name,
                "language": v.locale,
                "language_name": v.language_name,
                "gender": v.gender,
                "description": v.description,
                "custom": v.custom_description is not None,
                "saved": v.name in saved,
            }
            for v in self._handle.catalogue.voices
        ]

    # ------------------------------------------------------------------ the page

    async def _page(self, request: web.Request) -> web.Response:
        text = _read_static("index.html")
        ingress = request.headers.get("X-Ingress-Path", "")
        base = f"{ingress.rstrip('/')}/" if ingress and _INGRESS_PATH.match(ingress) else "./"
        text = text.replace("{{BASE}}", html.escape(base, quote=True))
        return web.Response(text=text, content_type="text/html", headers=_PAGE_HEADERS)

    async def _static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in STATIC:
            raise ApiError(404, "no such file", None, "not_found")
        kind = "text/css" if name.endswith(".css") else "application/javascript"
        return web.Response(text=_read_static(name), content_type=kind, headers=_PAGE_HEADERS)

    async def _state(self, request: web.Request) -> web.Response:
        self._access.check_api(request)
        speaker = self._handle.speaker
        return web.json_response(
            {
                "version": __version__,
                "default_voice": self._handle.default_voice,
                "speed": self.options.speed,
                "voices": self._voice_list(),
                "languages": {code: lang.name for code, lang in LANGUAGES.items()},
                "ready": speaker is not None,
                "provider": speaker.provider if speaker is not None else None,
                "key_required": self._access.key_required,
                "writable": self._access.may_write(request),
                "ingress": self._access.via_ingress(request),
                "lexicon_file": str(self.options.lexicon_path)
                if self.options.lexicon_path
                else None,
                "voices_file": str(self._voices.path) if self._voices is not None else None,
                "max_text_chars": self.options.max_text_chars,
            }
        )

    async def _stats(self, request: web.Request) -> web.Response:
        self._access.check_api(request)
        return web.json_response(self._metrics.summary())

    async def _save_voice(self, request: web.Request) -> web.Response:
        self._access.check_write(request)
        if self._voices is None:
            raise ApiError(409, "the server has no folder to save voices in")
        name = self._voices.save(await self._body(request))
        return web.json_response({"name": name, "voices": self._voice_list()}, status=201)

    async def _lexicon_get(self, request: web.Request) -> web.Response:
        self._access.check_api(request)
        return web.json_response(
            {"file": str(self._lexicon.path) if self._lexicon.path else None,
             "entries": self._lexicon.entries()}
        )  # fmt: skip

    async def _lexicon_put(self, request: web.Request) -> web.Response:
        self._access.check_write(request)
        return web.json_response(self._lexicon.put(await self._body(request)))

    async def _lexicon_delete(self, request: web.Request) -> web.Response:
        self._access.check_write(request)
        return web.json_response(self._lexicon.delete(await self._body(request)))


# The page loads nothing from elsewhere, and nothing may frame it but Home Assistant.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; media-src 'self' blob:; "
    "img-src 'self' data:; style-src 'self'; script-src 'self'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def _read_static(name: str) -> str:
    return (
        resources.files("wyoming_kokoro.http").joinpath("static").joinpath(name).read_text("utf-8")
    )
