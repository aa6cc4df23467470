"""``rollback-bot demo`` as a real process: the page URL first, everything up, and Ctrl-C stops every
process it started and removes its files. ``demo --drill`` runs the scripted drill and exits."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from sandbox.sandbox_host import free_port


def _pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def test_make_demo_serves_the_page_until_ctrl_c_then_cleans_up(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ROLLBACK_"))}
    env["PYTHONFAULTHANDLER"] = "1"  # a shutdown that hangs shows every thread's stack on SIGABRT
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "demo", "--port", str(free_port())],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a demo that has to be killed takes its agents with it
        # as a background job (``make demo &``, CI) starts it: Python then installs no SIGINT handler
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    lines: list[str] = []
    apps: list[int] = []
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        match = re.match(r"Slack sandbox: (http://127\.0\.0\.1:\d+/)$", first.strip())
        assert match, f"the page URL must come first, got {first!r}"
        url = match.group(1)
        deadline = time.monotonic() + 90
        while not any(line.startswith("ready:") for line in lines):
            assert time.monotonic() < deadline and proc.poll() is None, "".join(lines)
            lines.append(proc.stdout.readline())
        workdir = Path(next(line for line in lines if "files:" in line).split("files: ")[1].split(" (")[0])
        assert workdir.is_dir()
        page = httpx.get(url, timeout=10)
        assert page.status_code == 200 and "rollback-bot" in page.text
        state = httpx.get(url + "page/api/state", params={"user": "U0CAROL"}, timeout=10).json()
        assert state["bot_ready"] and [h["environment"] for h in state["hosts"]] == ["production", "staging"]
        assert all(h["app"] == "running" and h["era"] == "migrated" for h in state["hosts"])
        apps = [
            int((workdir / env / "go-fast-cdn" / "go-fast-cdn.pid").read_text().split()[0])
            for env in ("production", "staging")
        ]
        agents = [line.split("rollback-agent ")[1].strip() for line in lines if "rollback-agent" in line]
        assert len(agents) == 2

        proc.send_signal(signal.SIGINT)
        try:
            assert proc.wait(60) == 0
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)
            rest, _ = proc.communicate(timeout=10)
            raise AssertionError("the demo did not stop within 60 s of Ctrl-C:\n" + "".join(lines) + rest) from None
    finally:
        if proc.poll() != 0:  # hung, or died: its agents and apps (their own sessions) must not outlive the test
            for group in [proc.pid, *apps]:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(group, signal.SIGKILL)
            proc.wait(10)
    assert not workdir.exists()
    assert not [pid for pid in apps if _pid_alive(pid)]
    for agent in agents:
        try:
            httpx.get(agent + "/healthz", timeout=1)
        except httpx.HTTPError:
            continue
        raise AssertionError(f"the agent at {agent} still answers after Ctrl-C")


def test_demo_drill_runs_the_scripted_drill_and_exits(tmp_path: Path) -> None:
    out = tmp_path / "drill"
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "demo", "--drill", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=180,
        env={k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ROLLBACK_"))},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    threads = (out / "threads.txt").read_text()
    assert "RB-1" in threads and "RB-2" in threads
    assert "carol presses Run on immediate.stop-app: not started" in done.stdout
    assert "chooses option 2 with the preselected backup" in done.stdout
    # the drill's story holds end to end: option 2 really restores and then verifies
    assert "alice presses Run on opt2.restore: restore -> ok" in done.stdout, done.stdout[-3000:]
    assert "alice presses Run on opt2.verify: verify -> ok" in done.stdout
    record = (out / "RB-2-record-v1.md").read_text()
    assert "| Time to rollback complete (first passing verify) |" in record and "no passing verify" not in record
