"""Request limits as a plain ASGI middleware: body size, and no NUL in the URL.

A declared ``Content-Length`` over ``RVROTA_MAX_BODY_BYTES`` gets 413 before anything
is read; a body that streams in without one is counted as it arrives and stopped at the
limit. A NUL character in the path or the query (``%00``) is never an id or a filter
here and PostgreSQL cannot compare text with it: 422 naming where it is.
"""

from __future__ import annotations

import json

from fastapi import HTTPException, status
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when the body passes the limit (FastAPI answers it as 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            status.HTTP_413_CONTENT_TOO_LARGE,
            detail=f"request body larger than {limit} bytes",
        )


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        where = _nul_in(scope)
        if where is not None:
            await _send(
                send,
                422,
                [{"loc": [where], "msg": "NUL (\\u0000) is not allowed", "type": "value_error"}],
            )
            return
        limit = self.max_bytes
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await _too_large(send, limit)
                    return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watch_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watch_send)
        except BodyTooLarge:
            if started:
                raise
            await _too_large(send, limit)


def _nul_in(scope: Scope) -> str | None:
    if "\x00" in str(scope.get("path", "")) or b"%00" in bytes(scope.get("raw_path") or b""):
        return "path"
    if b"%00" in bytes(scope.get("query_string", b"")).lower() or b"\x00" in bytes(
        scope.get("query_string", b"")
    ):
        return "query"
    return None


async def _too_large(send: Send, limit: int) -> None:
    await _send(send, 413, BodyTooLarge(limit).detail)


async def _send(send: Send, status_code: int, detail: object) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status_code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
