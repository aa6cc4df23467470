"""``rollback-bot serve`` as a real process: HTTP mode answers /healthz and verifies signatures;
with SLACK_APP_TOKEN set it chooses Socket Mode instead."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.fake_slack import FakeSlack
from sandbox.sandbox_host import free_port
from sandbox.slack_user import SlackUserDriver
from tests.conftest import SIGNING_SECRET, wait_for


def _env(fake: FakeSlack, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ROLLBACK_"))}
    env.update(
        SLACK_BOT_TOKEN=fake.bot_token,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_BASE_URL=fake.base_url,
        ROLLBACK_STORE_PATH=str(tmp_path / "bot.db"),
        HOST="127.0.0.1",
        **extra,
    )
    return env


def test_serve_http_mode_as_a_process(fake_slack: FakeSlack, tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        env=_env(fake_slack, tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def healthy() -> bool:
            try:
                return httpx.get(url + "/healthz", timeout=1).json()["ok"] is True
            except httpx.HTTPError:
                return proc.poll() is not None  # stop polling if it died

        wait_for(healthy, timeout_s=20, what="healthz")
        assert proc.poll() is None
        with SlackUserDriver(fake_slack, url + "/slack/events", SIGNING_SECRET) as driver:
            assert driver.slash("U0ALICE", "C0OPS", "", bad_signature=True).status_code == 401
            started = time.monotonic()
            assert driver.slash("U0ALICE", "C0OPS", "major").status_code == 200
            assert time.monotonic() - started < 3
        wait_for(lambda: fake_slack.messages("C0OPS"), what="parent message")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


def test_serve_picks_socket_mode_when_the_app_token_is_set(
    fake_slack: FakeSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import slack_bolt.adapter.socket_mode as socket_mode

    from app import cli

    started: list[Any] = []

    class FakeHandler:
        def __init__(self, app: Any, app_token: str) -> None:
            started.append((app, app_token))

        def start(self) -> None:
            started.append("started")

    monkeypatch.setattr(socket_mode, "SocketModeHandler", FakeHandler)
    for k, v in _env(fake_slack, tmp_path, SLACK_APP_TOKEN="xapp-1-test").items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    assert cli.main(["serve"]) == 0
    assert started[0][1] == "xapp-1-test" and started[1] == "started"
