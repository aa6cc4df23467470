"""The HTTP layer in-process (Starlette TestClient) driven by the real AgentClient."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import httpx
import pytest

from ops.agent.audit import AuditLog
from ops.agent.auth import Verifier, signed_headers
from ops.agent.server import create_app
from ops.client import AgentAuthError, AgentClient, AgentProtocolError, AgentTimeout, AgentUnreachable
from ops.host import Host
from tests.unit.ops.agent.conftest import SECRET, Gate, make_runner

with warnings.catch_warnings():  # starlette nags about httpx vs httpx2; the API is the same
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


@pytest.fixture
def http(fake_host: Host, gate: Gate) -> Iterator[TestClient]:
    runner = make_runner(fake_host, gate)
    app = create_app(runner, Verifier(SECRET), runner.audit, max_body_bytes=2048)
    with TestClient(app) as tc:
        yield tc
    gate.release.set()
    runner.wait_all(5)


def client(http: TestClient, secret: str = SECRET) -> AgentClient:
    return AgentClient("http://testserver", secret, "tester", http=http, retries=0)


def audit(fake_host: Host) -> list[dict[str, object]]:
    return AuditLog(fake_host.deployment.state_dir / "audit.jsonl").read()


def test_healthz_unsigned(http: TestClient) -> None:
    assert http.get("/healthz").json() == {"ok": True}


def test_run_echo(http: TestClient) -> None:
    view = client(http).run("echo", {"text": "x"}, "rid-1", poll_s=0.01, deadline_s=5)
    assert view.outcome == "ok" and view.result is not None and view.result["summary"] == "echo x"


def test_successful_polls_are_not_audited(http: TestClient, fake_host: Host) -> None:
    c = client(http)
    view = c.run("echo", {"text": "x"}, "rid-poll", poll_s=0.01, deadline_s=5)
    for _ in range(5):
        assert c.job(view.job_id).outcome == "ok"
    kinds = [e["event"] for e in audit(fake_host)]
    assert kinds == ["accepted", "started", "finished"]
    finished = audit(fake_host)[-1]
    assert finished["result"] == view.result


def test_submit_status_codes(http: TestClient, gate: Gate) -> None:
    body = b'{"request_id":"r1","operation":"echo","args":{}}'
    first = http.post("/v1/jobs", content=body, headers=signed_headers(SECRET, "t", "POST", "/v1/jobs", body))
    again = http.post("/v1/jobs", content=body, headers=signed_headers(SECRET, "t", "POST", "/v1/jobs", body))
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["job_id"] == again.json()["job_id"]


def test_bad_secret_is_401_and_audited(http: TestClient, fake_host: Host, gate: Gate) -> None:
    with pytest.raises(AgentAuthError, match="bad signature"):
        client(http, "wrong-secret-wrong-secret").submit("echo", {}, "rid-x")
    assert gate.calls == 0
    rejected = [e for e in audit(fake_host) if e["event"] == "rejected"]
    assert rejected and rejected[0]["reason"] == "bad signature" and rejected[0]["caller"] == "tester"


def test_replayed_request_is_401(http: TestClient, fake_host: Host) -> None:
    body = b'{"request_id":"r1","operation":"echo","args":{}}'
    headers = signed_headers(SECRET, "t", "POST", "/v1/jobs", body)
    assert http.post("/v1/jobs", content=body, headers=headers).status_code == 202
    replay = http.post("/v1/jobs", content=body, headers=headers)
    assert replay.status_code == 401 and "replay" in replay.json()["error"]


def test_progress_polled_while_running(http: TestClient, gate: Gate) -> None:
    c = client(http)
    lines: list[str] = []
    view = c.submit("slow", {}, "rid-slow")
    assert gate.entered.wait(5)
    running = c.job(view.job_id)
    assert running.state == "running" and [p.message for p in running.progress] == ["step 1"]
    gate.release.set()
    done = c.run("slow", {}, "rid-slow", on_progress=lines.append, poll_s=0.01, deadline_s=5)
    assert done.outcome == "ok" and lines == ["step 1", "step 2"] and gate.calls == 1


def test_run_deadline(http: TestClient, gate: Gate) -> None:
    with pytest.raises(AgentTimeout) as exc:
        client(http).run("slow", {}, "rid-dl", poll_s=0.01, deadline_s=0.05)
    assert exc.value.job_id


def test_unknown_job_404(http: TestClient) -> None:
    with pytest.raises(AgentProtocolError) as exc:
        client(http).job("nope")
    assert exc.value.status == 404


def test_conflicting_reuse_409(http: TestClient) -> None:
    c = client(http)
    c.submit("echo", {"text": "a"}, "rid-c")
    with pytest.raises(AgentProtocolError) as exc:
        c.submit("echo", {"text": "b"}, "rid-c")
    assert exc.value.status == 409


def test_invalid_operation_is_a_finished_invalid_job(http: TestClient) -> None:
    view = client(http).submit("drop_everything", {}, "rid-i")
    assert view.state == "finished" and view.outcome == "invalid" and view.error is not None
    assert view.error.code == "unknown_operation"


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b"not json", 400, "not JSON"),
        (b'{"operation":"echo"}', 400, "request_id"),
        (b'{"request_id":"r","operation":"echo","evil":1}', 400, "unknown fields"),
        (b'{"request_id":"r","operation":"echo","args":{"text":"' + b"x" * 3000 + b'"}}', 413, "larger"),
    ],
)
def test_bad_bodies(http: TestClient, body: bytes, status: int, needle: str) -> None:
    resp = http.post("/v1/jobs", content=body, headers=signed_headers(SECRET, "t", "POST", "/v1/jobs", body))
    assert resp.status_code == status and needle in resp.json()["error"]


def test_unknown_route_json_404(http: TestClient) -> None:
    resp = http.get("/nope")
    assert resp.status_code == 404 and "error" in resp.json()


def test_retries_keep_request_id_and_resign() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) < 3:
            return httpx.Response(503, json={"error": "warming up"})
        return httpx.Response(
            202,
            json={
                "job_id": "j",
                "request_id": "rid",
                "operation": "status",
                "args": {},
                "caller": "c",
                "state": "queued",
                "created_at": "2024-01-01T00:00:00Z",
            },
        )

    http = httpx.Client(base_url="http://agent", transport=httpx.MockTransport(handler))
    c = AgentClient("http://agent", SECRET, "c", retries=3, http=http, backoff_s=0)
    view = c.submit("status", {}, "rid")
    assert view.job_id == "j" and len(seen) == 3
    assert len({r.content for r in seen}) == 1
    assert len({r.headers["X-Rollback-Signature"] for r in seen}) == 3


def test_unreachable() -> None:
    c = AgentClient("http://127.0.0.1:9", SECRET, "c", retries=1, backoff_s=0, timeout_s=1)
    with pytest.raises(AgentUnreachable, match="cannot reach"):
        c.submit("status", {}, "rid")


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b"not json", 400, "not JSON"),
        (b"[1]", 400, "JSON object"),
        (b'{"operation":"echo"}', 400, "request_id"),
        (b'{"request_id":"r","operation":"Echo!"}', 400, "operation must be"),
        (b'{"request_id":"r","operation":"echo","evil":1}', 400, "unknown fields"),
        (b'{"request_id":"r","operation":"echo","args":{"text":"' + b"x" * 3000 + b'"}}', 413, "larger"),
    ],
)
def test_every_rejected_submission_is_audited(
    http: TestClient, fake_host: Host, gate: Gate, body: bytes, status: int, needle: str
) -> None:
    r = http.post("/v1/jobs", content=body, headers=signed_headers(SECRET, "tester", "POST", "/v1/jobs", body))
    assert r.status_code == status
    (line,) = audit(fake_host)
    assert line["event"] == "rejected" and line["status"] == status and needle in str(line["reason"])
    assert line["path"] == "/v1/jobs" and line["caller"] == "tester" and gate.calls == 0


def test_conflict_unknown_job_and_unknown_route_are_audited(http: TestClient, fake_host: Host) -> None:
    c = client(http)
    c.submit("echo", {"text": "a"}, "rid-c")
    with pytest.raises(AgentProtocolError):
        c.submit("echo", {"text": "b"}, "rid-c")
    with pytest.raises(AgentProtocolError):
        c.job("nope")
    assert http.get("/v2/whatever").status_code == 404
    assert http.put("/v1/jobs").status_code == 405
    rejected = [(e["status"], e["path"]) for e in audit(fake_host) if e["event"] == "rejected"]
    assert rejected == [(409, "/v1/jobs"), (404, "/v1/jobs/nope"), (404, "/v2/whatever"), (405, "/v1/jobs")]


def test_invalid_operation_is_one_rejected_line(http: TestClient, fake_host: Host) -> None:
    client(http).submit("drop_everything", {}, "rid-i")
    (line,) = audit(fake_host)
    assert line["event"] == "rejected" and line["reason"] == "unknown_operation" and line["outcome"] == "invalid"
