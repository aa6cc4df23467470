"""HMAC-SHA256 request signing, one implementation for the agent and its client.

Signed string: ``b"v1:" + ts + b":" + METHOD + b":" + path + b":" + body`` where ``ts`` is the exact
``X-Rollback-Timestamp`` header text: unix seconds, integer or decimal (the client sends microseconds
so that two polls of the same URL within one second still get distinct signatures; a signature is
accepted once only). ``path`` is the URL path without the query string.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping

TS_HEADER = "X-Rollback-Timestamp"
CALLER_HEADER = "X-Rollback-Caller"
SIG_HEADER = "X-Rollback-Signature"
SIG_PREFIX = "v1="
MAX_SKEW_S = 300.0
MAX_CALLER_LEN = 200


class AuthError(Exception):
    """A request that must be answered 401; ``reason`` is safe to show the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ReplayCacheFull(Exception):
    """More distinct signed requests within the window than the cache holds (fail closed: 503)."""


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def signature(secret: str | bytes, ts: str, method: str, path: str, body: bytes) -> str:
    """The header value ``v1=<hex>`` for one request."""
    msg = b"v1:" + ts.encode() + b":" + method.upper().encode() + b":" + path.encode() + b":" + body
    return SIG_PREFIX + hmac.new(_key(secret), msg, hashlib.sha256).hexdigest()


_ts_lock = threading.Lock()
_last_ts = 0.0


def fresh_timestamp(now: float | None = None) -> str:
    """A timestamp strictly greater than any this process handed out before (unique signatures)."""
    global _last_ts
    if now is not None:  # tests: an exact instant
        return f"{now:.6f}"
    with _ts_lock:
        t = max(round(time.time(), 6), round(_last_ts + 1e-6, 6))
        _last_ts = t
        return f"{t:.6f}"


def signed_headers(
    secret: str | bytes, caller: str, method: str, path: str, body: bytes, *, now: float | None = None
) -> dict[str, str]:
    ts = fresh_timestamp(now)
    return {
        TS_HEADER: ts,
        CALLER_HEADER: caller,
        SIG_HEADER: signature(secret, ts, method, path, body),
    }


class ReplayCache:
    """Signatures seen within the window; bounded, entries expire when their timestamp would."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._max = max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()  # insertion order ~ expiry order
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def remember(self, sig: str, expires_at: float, now: float) -> bool:
        """Record ``sig``; False when it was already seen (a replay)."""
        with self._lock:
            self._purge(now)
            if sig in self._seen:
                return False
            if len(self._seen) >= self._max:
                raise ReplayCacheFull("too many signed requests in the replay window; retry shortly")
            self._seen[sig] = expires_at
            return True

    def _purge(self, now: float) -> None:
        # Expiry is roughly monotonic in insertion order; stop at the first live entry, and do a
        # full sweep only when the cache is full (timestamps may arrive out of order).
        while self._seen:
            sig, exp = next(iter(self._seen.items()))
            if exp >= now:
                break
            del self._seen[sig]
        if len(self._seen) >= self._max:
            for sig in [s for s, exp in self._seen.items() if exp < now]:
                del self._seen[sig]


class Verifier:
    """Checks one request's headers; returns the caller name or raises ``AuthError``."""

    def __init__(
        self, secret: str | bytes, *, max_skew_s: float = MAX_SKEW_S, cache: ReplayCache | None = None
    ) -> None:
        if not secret:
            raise ValueError("empty secret")
        self._secret = _key(secret)
        self._skew = max_skew_s
        self._cache = cache if cache is not None else ReplayCache()

    def verify(
        self, method: str, path: str, body: bytes, headers: Mapping[str, str], *, now: float | None = None
    ) -> str:
        now = time.time() if now is None else now
        ts = headers.get(TS_HEADER)
        caller = headers.get(CALLER_HEADER)
        sig = headers.get(SIG_HEADER)
        if not ts or not sig or caller is None:
            raise AuthError(f"missing {TS_HEADER}, {CALLER_HEADER} or {SIG_HEADER} header")
        caller = caller.strip()
        if not caller or len(caller) > MAX_CALLER_LEN:
            raise AuthError(f"{CALLER_HEADER} must be 1..{MAX_CALLER_LEN} characters")
        try:
            ts_value = float(ts)
        except ValueError:
            raise AuthError(f"{TS_HEADER} is not unix seconds") from None
        if not math.isfinite(ts_value) or len(ts) > 32:
            raise AuthError(f"{TS_HEADER} is not unix seconds")
        if abs(now - ts_value) > self._skew:
            when = "old" if ts_value < now else "far in the future"
            raise AuthError(
                f"timestamp too {when} ({now - ts_value:+.0f} s; allowed ±{self._skew:.0f} s): check clocks"
            )
        expected = signature(self._secret, ts, method, path, body)
        if not hmac.compare_digest(expected.encode(), sig.strip().encode()):
            raise AuthError("bad signature")
        if not self._cache.remember(expected, ts_value + self._skew + 1, now):
            raise AuthError("replayed request (signature already used)")
        return caller
