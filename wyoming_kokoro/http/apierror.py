"""OpenAI-style errors: ``{"error": {"message", "type", "param", "code"}}`` with a status.

Errors of the shared request path (``errors.KokoroError``) keep their code, and their
status is ``ErrorCode.http_status``; the fields of the HTTP body are checked here first
(OpenAI's own codes and ``param``)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from aiohttp import web


class ApiError(Exception):
    """A request the HTTP front door refuses; becomes an OpenAI-style JSON answer."""

    def __init__(
        self,
        status: int,
        message: str,
        param: str | None = None,
        code: str | None = None,
        kind: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.kind = kind or _kind(status)
        self.headers = dict(headers or {})  # e.g. Allow for a 405, Retry-After for a 429

    def response(self) -> web.Response:
        body = {
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }
        }
        headers = dict(self.headers)
        if self.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return web.Response(
            status=self.status,
            text=json.dumps(body),
            content_type="application/json",
            headers=headers,
        )


def _kind(status: int) -> str:
    if status == 401:
        return "authentication_error"
    if status == 403:
        return "permission_error"
    if status == 404:
        return "not_found_error"
    if status == 429:
        return "rate_limit_error"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"
