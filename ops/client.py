"""Typed client for the host agent's HTTP API (see docs/CONTRACTS.md, "Agent HTTP API").

Retries (connect errors, timeouts, 5xx) resend the SAME request id, which the agent maps to the same
job, so a retry can never start a second rollback. Each attempt is re-signed with a fresh timestamp
because the agent accepts a signature only once.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from pydantic import ValidationError

from ops.agent.auth import signed_headers
from ops.models import JobError, JobView, ProgressLine

__all__ = [
    "AgentAuthError",
    "AgentClient",
    "AgentError",
    "AgentProtocolError",
    "AgentTimeout",
    "AgentUnreachable",
    "JobError",
    "JobView",
    "ProgressLine",
    "new_request_id",
]


class AgentError(Exception):
    """Base class; ``str(exc)`` is a sentence for a human."""


class AgentUnreachable(AgentError):
    pass


class AgentAuthError(AgentError):
    pass


class AgentTimeout(AgentError):
    def __init__(self, message: str, job_id: str | None = None) -> None:
        super().__init__(message)
        self.job_id = job_id


class AgentProtocolError(AgentError):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def new_request_id(prefix: str = "req") -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


class AgentClient:
    def __init__(
        self,
        base_url: str,
        secret: str,
        caller: str,
        timeout_s: float = 10,
        retries: int = 3,
        *,
        http: httpx.Client | None = None,
        backoff_s: float = 0.2,
    ) -> None:
        if not secret:
            raise ValueError("empty secret")
        self.base_url = base_url.rstrip("/")
        self._secret = secret
        self.caller = caller
        self.retries = max(0, retries)
        self._backoff = backoff_s
        self._http = http or httpx.Client(base_url=self.base_url, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AgentClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- API ---------------------------------------------------------------------------------------

    def health(self) -> bool:
        try:
            return bool(self._http.get("/healthz").json().get("ok"))
        except (httpx.HTTPError, ValueError):
            return False

    def submit(
        self,
        operation: str,
        args: dict[str, Any] | None,
        request_id: str,
        *,
        caller: str | None = None,
        drill: str | None = None,
    ) -> JobView:
        """``caller`` names who asked (e.g. ``rollback-bot/U123``) in the agent's audit log; ``drill``
        runs the operation on that drill's scratch copy of the deployment, never the live one."""
        body: dict[str, Any] = {"request_id": request_id, "operation": operation, "args": args or {}}
        if drill is not None:
            body["drill"] = drill
        return self._job_view(self._request("POST", "/v1/jobs", body, caller))

    def job(self, job_id: str, *, caller: str | None = None) -> JobView:
        return self._job_view(self._request("GET", f"/v1/jobs/{job_id}", None, caller))

    def run(
        self,
        operation: str,
        args: dict[str, Any] | None,
        request_id: str,
        *,
        on_progress: Callable[[str], None] | None = None,
        poll_s: float = 0.2,
        deadline_s: float = 600,
        caller: str | None = None,
        drill: str | None = None,
    ) -> JobView:
        """Submit and poll until the job finishes; each progress line is reported once."""
        view = self.submit(operation, args, request_id, caller=caller, drill=drill)
        seen = 0
        deadline = time.monotonic() + deadline_s
        while True:
            if on_progress is not None:
                for line in view.progress[seen:]:
                    on_progress(line.message)
                seen = max(seen, len(view.progress))
            if view.finished:
                return view
            if time.monotonic() >= deadline:
                raise AgentTimeout(
                    f"{operation} job {view.job_id} still {view.state} after {deadline_s:.0f} s; it keeps "
                    "running on the agent: look it up again later",
                    job_id=view.job_id,
                )
            time.sleep(poll_s)
            view = self.job(view.job_id, caller=caller)

    # --- transport ---------------------------------------------------------------------------------

    def _request(
        self, method: str, path: str, payload: dict[str, Any] | None, caller: str | None = None
    ) -> dict[str, Any]:
        body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        last: AgentError | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(self._backoff * 2 ** (attempt - 1), 2.0))
            headers = signed_headers(self._secret, caller or self.caller, method, path, body)
            if payload is not None:
                headers["Content-Type"] = "application/json"
            try:
                resp = self._http.request(method, path, content=body, headers=headers)
            except httpx.TimeoutException as exc:
                last = AgentTimeout(f"agent at {self.base_url} did not answer in time ({type(exc).__name__})")
                continue
            except (httpx.TransportError, OSError) as exc:
                last = AgentUnreachable(f"cannot reach the agent at {self.base_url}: {exc or type(exc).__name__}")
                continue
            if resp.status_code >= 500:
                last = AgentProtocolError(
                    f"agent at {self.base_url} answered {resp.status_code}: {_error_text(resp)}",
                    resp.status_code,
                )
                continue
            if resp.status_code == 401:
                raise AgentAuthError(f"agent rejected the request: {_error_text(resp)} (check the shared secret)")
            if resp.status_code >= 400:
                raise AgentProtocolError(
                    f"agent refused {method} {path} ({resp.status_code}): {_error_text(resp)}",
                    resp.status_code,
                )
            try:
                data = resp.json()
            except ValueError:
                raise AgentProtocolError(f"agent answered non-JSON ({resp.status_code})", resp.status_code) from None
            if not isinstance(data, dict):
                raise AgentProtocolError("agent answered JSON that is not an object", resp.status_code)
            return data
        assert last is not None
        raise last

    @staticmethod
    def _job_view(data: dict[str, Any]) -> JobView:
        try:
            return JobView.model_validate(data)
        except ValidationError as exc:
            raise AgentProtocolError(
                f"agent answered an unexpected job shape: {exc.error_count()} problem(s)"
            ) from None


def _error_text(resp: httpx.Response) -> str:
    try:
        data = resp.json()
        if isinstance(data, dict) and "error" in data:
            return str(data["error"])
    except ValueError:
        pass
    return resp.text[:200] or resp.reason_phrase
