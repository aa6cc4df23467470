"""HTTP routes of the sandbox page, mounted on the fake Slack's server.

GET  /                      -> the page
GET  /page/static/<file>    -> the page's JS/CSS (files in this package; nothing from the network)
GET  /page/api/state?user=U -> what U sees now (JSON)
GET  /page/events?user=U    -> the same, pushed as Server-Sent Events whenever it changes
GET  /page/files/<id>       -> an uploaded file, as a download
POST /page/api/<action>     -> say | act | submit | close_view | react | dismiss | host_fault | slack_fault
"""

from __future__ import annotations

import json
import logging
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from pydantic import BaseModel, ValidationError

from sandbox.page.backend import PageBackend, PageError, SlackFaultKind
from sandbox.page.host_faults import HostFaultKind

STATIC = Path(__file__).parent / "static"
CONTENT_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
SSE_POLL_S = 0.25
SSE_KEEPALIVE_S = 15.0
log = logging.getLogger("sandbox.page")


class SayBody(BaseModel):
    user: str
    channel: str
    text: str
    thread_ts: str | None = None


class ActBody(BaseModel):
    user: str
    channel: str
    ts: str
    action_id: str
    block_id: str | None = None
    value: str | None = None
    option: str | None = None


class SubmitBody(BaseModel):
    user: str
    view_id: str
    values: dict[str, dict[str, Any]] = {}


class CloseViewBody(BaseModel):
    user: str
    view_id: str


class ReactBody(BaseModel):
    user: str
    channel: str
    ts: str
    name: str


class DismissBody(BaseModel):
    user: str
    ts: str


class HostFaultBody(BaseModel):
    environment: str
    kind: HostFaultKind
    on: bool = True


class SlackFaultBody(BaseModel):
    kind: SlackFaultKind
    on: bool = True


class PageRoutes:
    def __init__(self, backend: PageBackend) -> None:
        self.backend = backend

    def handle(self, handler: BaseHTTPRequestHandler, verb: str, path: str, query: str, raw: bytes) -> None:
        params = {k: v[0] for k, v in parse_qs(query).items()}
        try:
            if verb == "GET" and path in ("/", "/page", "/page/"):
                self._static(handler, "index.html")
            elif verb == "GET" and path.startswith("/page/static/"):
                self._static(handler, path.removeprefix("/page/static/"))
            elif verb == "GET" and path == "/page/api/state":
                self._json(handler, 200, self.backend.snapshot(params.get("user", "")))
            elif verb == "GET" and path == "/page/events":
                self._events(handler, params.get("user", ""))
            elif verb == "GET" and path.startswith("/page/files/"):
                self._file(handler, path.removeprefix("/page/files/"))
            elif verb == "POST" and path.startswith("/page/api/"):
                self._json(handler, 200, {"ok": True, **self._post(path.removeprefix("/page/api/"), raw)})
            else:
                self._json(handler, 404, {"ok": False, "error": f"no page route {verb} {path}"})
        except PageError as exc:  # a refusal the person reads on the page, not a broken request
            self._json(handler, 200, {"ok": False, "error": str(exc)})
        except ValidationError as exc:
            self._json(handler, 400, {"ok": False, "error": f"bad request: {exc.errors()[0]['msg']}"})
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _post(self, action: str, raw: bytes) -> dict[str, Any]:
        data = json.loads(raw or b"{}")
        b = self.backend
        if action == "say":
            say = SayBody.model_validate(data)
            return b.say(say.user, say.channel, say.text, say.thread_ts)
        if action == "act":
            act = ActBody.model_validate(data)
            return b.act(act.user, act.channel, act.ts, act.action_id, act.block_id, act.value, act.option)
        if action == "submit":
            sub = SubmitBody.model_validate(data)
            return b.submit(sub.user, sub.view_id, sub.values)
        if action == "close_view":
            close = CloseViewBody.model_validate(data)
            return b.close_view(close.user, close.view_id)
        if action == "react":
            react = ReactBody.model_validate(data)
            return b.react(react.user, react.channel, react.ts, react.name)
        if action == "dismiss":
            dismiss = DismissBody.model_validate(data)
            return b.dismiss(dismiss.user, dismiss.ts)
        if action == "host_fault":
            hf = HostFaultBody.model_validate(data)
            return b.host_fault(hf.environment, hf.kind, hf.on)
        if action == "slack_fault":
            sf = SlackFaultBody.model_validate(data)
            return b.slack_fault(sf.kind, sf.on)
        raise PageError(f"unknown page action {action!r}")

    def _events(self, handler: BaseHTTPRequestHandler, user: str) -> None:
        """Push the user's view whenever it changes; the browser's EventSource reconnects by itself."""
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Cache-Control", "no-store")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        last, quiet_since = "", time.monotonic()
        while not self.backend.stopping.is_set():
            try:
                body = json.dumps(self.backend.snapshot(user), sort_keys=True)
            except Exception:  # a snapshot bug must not kill the stream silently
                log.exception("sandbox page: snapshot failed")
                body = json.dumps({"error": "the sandbox could not build the page state; see the demo's output"})
            if body != last:
                handler.wfile.write(f"event: state\ndata: {body}\n\n".encode())
                handler.wfile.flush()
                last, quiet_since = body, time.monotonic()
            elif time.monotonic() - quiet_since > SSE_KEEPALIVE_S:
                handler.wfile.write(b": keep-alive\n\n")
                handler.wfile.flush()
                quiet_since = time.monotonic()
            self.backend.stopping.wait(SSE_POLL_S)

    def _static(self, handler: BaseHTTPRequestHandler, name: str) -> None:
        path = (STATIC / name).resolve()
        if path.parent != STATIC.resolve() or not path.is_file():
            return self._json(handler, 404, {"ok": False, "error": "not found"})
        data = path.read_bytes()
        handler.send_response(200)
        handler.send_header(
            "Content-Type", CONTENT_TYPES.get(path.suffix, "application/octet-stream") + "; charset=utf-8"
        )
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("Cache-Control", "no-store")
        handler.end_headers()
        handler.wfile.write(data)
        return None

    def _file(self, handler: BaseHTTPRequestHandler, file_id: str) -> None:
        name, data = self.backend.file(file_id)
        handler.send_response(200)
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Content-Disposition", f"attachment; filename*=UTF-8''{quote(name)}")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    @staticmethod
    def _json(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
