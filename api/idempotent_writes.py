"""``Idempotency-Key`` on every write of the API, as a plain ASGI middleware.

For POST, PUT, PATCH and DELETE under /api/v1 that carry the header and a valid bearer
token: the first request with a key runs and, when it succeeds (2xx), its answer is
stored; the same key with the same method, path and body gets that stored answer again
without running anything (one effect). The same key with another request is 422 naming
the header; a repeat while the first is still running is 409. Keys belong to the user
who sent them. Requests that fail (not 2xx) store nothing, so a retry runs again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.security import InvalidToken, body_digest, read_token
from fleet import idempotency

WRITES = frozenset({b"POST", b"PUT", b"PATCH", b"DELETE"})
MAX_KEY = 255
ANSWERED = "rvrota.idempotency_answered"  # scope key: the route stored its answer itself


def stored_response(body: bytes, media_type: str) -> dict[str, Any]:
    """An answer as kept for replays."""
    return {"body": body.decode("utf-8", "replace"), "media_type": media_type}


def response_to_keep(response: Response) -> dict[str, Any]:
    """The answer to keep for a route that stores it itself, with its effect."""
    return stored_response(bytes(response.body), response.media_type or "application/json")


def mark_answered(scope: Scope) -> None:
    """The route committed the answer to its key with its effect (fleet.outbox.accept):
    this middleware stores nothing more."""
    scope[ANSWERED] = True


async def _send_json(send: Send, status: int, body: Any) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(data)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


def _header_error(message: str) -> dict[str, Any]:
    return {
        "detail": [{"loc": ["header", "Idempotency-Key"], "msg": message, "type": "value_error"}]
    }


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, prefix: str, services: Callable[[Scope], Any]) -> None:
        self.app = app
        self.prefix = prefix
        self.services = services  # scope -> api.deps.Services (set up in the lifespan)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"].encode() not in WRITES
            or not str(scope["path"]).startswith(self.prefix + "/")
        ):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        raw_key = headers.get(b"idempotency-key")
        auth = headers.get(b"authorization", b"").decode("latin-1")
        if raw_key is None or not auth.lower().startswith("bearer "):
            await self.app(scope, receive, send)
            return
        key = raw_key.decode("latin-1")
        if not 1 <= len(key) <= MAX_KEY:
            await _send_json(send, 422, _header_error(f"must be 1 to {MAX_KEY} characters"))
            return
        services = self.services(scope)
        try:
            user_id = read_token(auth[7:].strip(), services.keys.cached()).user_id
        except InvalidToken:
            await self.app(scope, receive, send)  # the route answers 401
            return

        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        query = scope.get("query_string", b"").decode("latin-1")
        what = f"{scope['method']} {scope['path']}"
        digest = body_digest(f"{what}?{query}\n".encode() + body)
        outcome = await run_in_threadpool(
            idempotency.claim, services.engine, user_id, key, what, digest, services.clock.now()
        )
        if isinstance(outcome, idempotency.Replay):
            stored = outcome.response
            data = str(stored.get("body", "")).encode()
            stored_media = str(stored.get("media_type", "application/json")).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": outcome.status_code,
                    "headers": [
                        (b"content-type", stored_media),
                        (b"content-length", b"%d" % len(data)),
                        (b"idempotent-replayed", b"true"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": data})
            return
        if isinstance(outcome, idempotency.KeyConflict):
            if "different" in outcome.reason:
                await _send_json(send, 422, _header_error(outcome.reason))
            else:
                await _send_json(send, 409, {"detail": outcome.reason})
            return

        delivered = False

        async def replay_body() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        status = 500
        media = "application/json"
        parts: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status, media
            if message["type"] == "http.response.start":
                status = int(message["status"])
                for name, value in message.get("headers", []):
                    if name.lower() == b"content-type":
                        media = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                parts.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_body, capture)
        finally:
            if scope.get(ANSWERED):
                pass  # the route stored its answer, in the transaction of its effect
            elif 200 <= status < 300:
                answer = stored_response(b"".join(parts), media)
                await run_in_threadpool(
                    idempotency.answer, services.engine, user_id, key, status, answer
                )
            else:
                await run_in_threadpool(idempotency.release, services.engine, user_id, key)
