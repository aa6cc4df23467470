"""The demo-facing bits: thread rendering and `python -m sandbox.fake_slack`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from slack_sdk import WebClient

from sandbox.fake_slack import FakeSlack
from tests.unit.sandbox.helpers import OPS, actions, button, section

ROOT = Path(__file__).resolve().parents[3]


def test_render_thread_shows_what_a_human_sees(fake: FakeSlack, client: WebClient) -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Rollback gofastcdn"}},
        section("Step 1: stop the app"),
        actions(button("step_done", "1", "Done"), button("abort", "1", "Abort")),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "opened by alice"}]},
    ]
    parent = client.chat_postMessage(channel=OPS, text="fallback", blocks=blocks)["ts"]
    client.chat_postMessage(channel=OPS, text="app stopped", thread_ts=parent)
    fake.post_as_user(OPS, "U0BOB", "looks good", thread_ts=parent)
    out = fake.render_thread(OPS, parent)
    for expected in [
        "#ops-incidents",
        "# Rollback gofastcdn",
        "Step 1: stop the app",
        "[Done] [Abort]",
        "~ opened by alice",
        "app stopped",
        "bob [",
        "2 replies",
    ]:
        assert expected in out, f"{expected!r} missing from:\n{out}"
    assert "fallback" not in out


def test_module_runs_standalone_seeded_server() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox.fake_slack", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        base_url = line.split("base_url=")[1].split()[0]
        client = WebClient(token="xoxb-sandbox", base_url=base_url, timeout=5)
        assert client.conversations_info(channel="C0OPS")["channel"]["name"] == "ops-incidents"
        assert client.users_info(user="U0ALICE")["ok"]
    finally:
        proc.terminate()
        proc.wait(timeout=5)
