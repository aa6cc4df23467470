"""Asking go-fast-cdn itself whether it runs: ``GET /api/`` answers the JSON string "pong".

Also the ``none`` controller: with no way to stop/start the app, an answering API proves it runs,
but silence proves nothing (wrong port, firewall, hung process), so that is ``running=None``.
"""

from __future__ import annotations

import functools
import ssl
import time

import httpcore  # noqa: F401  httpx imports it at its first client: 20 ms a stop proof paid at once
import httpx

from ops.control.base import AppState
from ops.control.config import ControllerError


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The system's CA store, loaded once per process (about 15 ms)."""
    return ssl.create_default_context()


def local_client(timeout_s: float, base_url: str) -> httpx.Client:
    """A client for go-fast-cdn's own API. trust_env=False: never route a local health check
    through an HTTP(S)_PROXY from the environment. Over plain HTTP no TLS is ever used, so the CA
    store isn't loaded (every stop proof pings the API: it cost restore about 15 ms); an https
    URL is verified against the system's CAs as always."""
    https = base_url.lower().startswith("https:")
    return httpx.Client(timeout=timeout_s, trust_env=False, verify=tls_context() if https else False)


def ping(api_url: str, timeout_s: float = 2.0) -> tuple[bool, str]:
    """(answered "pong", what happened) — never raises, a refused connection is just a False."""
    url = api_url.rstrip("/") + "/api/"
    try:
        with local_client(timeout_s, url) as client:
            resp = client.get(url)
    except httpx.ConnectError as exc:
        return False, f"cannot connect to {url} ({exc})"
    except httpx.TimeoutException:
        return False, f"no answer from {url} within {timeout_s:g}s"
    except httpx.HTTPError as exc:
        return False, f"{url}: {type(exc).__name__}: {exc}"
    try:
        body = resp.json()
    except ValueError:
        body = None
    if resp.status_code == 200 and body == "pong":
        return True, f'{url} answered "pong"'
    return False, f'{url} answered HTTP {resp.status_code} {resp.text[:80]!r}, not "pong"'


def wait_for_api(api_url: str, timeout_s: float, interval_s: float = 0.1) -> tuple[bool, str]:
    """Ping until it answers or the timeout passes (a started app needs a moment to bind)."""
    deadline = time.monotonic() + max(timeout_s, 0.0)
    while True:
        ok, detail = ping(api_url, timeout_s=min(2.0, max(timeout_s, 0.2)))
        if ok or time.monotonic() >= deadline:
            return ok, detail
        time.sleep(interval_s)


class ProbeController:
    """``kind: none``: read-only; stop/start are impossible and say so."""

    kind: str = "none"

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url
        self.log_source = "none"

    def state(self) -> AppState:
        ok, detail = ping(self.api_url)
        if ok:
            return AppState(running=True, detail=f"API answers ({detail}); no controller configured")
        return AppState(
            running=None,
            detail=f"unknown: no controller configured and the API does not answer ({detail})",
        )

    def _refuse(self, verb: str) -> AppState:
        st = self.state()
        return AppState(
            running=st.running,
            detail=f"cannot {verb} go-fast-cdn: no controller configured (do it by hand); {st.detail}",
        )

    def stop(self, timeout_s: float) -> AppState:
        return self._refuse("stop")

    def start(self, timeout_s: float) -> AppState:
        return self._refuse("start")

    def logs(self, lines: int) -> list[str]:
        raise ControllerError("no controller configured, so no log source")
