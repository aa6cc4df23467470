"""HTTP mode: bolt behind Starlette + uvicorn, plus ``GET /healthz`` for load balancers.

Clicks and ``/rollback`` are acked by the gate (``app/ack_gate.py``) before bolt's dispatch; the
rest goes to bolt. bolt's Starlette adapter calls the blocking ``App.dispatch`` (which waits up to
3 s for ack) on the event loop; we run it in the thread pool instead so one slow listener can't
stall others.
"""

from __future__ import annotations

from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.ack_gate import EarlyAck
from app.factory import RollbackBot

SLACK_PATH = "/slack/events"
MAX_BODY = 1024 * 1024


def create_asgi(bot: RollbackBot) -> Starlette:
    async def slack_events(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "request too large"}, status_code=413)
        early = bot.gate.classify(
            body,
            request.headers.get("x-slack-request-timestamp", "0"),
            request.headers.get("x-slack-signature", ""),
        )
        if early is EarlyAck.CLICK:
            if bot.gate.defer_click(body, request.headers):
                return Response(status_code=200)
            return JSONResponse({"error": "stopping"}, status_code=503)
        req = to_bolt_request(request, body)
        if early is EarlyAck.ROLLBACK_COMMAND:
            return to_starlette_response(await run_in_threadpool(bot.gate.rollback_command, req))
        return to_starlette_response(await run_in_threadpool(bot.app.dispatch, req))

    async def healthz(request: Request) -> Response:
        try:
            open_incidents = len(await run_in_threadpool(bot.deps.service.incidents, "open"))
        except Exception as exc:  # the store is the only dependency worth reporting
            return JSONResponse({"ok": False, "error": f"store: {exc}"}, status_code=503)
        return JSONResponse({"ok": True, "open_incidents": open_incidents})

    return Starlette(
        routes=[
            Route(SLACK_PATH, slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )
