"""The HTTP face of the fake: Web API under /api/, response_urls under /response/, uploads under /upload/.

Parsing accepts what slack_sdk sends (JSON bodies, form bodies, query strings) and authentication,
fault injection and call recording happen here so handlers stay pure workspace logic.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from sandbox.fake_slack import api_chat, api_conversations, api_extras, api_views, responses
from sandbox.fake_slack.faults import Faults
from sandbox.fake_slack.registry import METHODS, MethodArgs, RateLimited, SlackError
from sandbox.fake_slack.state import Workspace

_HANDLER_MODULES = (api_chat, api_conversations, api_extras, api_views)  # imported for @method registration
log = logging.getLogger("sandbox.fake_slack")


class CallLog:
    """Every request the fake received, in order: (method, args without the token)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[tuple[str, dict[str, Any]]] = []

    def add(self, method: str, args: dict[str, Any]) -> None:
        with self._lock:
            self._calls.append((method, args))

    def all(self) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            return list(self._calls)

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()


class Mount(Protocol):
    """Extra routes served by the fake's HTTP server (the sandbox page mounts itself under /page/)."""

    def handle(self, handler: BaseHTTPRequestHandler, verb: str, path: str, query: str, raw: bytes) -> None: ...


class FakeSlackServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], ws: Workspace, faults: Faults, calls: CallLog) -> None:
        super().__init__(address, FakeSlackRequestHandler)
        self.ws = ws
        self.faults = faults
        self.calls = calls
        self.mount: Mount | None = None

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that time out and hang up mid-response are expected (delay injection); stay quiet."""
        log.debug("fake slack: connection error from %s", client_address, exc_info=True)


class FakeSlackRequestHandler(BaseHTTPRequestHandler):
    server: FakeSlackServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("fake slack: " + format, *args)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self.route("GET", b"")

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        length = int(self.headers.get("Content-Length") or 0)
        self.route("POST", self.rfile.read(length) if length else b"")

    def route(self, verb: str, raw: bytes) -> None:
        parts = urlsplit(self.path)
        kind, _, name = parts.path.strip("/").partition("/")
        if self.server.mount is not None and kind in ("", "page"):
            self.server.mount.handle(self, verb, parts.path, parts.query, raw)
        elif kind == "api" and name:
            self.api(name, self.parse_args(parts.query, raw))
        elif kind == "response" and name:
            self.response_url(name, raw)
        elif kind == "upload" and name:
            self.upload(name, raw)
        else:
            self.send(404, {"ok": False, "error": "not_found"})

    def parse_args(self, query: str, raw: bytes) -> dict[str, Any]:
        args: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if raw and ctype == "application/json":
            body = json.loads(raw.decode())
            if isinstance(body, dict):
                args.update(body)
        elif raw:
            args.update(parse_qsl(raw.decode(), keep_blank_values=True))
        return args

    def api(self, method: str, data: dict[str, Any]) -> None:
        token = data.pop("token", None)
        auth = self.headers.get("Authorization") or ""
        if auth.startswith("Bearer "):
            token = auth.removeprefix("Bearer ").strip()
        self.server.calls.add(method, data)
        if not token:
            return self.send(200, {"ok": False, "error": "not_authed"})
        if token != self.server.ws.bot_token:
            return self.send(200, {"ok": False, "error": "invalid_auth"})
        if self.injected(method):
            return None
        handler = METHODS.get(method)
        if handler is None:
            return self.send(200, {"ok": False, "error": "unknown_method"})
        try:
            result = handler(self.server.ws, MethodArgs(data))
        except RateLimited as exc:
            return self.send(429, {"ok": False, "error": "ratelimited"}, retry_after=exc.retry_after)
        except SlackError as exc:
            return self.send(200, {"ok": False, "error": exc.error, **exc.extra})
        except Exception:  # a fake bug must surface as a 500, not a hung client
            log.exception("fake slack: %s crashed", method)
            return self.send(500, {"ok": False, "error": "fatal_error"})
        return self.send(200, {"ok": True, **result})

    def injected(self, method: str) -> bool:
        """Apply an injected fault; True when it produced the response."""
        fault = self.server.faults.take(method)
        if fault is None:
            return False
        if fault.delay_s:
            time.sleep(fault.delay_s)
        if fault.status == 429:
            self.send(429, {"ok": False, "error": fault.error or "ratelimited"}, retry_after=fault.retry_after or 1)
            return True
        if fault.status != 200:
            self.send(fault.status, {"ok": False, "error": fault.error or "internal_error"})
            return True
        if fault.error:
            self.send(200, {"ok": False, "error": fault.error})
            return True
        return False

    def response_url(self, url_id: str, raw: bytes) -> None:
        try:
            body = json.loads(raw.decode() or "{}")
        except ValueError:
            return self.send(400, {"ok": False, "error": "invalid_payload"})
        self.server.calls.add("response_url", {"url_id": url_id, **body})
        if self.injected("response_url"):
            return None
        status, effect = responses.apply(self.server.ws, url_id, body)
        return self.send(status, {"ok": status == 200} | ({} if status == 200 else {"error": effect}))

    def upload(self, file_id: str, raw: bytes) -> None:
        self.server.calls.add("upload", {"file_id": file_id, "length": len(raw)})
        if self.injected("upload"):
            return None
        status = api_extras.receive_upload(self.server.ws, file_id, raw)
        text = f"OK - {len(raw)}" if status == 200 else "file not found"
        return self.send_text(status, text)

    def send(self, status: int, body: dict[str, Any], retry_after: int | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        if retry_after is not None:
            self.send_header("Retry-After", str(retry_after))
        self.end_headers()
        self.wfile.write(payload)

    def send_text(self, status: int, text: str) -> None:
        payload = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
