from __future__ import annotations

import time

import pytest

from ops.agent.auth import (
    CALLER_HEADER,
    SIG_HEADER,
    TS_HEADER,
    AuthError,
    ReplayCache,
    ReplayCacheFull,
    Verifier,
    signature,
    signed_headers,
)

SECRET = "s3cret-s3cret-s3cret"
BODY = b'{"request_id":"r1","operation":"status","args":{}}'


def test_signature_matches_the_contract_string() -> None:
    import hashlib
    import hmac

    expected = hmac.new(SECRET.encode(), b"v1:1700000000:POST:/v1/jobs:" + BODY, hashlib.sha256).hexdigest()
    assert signature(SECRET, "1700000000", "post", "/v1/jobs", BODY) == "v1=" + expected


def test_good_request_returns_caller() -> None:
    h = signed_headers(SECRET, "bot@incident-7", "POST", "/v1/jobs", BODY)
    assert Verifier(SECRET).verify("POST", "/v1/jobs", BODY, h) == "bot@incident-7"


def test_integer_timestamp_accepted() -> None:
    ts = str(int(time.time()))
    h = {TS_HEADER: ts, CALLER_HEADER: "c", SIG_HEADER: signature(SECRET, ts, "GET", "/v1/jobs/x", b"")}
    assert Verifier(SECRET).verify("GET", "/v1/jobs/x", b"", h) == "c"


@pytest.mark.parametrize(
    ("method", "path", "body", "secret"),
    [
        ("POST", "/v1/jobs", BODY + b" ", SECRET),  # body changed
        ("POST", "/v1/jobs/other", BODY, SECRET),  # wrong path
        ("GET", "/v1/jobs", BODY, SECRET),  # wrong method
        ("POST", "/v1/jobs", BODY, "another-secret-entirely"),  # wrong key
    ],
)
def test_bad_signature(method: str, path: str, body: bytes, secret: str) -> None:
    h = signed_headers(SECRET, "c", "POST", "/v1/jobs", BODY)
    with pytest.raises(AuthError, match="bad signature"):
        Verifier(secret).verify(method, path, body, h)


def test_old_and_future_timestamps_rejected() -> None:
    v = Verifier(SECRET)
    now = time.time()
    old = signed_headers(SECRET, "c", "GET", "/p", b"", now=now - 301)
    with pytest.raises(AuthError, match="too old"):
        v.verify("GET", "/p", b"", old, now=now)
    future = signed_headers(SECRET, "c", "GET", "/p", b"", now=now + 301)
    with pytest.raises(AuthError, match="future"):
        v.verify("GET", "/p", b"", future, now=now)
    edge = signed_headers(SECRET, "c", "GET", "/p", b"", now=now + 299)
    assert v.verify("GET", "/p", b"", edge, now=now) == "c"


def test_replay_rejected_and_fresh_signatures_differ() -> None:
    v = Verifier(SECRET)
    h = signed_headers(SECRET, "c", "GET", "/v1/jobs/1", b"")
    v.verify("GET", "/v1/jobs/1", b"", h)
    with pytest.raises(AuthError, match="replay"):
        v.verify("GET", "/v1/jobs/1", b"", h)
    again = signed_headers(SECRET, "c", "GET", "/v1/jobs/1", b"")  # same second, same path: new ts
    assert again[SIG_HEADER] != h[SIG_HEADER]
    v.verify("GET", "/v1/jobs/1", b"", again)


def test_bad_signature_is_not_remembered() -> None:
    cache = ReplayCache()
    v = Verifier(SECRET, cache=cache)
    h = signed_headers(SECRET, "c", "GET", "/p", b"")
    h[SIG_HEADER] = "v1=" + "0" * 64
    with pytest.raises(AuthError):
        v.verify("GET", "/p", b"", h)
    assert len(cache) == 0


@pytest.mark.parametrize("drop", [TS_HEADER, CALLER_HEADER, SIG_HEADER])
def test_missing_header(drop: str) -> None:
    h = signed_headers(SECRET, "c", "GET", "/p", b"")
    del h[drop]
    with pytest.raises(AuthError, match="missing"):
        Verifier(SECRET).verify("GET", "/p", b"", h)


@pytest.mark.parametrize("ts", ["abc", "nan", "inf", ""])
def test_garbage_timestamp(ts: str) -> None:
    h = {TS_HEADER: ts, CALLER_HEADER: "c", SIG_HEADER: signature(SECRET, ts, "GET", "/p", b"")}
    with pytest.raises(AuthError):
        Verifier(SECRET).verify("GET", "/p", b"", h)


def test_replay_cache_bounded_and_expiring() -> None:
    cache = ReplayCache(max_entries=2)
    assert cache.remember("a", expires_at=10, now=0)
    assert cache.remember("b", expires_at=20, now=0)
    with pytest.raises(ReplayCacheFull):
        cache.remember("c", expires_at=30, now=5)
    assert not cache.remember("a", expires_at=10, now=5)
    assert cache.remember("c", expires_at=30, now=11)  # "a" expired and was dropped
    assert len(cache) == 2
