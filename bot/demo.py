"""``make demo``: a scripted drill on the embedded defaults, printed as a readable thread.

Everything runs on this machine: the project's fake Slack on 127.0.0.1, the bot served over real
HTTP exactly as in production, and signed requests built from the buttons the bot really posted.
"""

from __future__ import annotations

import re
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import SecretStr

from bot.app import RollbackBot, create_app
from bot.server import SLACK_PATH, create_asgi
from bot.serving import serve_in_thread
from bot.settings import Settings
from handlers.actions_ids import ActionId
from sandbox.fake_slack import FakeSlack, seed_demo_workspace
from sandbox.slack_user import SlackUserDriver

SIGNING_SECRET = "demo-signing-secret"
CHANNEL = "C0OPS"


def _wait(predicate: Callable[[], object], what: str, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"demo: timed out waiting for {what}")
        time.sleep(0.05)


def _say(line: str) -> None:
    print(f"[drill] {line}", flush=True)


def resolve_mentions(text: str, fake: FakeSlack) -> str:
    """Show ``<@U123>`` as Slack does, as ``@name``."""
    users = fake.ws.users
    return re.sub(r"<@(\w+)>", lambda m: "@" + (users[m.group(1)].name if m.group(1) in users else m.group(1)), text)


class Drill:
    def __init__(self, bot: RollbackBot, fake: FakeSlack, driver: SlackUserDriver) -> None:
        self.bot, self.fake, self.driver = bot, fake, driver
        self.service = bot.deps.service

    def incident_id(self) -> str:
        incident = self.service.open_for("production")
        assert incident is not None
        return incident.id

    def click(self, user: str, step_id: str, action: ActionId = ActionId.STEP_DONE) -> None:
        inc = self.incident_id()
        section = self.bot.deps.runbook.section_of(step_id).id
        ts = self.service.section_messages(inc)[section]
        before = len(self.service.events(inc))
        resp = self.driver.click(user, CHANNEL, ts, action, value=f"{inc}|{step_id}")
        if resp.status_code != 200:
            raise RuntimeError(f"demo: click on {step_id} answered {resp.status_code}")
        _wait(lambda: len(self.service.events(inc)) > before, f"the click on {step_id}")

    def choose_option(self, user: str, option: int) -> None:
        inc = self.incident_id()
        section = self.bot.deps.runbook.option(option).id
        ts = self.service.section_messages(inc)[section]
        self.driver.click(user, CHANNEL, ts, ActionId.OPTION_CHOOSE, value=f"{inc}|option:{option}")
        _wait(lambda: self.service.get(inc).chosen_option == option, f"option {option}")


def run_demo(out_dir: str | Path = "demo-out") -> int:
    out = Path(out_dir).resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    fake = seed_demo_workspace(FakeSlack()).start()
    try:
        settings = Settings(
            slack_bot_token=SecretStr(fake.bot_token),
            slack_signing_secret=SecretStr(SIGNING_SECRET),
            slack_api_base_url=fake.base_url,
            rollback_store_path=out / "rollback-bot.db",
        )
        bot = create_app(settings)
        with serve_in_thread(create_asgi(bot)) as srv:
            _say(f"fake Slack at {fake.base_url}; bot at {srv.url}{SLACK_PATH}")
            driver = SlackUserDriver(fake, srv.url + SLACK_PATH, SIGNING_SECRET)
            drill = Drill(bot, fake, driver)
            script(drill)
            driver.close()
            parent_ts = fake.messages(CHANNEL)[0].ts
            text = resolve_mentions(fake.render_thread(CHANNEL, parent_ts), fake)
        bot.close()
        (out / "thread.txt").write_text(text + "\n")
        print()
        print(text)
        print()
        _say(f"thread saved to {out / 'thread.txt'}; bot store at {out / 'rollback-bot.db'}")
        return 0
    except Exception as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    finally:
        fake.stop()


def script(drill: Drill) -> None:
    d = drill
    _say("alice: /rollback production critical media listing returns 500 after the migration")
    resp = d.driver.slash("U0ALICE", CHANNEL, "production critical media listing returns 500 after the migration")
    _say(f"bot acked: {resp.status_code} {resp.text!r}")
    _wait(lambda: d.service.open_for("production") and d.service.get(d.incident_id()).thread_ts, "the incident")
    inc = d.incident_id()
    _wait(lambda: len(d.service.section_messages(inc)) == len(d.bot.deps.runbook.sections), "the thread")
    _say("bob: /rollback production again (a second incident must not open)")
    again = d.driver.slash("U0BOB", CHANNEL, "production")
    _say(f"bot answered bob ephemerally: {again.text!r}")
    immediate = [s.id for s, _ in d.bot.deps.runbook.section("immediate").iter_steps()]
    for user, step in zip(["U0ALICE", "U0BOB", "U0CAROL"], immediate, strict=True):
        _say(f"{user} clicks Done on {step}")
        d.click(user, step)
    _say("bob double-clicks Done on the first step (one transition only)")
    d.driver.click(
        "U0BOB",
        CHANNEL,
        d.service.section_messages(inc)["immediate"],
        ActionId.STEP_UNDO,
        value=f"{inc}|{immediate[0]}",
    )
    _wait(lambda: d.service.step_state(inc, immediate[0]).state == "pending", "undo")
    d.click("U0ALICE", immediate[0])
    _say("carol chooses option 1 (built-in rollback)")
    d.choose_option("U0CAROL", 1)
    events = d.service.events(inc)
    _say(
        f"{len(events)} events recorded; step states: "
        + ", ".join(f"{k}={v.state}" for k, v in d.service.steps(inc).items() if v.state != "pending")
    )
