"""The page's HTTP side: offline assets, refusals that change nothing, malformed requests, the SSE stream."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from sandbox.fake_slack import FakeSlack
from sandbox.page.backend import RATELIMIT_STORM_CALLS, PageBackend
from sandbox.page.routes import STATIC, PageRoutes
from tests.unit.sandbox.helpers import ALICE, OPS, SECRET


@pytest.fixture
def page(fake: FakeSlack) -> Iterator[tuple[FakeSlack, PageBackend]]:
    backend = PageBackend(fake, signing_secret=SECRET, roles={ALICE: "operator"}, channel=OPS)
    fake.mount(PageRoutes(backend))
    try:
        yield fake, backend
    finally:
        backend.close()


def test_the_page_loads_nothing_from_the_network(page: tuple[FakeSlack, PageBackend]) -> None:
    fake, _ = page
    html = httpx.get(fake.root_url + "/").text
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(a.startswith("/page/static/") or a == "data:," for a in assets)
    for path in STATIC.iterdir():
        text = path.read_text()
        assert not re.search(r"(?:src|href)=\"https?:|@import|url\(\s*['\"]?https?:|fonts\.googleapis", text), path
        assert httpx.get(f"{fake.root_url}/page/static/{path.name}").status_code == 200
    assert httpx.get(fake.root_url + "/page/static/../backend.py").status_code == 404


def test_refusals_say_why_and_change_nothing(page: tuple[FakeSlack, PageBackend]) -> None:
    fake, backend = page
    api = fake.root_url + "/page/api/"
    said = httpx.post(api + "say", json={"user": ALICE, "channel": OPS, "text": "/rollback production"}).json()
    assert said == {"ok": False, "error": "the bot is still starting; try again in a moment"}
    backend.bot_url = "http://127.0.0.1:9/slack/events"  # nothing listens there
    clicked = httpx.post(api + "act", json={"user": ALICE, "channel": OPS, "ts": "1.000001", "action_id": "x"}).json()
    assert not clicked["ok"] and "no message" in clicked["error"]
    nobody = httpx.post(api + "say", json={"user": "U0NOBODY", "channel": OPS, "text": "hi"}).json()
    assert not nobody["ok"] and "unknown user" in nobody["error"]
    fault = httpx.post(api + "host_fault", json={"environment": "moon", "kind": "stray_delete"}).json()
    assert not fault["ok"] and "no sandbox host" in fault["error"]
    assert httpx.post(api + "host_fault", json={"environment": "x", "kind": "rm -rf"}).status_code == 400
    assert httpx.post(api + "act", json={"user": ALICE}).status_code == 400
    assert not httpx.get(fake.root_url + "/page/files/F404").json()["ok"]
    assert fake.messages(OPS) == [] and not backend.wire and fake.calls("chat.postMessage") == []


def test_state_streams_as_server_sent_events(page: tuple[FakeSlack, PageBackend]) -> None:
    fake, _ = page
    with httpx.stream("GET", fake.root_url + "/page/events", params={"user": ALICE}, timeout=5) as resp:
        assert resp.headers["content-type"] == "text/event-stream"
        lines = resp.iter_lines()
        assert next(lines) == "event: state"
        state = json.loads(next(lines).removeprefix("data: "))
    assert state["me"] == ALICE and state["bot_ready"] is False
    assert {u["id"]: u["role"] for u in state["users"]}[ALICE] == "operator"
    assert [c["id"] for c in state["channels"] if not c["is_im"]] == [OPS]


def test_slack_faults_are_the_fakes_failure_injection(page: tuple[FakeSlack, PageBackend]) -> None:
    fake, backend = page
    client = WebClient(token=fake.bot_token, base_url=fake.base_url)
    backend.slack_fault("ratelimit", True)
    with pytest.raises(SlackApiError) as err:
        client.auth_test()
    assert err.value.response.status_code == 429 and err.value.response.headers["Retry-After"] == "1"
    storm = next(f for f in backend.snapshot(ALICE)["slack_faults"] if f["kind"] == "ratelimit")
    assert storm["on"] and storm["left"] == RATELIMIT_STORM_CALLS - 1
    backend.slack_fault("ratelimit", False)
    assert client.auth_test()["ok"] and not fake.injections()
