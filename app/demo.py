"""``make demo``: a scripted drill on the embedded defaults, printed as readable threads.

Everything runs on this machine: the project's fake Slack on 127.0.0.1, the bot served over real
HTTP exactly as in production, signed requests built from the buttons the bot really posted, and
for each environment a sandbox go-fast-cdn host: a migrated deployment, the stand-in app under the
agent's process controller, and a real ``rollback-agent`` process.

Two drills. ``production`` walks option 1 (built-in rollback) to a restarted app with passing API
checks; a rollback pressed while the app still runs is refused (fix the cause, Retry: no fallback).
On ``staging`` the DB is damaged after the rollback, so option 1's verify fails and the bot offers
option 2 (restore the preselected pre-migration backup), which then verifies.

Both use the packaged example contacts file: opening pages the roles by DM (the "Alert the team"
step completes itself), a paged person acknowledges from their DM, and on production the
stakeholder notice goes out to the audiences' channels from the Communication section.
"""

from __future__ import annotations

import re
import secrets
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from app.factory import RollbackBot, create_app
from app.server import SLACK_PATH, create_asgi
from app.serving import serve_in_thread
from app.settings import AgentTarget, Settings
from bot.contacts import example_contacts_text
from bot.domain import AgentJob
from bot.runbook.steps import AgentOpStep
from handlers.actions_ids import ActionId
from sandbox.fake_slack import FakeSlack, seed_demo_workspace
from sandbox.sandbox_host import SandboxHost
from sandbox.slack_user import SlackUserDriver, build_view_submission

SIGNING_SECRET = "demo-signing-secret"
CHANNEL = "C0OPS"
ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"  # alice and bob are operators, carol is not


