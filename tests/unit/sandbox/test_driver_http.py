"""SlackUserDriver against a bolt app served over real HTTP (WSGI adapter on 127.0.0.1:0)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

from sandbox.fake_slack import FakeSlack
from sandbox.slack_user import SlackUserDriver
from tests.unit.sandbox.helpers import ALICE, OPS, SECRET, actions, button, option


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def wait_for(check: Callable[[], bool], timeout_s: float = 3.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


@pytest.fixture
def bot(fake: FakeSlack) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A small bolt app with default (ack-first) execution, served over HTTP."""
    seen: list[dict[str, Any]] = []
    app = App(client=WebClient(token=fake.bot_token, base_url=fake.base_url), signing_secret=SECRET)

    @app.command("/rollback")
    def slash(ack: Any, command: dict[str, Any], client: WebClient) -> None:
        ack()
        blocks = [
            actions(
                button("approve", "inc-7", "Approve"),
                {
                    "type": "overflow",
                    "action_id": "more",
                    "options": [option("logs"), option("status")],
                },
            ),
        ]
        client.chat_postMessage(channel=command["channel_id"], text="incident", blocks=blocks)

    @app.action("approve")
    @app.action("more")
    def act(ack: Any, body: dict[str, Any]) -> None:
        ack()
        seen.append(body)

    server: WSGIServer = make_server("127.0.0.1", 0, SlackRequestHandler(app), handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/slack/events", seen
    server.shutdown()
    server.server_close()


def test_slash_click_select_over_http(fake: FakeSlack, bot: tuple[str, list[dict[str, Any]]]) -> None:
    url, seen = bot
    with SlackUserDriver(fake, url, SECRET) as user:
        assert user.slash(ALICE, OPS, "gofastcdn").status_code == 200
        wait_for(lambda: len(fake.messages(OPS)) == 1)
        ts = fake.messages(OPS)[0].ts
        assert user.click(ALICE, OPS, ts, "approve", value="inc-7").status_code == 200
        assert user.select(ALICE, OPS, ts, "more", "logs").status_code == 200
        wait_for(lambda: len(seen) == 2)
    assert [b["actions"][0]["action_id"] for b in seen] == ["approve", "more"]
    assert seen[1]["actions"][0]["selected_option"]["value"] == "logs"
    assert user.last_request is not None and user.last_request.payload["type"] == "block_actions"


def test_forged_and_stale_requests_get_401(fake: FakeSlack, bot: tuple[str, list[dict[str, Any]]]) -> None:
    url, _ = bot
    with SlackUserDriver(fake, url, SECRET) as user:
        assert user.slash(ALICE, OPS, "x", bad_signature=True).status_code == 401
        assert user.slash(ALICE, OPS, "x", age_s=301).status_code == 401
        assert SlackUserDriver(fake, url, "wrong-secret").slash(ALICE, OPS, "x").status_code == 401
    assert fake.messages(OPS) == []
