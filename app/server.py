"""HTTP mode: Slack's requests on ``POST /slack/events``, plus ``GET /healthz`` for load balancers.

``/slack/events`` is a plain ASGI endpoint in front of Starlette: at 50 concurrent requests the
event loop that sends every ack spends most of its time in the HTTP stack, and Starlette's
middleware, routing and request objects were a third of it. Clicks and ``/rollback`` are acked by
the gate (``app/ack_gate.py``) before bolt's dispatch; the rest goes to bolt. bolt's Starlette
adapter calls the blocking ``App.dispatch`` (which waits up to 3 s for ack) on the event loop; we run
it in the thread pool instead so one slow listener can't stall others. Everything else is Starlette.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.adapter.starlette.handler import to_starlette_response
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.ack_gate import EarlyAck
from app.factory import RollbackBot

SLACK_PATH = "/slack/events"
MAX_BODY = 1024 * 1024

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_EMPTY_200: list[Message] = [
    {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]},
    {"type": "http.response.body", "body": b""},
]


class _TooLarge(Exception):
    pass


async def _read_body(receive: Receive) -> bytes:
    """The request body, refused past ``MAX_BODY`` without reading the rest."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def slack_endpoint(bot: RollbackBot) -> ASGIApp:
    async def bolt(resp: BoltResponse, scope: Scope, receive: Receive, send: Send) -> None:
        await to_starlette_response(resp)(scope, receive, send)

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await Response(status_code=405, headers={"allow": "POST"})(scope, receive, send)
            return
        try:
            body = await _read_body(receive)
        except _TooLarge:
            await JSONResponse({"error": "request too large"}, status_code=413)(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        early = bot.gate.classify(
            body, headers.get("x-slack-request-timestamp", "0"), headers.get("x-slack-signature", "")
        )
        if early is EarlyAck.CLICK:
            if bot.gate.defer_click(body, headers):
                for message in _EMPTY_200:
                    await send(message)
                return
            await JSONResponse({"error": "stopping"}, status_code=503)(scope, receive, send)
            return
        req = BoltRequest(
            body=body.decode("utf-8"),
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
        )
        if early is EarlyAck.ROLLBACK_COMMAND:
            if (refused := bot.gate.refuse_rollback(req)) is not None:
                await bolt(refused, scope, receive, send)
                return
            await bolt(await run_in_threadpool(bot.gate.rollback_command, req), scope, receive, send)
            return
        await bolt(await run_in_threadpool(bot.app.dispatch, req), scope, receive, send)

    return endpoint


def create_asgi(bot: RollbackBot) -> ASGIApp:
    async def healthz(request: Request) -> Response:
        try:
            open_incidents = len(await run_in_threadpool(bot.deps.service.incidents, "open"))
        except Exception as exc:  # the store is the only dependency worth reporting
            return JSONResponse({"ok": False, "error": f"store: {exc}"}, status_code=503)
        return JSONResponse({"ok": True, "open_incidents": open_incidents})

    rest = Starlette(routes=[Route("/healthz", healthz, methods=["GET"])])
    slack = slack_endpoint(bot)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == SLACK_PATH:
            await slack(scope, receive, send)
        else:
            await rest(scope, receive, send)

    return app
