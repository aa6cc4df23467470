"""The agent's HTTP API (Starlette) and ``serve``.

Every ``/v1`` request is authenticated before its body is parsed; a rejected request is audited
and runs nothing. Errors are JSON ``{"error": "..."}`` with a meaningful status code.
"""

from __future__ import annotations

import ipaddress
import json
import re
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ops.agent.audit import AuditLog
from ops.agent.auth import CALLER_HEADER, AuthError, ReplayCacheFull, Verifier
from ops.agent.jobs import JobExecutor, JobStore, RequestIdConflict
from ops.drill import DRILL_ID
from ops.registry import Registry

REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}$")
OPERATION = re.compile(r"^[a-z_]{1,64}$")


class BodyTooLarge(Exception):
    pass


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise BodyTooLarge
    return bytes(body)


def create_app(runner: JobExecutor, verifier: Verifier, audit: AuditLog, *, max_body_bytes: int = 65536) -> Starlette:
    def remote(request: Request) -> str | None:
        return request.client.host if request.client else None

    def reject(request: Request, status: int, reason: str, caller: str | None = None, **extra: Any) -> Response:
        """Every refused request leaves one ``rejected`` audit line (status, reason, who, from where)."""
        audit.write(
            "rejected",
            status=status,
            reason=reason,
            method=request.method,
            path=request.url.path,
            caller=caller if caller is not None else request.headers.get(CALLER_HEADER),
            authenticated=caller is not None,
            remote=remote(request),
            **extra,
        )
        return _error(status, reason)

    async def authenticate(request: Request) -> tuple[str, bytes] | Response:
        try:
            body = await _read_body(request, max_body_bytes)
        except BodyTooLarge:
            return reject(request, 413, f"body larger than {max_body_bytes} bytes")
        try:
            caller = verifier.verify(request.method, request.url.path, body, request.headers)
        except AuthError as exc:
            return reject(request, 401, exc.reason)
        except ReplayCacheFull as exc:
            return reject(request, 503, str(exc))
        return caller, body

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def submit(request: Request) -> Response:
        auth = await authenticate(request)
        if isinstance(auth, Response):
            return auth
        caller, body = auth
        try:
            payload = json.loads(body)
        except ValueError:
            return reject(request, 400, "body is not JSON", caller)
        if not isinstance(payload, dict):
            return reject(request, 400, "body must be a JSON object", caller)
        request_id, operation, args = (
            payload.get("request_id"),
            payload.get("operation"),
            payload.get("args", {}),
        )
        drill = payload.get("drill")
        unknown = set(payload) - {"request_id", "operation", "args", "drill"}
        if unknown:
            return reject(request, 400, f"unknown fields: {', '.join(sorted(unknown))}", caller)
        if not isinstance(request_id, str) or not REQUEST_ID.match(request_id):
            return reject(request, 400, "request_id must be 1-128 characters of [A-Za-z0-9._:@/-]", caller)
        if not isinstance(operation, str) or not OPERATION.match(operation):
            return reject(request, 400, "operation must be a lowercase name like 'status'", caller)
        if drill is not None and (not isinstance(drill, str) or not DRILL_ID.match(drill)):
            return reject(request, 400, f"drill must match {DRILL_ID.pattern}", caller)
        try:
            view, created = await run_in_threadpool(
                lambda: runner.submit(
                    request_id=request_id,
                    operation=operation,
                    args=args,
                    caller=caller,
                    remote=remote(request),
                    drill=drill,
                )
            )
        except RequestIdConflict as exc:
            return reject(request, 409, str(exc), caller, request_id=request_id, operation=operation)
        return JSONResponse(view.model_dump(mode="json"), status_code=202 if created else 200)

    async def get_job(request: Request) -> Response:
        auth = await authenticate(request)
        if isinstance(auth, Response):
            return auth
        job_id = request.path_params["job_id"]
        view = await run_in_threadpool(runner.get, job_id)
        if view is None:
            return reject(request, 404, f"no job {job_id}", auth[0])
        return JSONResponse(view.model_dump(mode="json"))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)  # unknown path (404), wrong method (405)
        return reject(request, exc.status_code, exc.detail)

    async def server_error(request: Request, exc: Exception) -> Response:
        audit.write("server_error", method=request.method, path=request.url.path, error=repr(exc))
        return _error(500, f"internal error: {type(exc).__name__}")

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/v1/jobs", submit, methods=["POST"]),
            Route("/v1/jobs/{job_id}", get_job, methods=["GET"]),
        ],
        exception_handlers={HTTPException: http_error, Exception: server_error},
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    *,
    registry: Registry,
    host_factory: Callable[[], Any],
    secret: str,
    state_dir: Path,
    bind_host: str,
    port: int,
    max_body_bytes: int,
    out: Callable[[str], None] = print,
) -> None:
    """Run until SIGINT/SIGTERM. Prints ``rollback-agent listening on http://HOST:PORT`` once bound."""
    from ops.agent import locks

    with locks.single_agent(state_dir):
        audit = AuditLog(state_dir / "audit.jsonl")
        store = JobStore(state_dir / "agent.db")
        runner = JobExecutor(store, registry, host_factory(), audit, state_dir)
        app = create_app(runner, Verifier(secret), audit, max_body_bytes=max_body_bytes)
        family = socket.AF_INET6 if ":" in bind_host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((bind_host, port))
        sock.listen(128)
        real_port = sock.getsockname()[1]
        shown = f"[{bind_host}]" if family == socket.AF_INET6 else bind_host
        if not _is_loopback(bind_host):
            print(f"warning: listening on {bind_host}, not loopback; keep the port firewalled", file=sys.stderr)
        audit.write("agent_started", url=f"http://{shown}:{real_port}", state_dir=str(state_dir))
        out(f"rollback-agent listening on http://{shown}:{real_port}")
        sys.stdout.flush()
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        try:
            _GracefulServer(config).run(sockets=[sock])
        finally:
            sock.close()
            _drain(runner)
            audit.write("agent_stopped")


class _GracefulServer(uvicorn.Server):
    """uvicorn re-raises SIGTERM after shutting down, which would kill a rollback thread mid-way;
    stop serving on the signal, but leave the process alive so running jobs can finish."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        else:
            self.should_exit = True


def _drain(runner: JobExecutor) -> None:
    """Wait for running jobs; further signals only explain (SIGKILL abandons, and the job is then
    closed as interrupted on the next start)."""
    pending = runner.running()
    if not pending:
        return

    def note(sig: int, frame: FrameType | None) -> None:
        print("still waiting for running jobs; SIGKILL abandons them (marked interrupted)", file=sys.stderr)

    previous = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(f"waiting for {len(pending)} running job(s) to finish: {', '.join(pending)}", file=sys.stderr)
        runner.wait_all()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