def _wait(predicate: Callable[[], object], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _say(line: str) -> None:
    print(f"[drill] {line}", flush=True)


def resolve_mentions(text: str, fake: FakeSlack) -> str:
    """Show ``<@U123>`` as Slack does, as ``@name``, and date tokens as their UTC fallback."""
    users = fake.ws.users
    text = re.sub(r"<!date\^\d+\^[^|>]*\|([^>]*)>", r"\1", text)
    return re.sub(r"<@(\w+)>", lambda m: "@" + (users[m.group(1)].name if m.group(1) in users else m.group(1)), text)


class Drill:
    """Clicks the real buttons of one incident thread, as a person would."""

    def __init__(self, bot: RollbackBot, fake: FakeSlack, driver: SlackUserDriver, environment: str) -> None:
        self.bot, self.fake, self.driver, self.environment = bot, fake, driver, environment
        self.service = bot.deps.service
        self.incident = ""

    def open(self, user: str, text: str) -> None:
        _say(f"{self.fake.ws.users[user].name}: /rollback {text}")
        resp = self.driver.slash(user, CHANNEL, text)
        _say(f"  bot acked {resp.status_code}: {resp.text}")
        _wait(lambda: self.service.open_for(self.environment), "the incident")
        incident = self.service.open_for(self.environment)
        assert incident is not None
        self.incident = incident.id
        sections = len(self.bot.deps.runbook.sections)
        _wait(lambda: len(self.service.section_messages(self.incident)) == sections, "the thread")
        contacts = self.bot.deps.paging.contacts
        if contacts is not None and contacts.roles_for(incident.severity):  # the pages go out after the thread
            _wait(lambda: any(e.kind == "paging.opened" for e in self.service.events(self.incident)), "the pages")

    def acknowledge_page(self, user: str) -> None:
        """Press Acknowledge in the first page DM sent to ``user``."""
        dm = next(c for c in self.fake.ws.channels.values() if c.is_im and user in c.members)
        _wait(lambda: self.fake.messages(dm.id), f"a page DM to {user}")
        page = self.fake.messages(dm.id)[0]
        value = next(e["value"] for b in page.blocks if b["type"] == "actions" for e in b["elements"] if e.get("value"))
        self.driver.click(user, dm.id, page.ts, ActionId.PAGE_ACK, value=value)
        role = value.split("|", 1)[1]
        _wait(lambda: self.bot.deps.paging.ack(self.incident, role), "the acknowledgement")
        _say(f"{self.fake.ws.users[user].name} acknowledges the page as {role} from the DM")

    def send_notice(self, user: str, audiences: list[str]) -> None:
        ts = self.service.section_messages(self.incident)["comms"]
        views = len(self.fake.views())
        self.driver.click(user, CHANNEL, ts, ActionId.NOTICE_OPEN, value=f"{self.incident}|comms.notify")
        _wait(lambda: len(self.fake.views()) > views, "the notice modal")
        view = self.fake.views()[-1]
        before = len(self.service.events(self.incident))
        request = build_view_submission(
            self.fake,
            signing_secret=SIGNING_SECRET,
            user_id=user,
            view_id=view.id,
            edits={"notice_audiences": audiences},
        )
        self.driver.send(request)
        _wait(
            lambda: any(e.kind == "notice.sent" for e in self.service.events(self.incident)[before:]),
            "the stakeholder notice",
        )
        _say(f"{self.fake.ws.users[user].name} sends the stakeholder notice to {', '.join(audiences)}")

    def _ts(self, step_id: str) -> str:
        return self.service.section_messages(self.incident)[self.bot.deps.runbook.section_of(step_id).id]

    def done(self, user: str, step_id: str) -> None:
        _say(f"{self.fake.ws.users[user].name} clicks Done on {step_id}")
        before = len(self.service.events(self.incident))
        self.driver.click(user, CHANNEL, self._ts(step_id), ActionId.STEP_DONE, value=f"{self.incident}|{step_id}")
        _wait(lambda: len(self.service.events(self.incident)) > before, f"the click on {step_id}")

    def run(self, user: str, step_id: str, action: ActionId = ActionId.STEP_RUN) -> AgentJob | None:
        name = self.fake.ws.users[user].name
        before = {j.request_id for j in self.service.jobs(self.incident)}

        def step_events() -> list[Any]:  # paging runs alongside: only this step's events say the click landed
            return [e for e in self.service.events(self.incident) if e.step_id == step_id]

        events = len(step_events())
        step = self.bot.deps.runbook.step(step_id)
        chosen = self.service.get(self.incident).chosen_backup
        if isinstance(step, AgentOpStep) and step.agent_args_from == "chosen_backup" and step.confirm and chosen:
            # The thread is redrawn after a choice, asynchronously: press Run once it names the backup.
            pinned = f"{self.incident}|{step_id}|{chosen}"
            drawn = lambda: str(self.fake.message(CHANNEL, self._ts(step_id)).blocks)  # noqa: E731
            _wait(lambda: pinned in drawn(), f"Run pinned to {chosen}")
        # Press the button as drawn now (a restore's value pins the backup its dialog names).
        self.driver.click(user, CHANNEL, self._ts(step_id), action, block_id=f"a|{step_id}")
        _wait(lambda: len(step_events()) > events, f"the Run click on {step_id}")
        new = [j for j in self.service.jobs(self.incident) if j.request_id not in before]
        if not new:
            last = step_events()[-1]
            _say(f"{name} presses Run on {step_id}: not started ({last.kind}: {last.data.get('reason')})")
            return None
        rid = new[0].request_id
        _wait(lambda: self.service.job(rid).state == "finished", f"the agent job of {step_id}", timeout_s=60)
        job = self.service.job(rid)
        detail = (job.result or {}).get("summary") or (job.error or {}).get("message")
        _say(
            f"{name} presses {action.value.removeprefix('step_').title()} on {step_id}: "
            f"{job.operation} -> {job.outcome}: {detail}"
        )
        return job

    def choose_option_from_offer(self, user: str, option: int) -> None:
        parent = self.service.get(self.incident).thread_ts or ""
        offer_text = f"option {option} offered"
        _wait(lambda: any(offer_text in m.text for m in self.fake.thread(CHANNEL, parent)), "the fallback offer")
        offer = next(m for m in self.fake.thread(CHANNEL, parent) if offer_text in m.text)
        value = f"{self.incident}|option:{option}"
        self.driver.click(user, CHANNEL, offer.ts, ActionId.OPTION_CHOOSE, value=value)
        self._wait_for_choice(option)
        _say(
            f"{self.fake.ws.users[user].name} chooses option {option} with the preselected backup "
            f"{self.service.get(self.incident).chosen_backup}"
        )

    def choose_option(self, user: str, option: int) -> None:
        section = self.bot.deps.runbook.option(option).id
        ts = self.service.section_messages(self.incident)[section]
        self.driver.click(user, CHANNEL, ts, ActionId.OPTION_CHOOSE, value=f"{self.incident}|option:{option}")
        self._wait_for_choice(option)
        _say(f"{self.fake.ws.users[user].name} chooses option {option}")

    def _wait_for_choice(self, option: int) -> None:
        """Until the choice is stored and its thread reply posted, so the next click comes after it."""
        _wait(lambda: self.service.get(self.incident).chosen_option == option, f"option {option}")
        parent = self.service.get(self.incident).thread_ts or ""
        said = f"chose option {option}."
        _wait(lambda: any(said in m.text for m in self.fake.thread(CHANNEL, parent)), f"the option {option} reply")

    def resolve(self, user: str, edits: dict[str, str], out: Path) -> Path:
        """Resolve through the dialog (the bot's prefill, with ``edits``); save the uploaded record."""
        parent = self.service.get(self.incident).thread_ts or ""
        before = {v.id for v in self.fake.views()}
        self.driver.click(user, CHANNEL, parent, ActionId.INCIDENT_RESOLVE, value=self.incident)
        _wait(lambda: [v for v in self.fake.views() if v.id not in before], "the Resolve dialog")
        view = next(v for v in self.fake.views() if v.id not in before)
        self.driver.submit_view(user, view.id, edits)
        name = f"{self.incident}-record-v1.md"
        _wait(lambda: [f for f in self.fake.files() if f.filename == name and f.completed], "the record upload")
        upload = next(f for f in self.fake.files() if f.filename == name and f.completed)
        path = out / name
        path.write_bytes(upload.content or b"")
        _say(f"{self.fake.ws.users[user].name} resolves {self.incident}; the record is uploaded to the thread ({path})")
        return path

    def render(self) -> str:
        ts = self.service.get(self.incident).thread_ts or ""
        return resolve_mentions(self.fake.render_thread(CHANNEL, ts), self.fake)


def production_drill(d: Drill) -> None:
    d.open(ALICE, "production critical media listing returns 500 after the migration")
    _say("bob: /rollback production (a second incident must not open)")
    _say(f"  bot answered bob: {resolve_mentions(d.driver.slash(BOB, CHANNEL, 'production').text, d.fake)}")
    d.acknowledge_page(ALICE)  # "Alert the team" completed itself when the pages went out
    d.run(CAROL, "immediate.stop-app")  # carol is not an operator: refused and recorded
    d.run(BOB, "immediate.assess")
    d.choose_option(CAROL, 1)
    d.run(ALICE, "opt1.run-rollback")  # the app still runs: refused as unsafe, no fallback
    d.run(ALICE, "immediate.stop-app")
    d.run(ALICE, "opt1.run-rollback", ActionId.STEP_RETRY)
    d.run(ALICE, "opt1.verify")
    d.run(ALICE, "post.restart-app")
    d.run(BOB, "post.verify-app")
    d.send_notice(BOB, ["development_team", "qa", "customer_support"])


def staging_drill(d: Drill, host: SandboxHost) -> None:
    d.open(BOB, "staging major legacy doc links 404")
    d.run(BOB, "immediate.stop-app")
    d.run(BOB, "opt1.run-rollback")
    _say("(someone runs a stray `DELETE FROM images WHERE id = 1` by hand on staging)")
    conn = sqlite3.connect(host.root / "db_data" / "main.db")
    with conn:  # closed right after: an open handle would (rightly) make the agent refuse to work
        conn.execute("DELETE FROM images WHERE id = 1")
    conn.close()
    d.run(BOB, "opt1.verify")  # fails on the counts -> option 2 offered
    d.choose_option_from_offer(ALICE, 2)
    d.run(ALICE, "opt2.restore")
    d.run(ALICE, "opt2.verify")
    d.run(ALICE, "post.restart-app")
    d.run(ALICE, "post.verify-app")


def run_demo(out_dir: str | Path = "demo-out") -> int:
    out = Path(out_dir).resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    fake = seed_demo_workspace(FakeSlack()).start()
    for channel, name in (("C0DEV", "dev"), ("C0QA", "qa"), ("C0SUPPORT", "support"), ("C0STATUS", "status")):
        fake.add_channel(channel, name)  # the example contacts file's stakeholder channels
    (out / "contacts.yaml").write_text(example_contacts_text())
    hosts = {env: SandboxHost(out / env, secret=secrets.token_hex(16), environment=env)
             for env in ("production", "staging")}  # fmt: skip
    bot: RollbackBot | None = None
    try:
        for env, host in hosts.items():
            host.start()
            _say(f"sandbox host {env}: go-fast-cdn stand-in {host.api_url}, rollback-agent {host.url}")
        settings = Settings(
            slack_bot_token=SecretStr(fake.bot_token),
            slack_signing_secret=SecretStr(SIGNING_SECRET),
            slack_api_base_url=fake.base_url,
            rollback_store_path=out / "rollback-bot.db",
            rollback_agents={
                e: AgentTarget(url=h.url, secret=SecretStr(h.secret), deployment=str(h.root)) for e, h in hosts.items()
            },
            rollback_operators=[ALICE, BOB],
            rollback_contacts_path=out / "contacts.yaml",
        )
        bot = create_app(settings)
        with serve_in_thread(create_asgi(bot)) as srv:
            _say(f"fake Slack {fake.base_url}; bot {srv.url}{SLACK_PATH}")
            with SlackUserDriver(fake, srv.url + SLACK_PATH, SIGNING_SECRET) as driver:
                prod = Drill(bot, fake, driver, "production")
                production_drill(prod)
                stage = Drill(bot, fake, driver, "staging")
                staging_drill(stage, hosts["staging"])
                stage.resolve(
                    ALICE,
                    {"lessons_learned": "A manual DELETE after a rollback forces option 2: no hand edits."},
                    out,
                )
        threads = [prod.render(), stage.render()]
        text = "\n\n".join(threads)
        (out / "threads.txt").write_text(text + "\n")
        print("\n" + text + "\n")
        _say(
            f"threads saved to {out / 'threads.txt'}; bot store {out / 'rollback-bot.db'}; "
            f"agent audit logs {out}/<env>/go-fast-cdn/.rollback-agent/audit.jsonl"
        )
        return 0
    except Exception as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if bot is not None:
            bot.close()
        for host in hosts.values():
            host.stop()
        fake.stop()
