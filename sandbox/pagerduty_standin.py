"""A local stand-in for PagerDuty's Events API v2 (``POST /v2/enqueue``) on 127.0.0.1.

It checks events the way the API documents them (routing key of 32 characters, event_action,
payload with summary/source/severity on trigger) and keeps them, so tests can see what would have
rung a phone. Answers 202 ``{"status": "success", "dedup_key": ...}`` or 400 with ``errors``.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SEVERITIES = {"critical", "error", "warning", "info"}


def problems(event: Any) -> list[str]:
    if not isinstance(event, dict):
        return ["Event object is invalid"]
    errors = []
    if not isinstance(event.get("routing_key"), str) or len(event["routing_key"]) != 32:
        errors.append("'routing_key' must be 32 characters")
    action = event.get("event_action")
    if action not in ("trigger", "acknowledge", "resolve"):
        errors.append("'event_action' is invalid")
    if action in ("acknowledge", "resolve") and not event.get("dedup_key"):
        errors.append("'dedup_key' is required for acknowledge and resolve")
    if action == "trigger":
        payload = event.get("payload") or {}
        for field in ("summary", "source"):
            if not payload.get(field):
                errors.append(f"'payload.{field}' is missing")
        if payload.get("severity") not in SEVERITIES:
            errors.append("'payload.severity' is invalid")
    return errors


class PagerDutyStandIn:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                try:
                    event = json.loads(body)
                except ValueError:
                    event = None
                errors = ["not found"] if self.path != "/v2/enqueue" else problems(event)
                if errors:
                    self._answer(
                        404 if self.path != "/v2/enqueue" else 400, {"status": "invalid event", "errors": errors}
                    )
                    return
                with standin._lock:
                    standin.events.append(event)
                self._answer(
                    202, {"status": "success", "message": "Event processed", "dedup_key": event.get("dedup_key")}
                )

            def _answer(self, status: int, data: dict[str, Any]) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v2/enqueue"

    def start(self) -> PagerDutyStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def received(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self.events]
