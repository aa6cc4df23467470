"""Issue 5 end to end: fake Slack, the bot over HTTP, a real rollback-agent process, and the
stand-in go-fast-cdn running under the agent's process controller, over a fixture deployment."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import jsonschema
import pytest

from app.factory import RollbackBot, create_app
from app.server import SLACK_PATH, create_asgi
from app.serving import serve_in_thread
from app.settings import Settings
from bot.agents import AgentTarget
from bot.domain import AgentJob
from bot.incidents import AGENT_ACTOR
from bot.record.schema import record_json_schema
from handlers.actions_ids import ActionId
from sandbox.fake_slack import FakeSlack
from sandbox.sandbox_host import SandboxHost
from sandbox.slack_user import SlackUserDriver, build_block_action, build_event
from tests.conftest import SIGNING_SECRET, wait_for

CHANNEL = "C0OPS"
CHECK_RESULTS = ("opt1.check-results.media-gone", "opt1.check-results.tables-intact", "opt1.check-results.data-present")
OPERATOR, OTHER_OPERATOR, NOT_OPERATOR = "U0ALICE", "U0BOB", "U0CAROL"


@dataclass
class Drill:
    bot: RollbackBot
    fake: FakeSlack
    driver: SlackUserDriver
    host: SandboxHost

    @property
    def service(self):  # type: ignore[no-untyped-def]
        return self.bot.deps.service

    def section_ts(self, step_id: str) -> str:
        section = self.bot.deps.runbook.section_of(step_id).id
        return self.service.section_messages("RB-1")[section]

    def click(self, user: str, step_id: str, action: str = ActionId.STEP_RUN) -> httpx.Response:
        """Press the step's button as drawn now (its value may pin a backup, so find it by block)."""
        return self.driver.click(user, CHANNEL, self.section_ts(step_id), action, block_id=f"a|{step_id}")

    def run(self, step_id: str, user: str = OPERATOR, action: str = ActionId.STEP_RUN) -> AgentJob:
        before = {j.request_id for j in self.service.jobs("RB-1")}
        assert self.click(user, step_id, action).status_code == 200

        def finished() -> AgentJob | None:
            new = [j for j in self.service.jobs("RB-1") if j.request_id not in before and j.step_id == step_id]
            return new[0] if new and new[0].state == "finished" else None

        job = wait_for(finished, timeout_s=30, what=f"the agent job of {step_id}")
        wait_for(lambda: self.service.step_state("RB-1", step_id).state in ("done", "failed"), what="step settled")
        return job

    def thread_text(self) -> str:
        parent = self.fake.messages(CHANNEL)[0]
        return self.fake.render_thread(CHANNEL, parent.ts)

    def result_message(self, job: AgentJob) -> str:
        assert job.display_ref, "the running message is replaced by the result"
        return wait_for(
            lambda: (m := self.fake.message(CHANNEL, job.display_ref)) and "Running" not in m.text and str(m.blocks),
            what="result message",
        )


@contextmanager
def make_drill(
    tmp_path: Path, fake_slack: FakeSlack, binary: str = "pre-migration", contacts: str | None = None
) -> Iterator[Drill]:
    """The bot, a sandbox host and RB-1 open; ``contacts`` is a contacts file's text (pages go out)."""
    host = SandboxHost(tmp_path / "host", secret="e2e-agent-secret", binary=binary).start()
    contacts_path = None
    if contacts:
        contacts_path = tmp_path / "contacts.yaml"
        contacts_path.write_text(contacts)
    settings = Settings(
        slack_bot_token=fake_slack.bot_token,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_base_url=fake_slack.base_url,
        rollback_store_path=tmp_path / "bot.db",
        rollback_agents={"production": AgentTarget(url=host.url, secret="e2e-agent-secret")},
        rollback_operators=[OPERATOR, OTHER_OPERATOR],
        rollback_contacts_path=contacts_path,
        rollback_time_zone="Europe/Berlin",
    )
    bot = create_app(settings)
    try:
        with serve_in_thread(create_asgi(bot)) as srv:
            driver = SlackUserDriver(fake_slack, srv.url + SLACK_PATH, SIGNING_SECRET)
            d = Drill(bot, fake_slack, driver, host)
            assert driver.slash(OPERATOR, CHANNEL, "production critical media listing 500s").status_code == 200
            wait_for(lambda: len(bot.deps.service.section_messages("RB-1")) == 7, what="thread")
            yield d
            driver.close()
    finally:
        bot.close()
        host.stop()


@pytest.fixture
def drill(tmp_path: Path, fake_slack: FakeSlack, request: pytest.FixtureRequest) -> Iterator[Drill]:
    """``indirect`` parametrization passes a contacts file's text."""
    with make_drill(tmp_path, fake_slack, contacts=getattr(request, "param", None)) as d:
        yield d


def audit(host: SandboxHost) -> list[dict]:
    path = host.root / ".rollback-agent" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_option_1_path_to_restarted_app_with_passing_api_checks(drill: Drill) -> None:
    parent = str(drill.fake.messages(CHANNEL)[0].blocks)
    assert drill.host.url in parent  # the parent says which host agent

    stop = drill.run("immediate.stop-app")
    assert stop.outcome == "ok" and stop.result["after"]["running"] is False
    assert "succeeded" in drill.result_message(stop)

    status = drill.run("immediate.assess")
    assert status.outcome == "ok" and status.result["schema_era"] == "a7396e9-media"

    rollback = drill.run("opt1.run-rollback")
    assert rollback.outcome == "ok", rollback
    text = drill.result_message(rollback)
    assert "after-migration.png" in text  # the row the rollback loses is shown
    assert rollback.result["backup"] in text

    verify = drill.run("opt1.verify")
    assert verify.outcome == "ok" and verify.result["failed_checks"] == []
    # the checklist follows the result: the three "Check verification results" boxes are ticked by
    # the agent, from that job, and show so in the thread
    for sid in CHECK_RESULTS:
        st = drill.service.step_state("RB-1", sid)
        assert (st.state, st.actor, st.job_id) == ("done", AGENT_ACTOR, verify.request_id), sid
    opt1 = wait_for(
        lambda: (
            (t := str(drill.fake.message(CHANNEL, drill.section_ts("opt1.verify")).blocks)).count(
                f"Done by the agent (job `{verify.request_id}`)"
            )
            == 3
            and t
        ),
        what="three ticked sub-steps in the thread",
    )
    assert "media_absent ✓ no media table" in opt1
    # the commands that lie are shown with their warning, next to what really does it
    assert "`./scripts/media_migration.sh --rollback`" not in opt1  # done steps show no commands
    # a human can still Undo what the agent ticked
    assert drill.click(OPERATOR, "opt1.check-results.media-gone", ActionId.STEP_UNDO).status_code == 200
    wait_for(lambda: drill.service.step_state("RB-1", "opt1.check-results.media-gone").state == "pending", what="undo")

    start = drill.run("post.restart-app")
    assert start.outcome == "ok" and start.result["after"]["running"] is True
    api = drill.run("post.verify-app")
    assert api.outcome == "ok", api.result
    assert all(c["passed"] for c in api.result["checks"])
    assert httpx.get(drill.host.api_url + "/api/").json() == "pong"

    states = drill.service.steps("RB-1")
    for step in ("immediate.stop-app", "opt1.run-rollback", "opt1.verify", "post.restart-app", "post.verify-app"):
        assert states[step].state == "done" and states[step].actor == OPERATOR
    kinds = [e.kind for e in drill.service.events("RB-1")]
    assert kinds.count("agent.started") == kinds.count("agent.finished") == 6
    assert "fallback.offered" not in kinds


PAGED = """
roles:
  devops_lead: {name: DevOps lead, users: [U0BOB]}
  product_manager: {name: Product manager, users: [U0CAROL]}
severities:
  critical: {roles: [devops_lead, product_manager], ack_timeout_minutes: 5}
"""


@pytest.mark.parametrize("drill", [PAGED], indirect=True)
def test_option_1_fails_then_option_2_restores_and_the_record_has_it_all(drill: Drill) -> None:
    """open → pages → option 1 fails verify → option 2 restore → verify → restart → resolve → record v1;
    reopen → resolve → record v2 with v1 kept."""
    parent_ts = drill.fake.messages(CHANNEL)[0].ts
    page_incident(drill)
    said = drill.fake.write_in_thread(CHANNEL, OTHER_OPERATOR, "uploads 500 since the migration", thread_ts=parent_ts)
    assert drill.driver.send(build_event(drill.fake, signing_secret=SIGNING_SECRET, event=said)).status_code == 200
    drill.run("immediate.stop-app")
    assert drill.run("opt1.run-rollback").outcome == "ok"
    # Injected failure: the DB is damaged after the rollback (a stray manual DELETE), so the
    # built-in path's verify fails on the counts and the team must fall back to the backup.
    db = drill.host.root / "db_data" / "main.db"
    conn = sqlite3.connect(db)  # closed at once: an open handle is a holder the agent refuses to work under
    with conn:
        conn.execute("DELETE FROM images WHERE file_name = ?", (drill.host.info.images[0],))
    conn.close()
    verify = drill.run("opt1.verify")
    assert verify.outcome == "failed" and "counts_match_baseline" in verify.result["failed_checks"]
    assert drill.service.step_state("RB-1", "opt1.verify").state == "failed"
    # "All original data is present" fails with the check's detail; the other two pass and are ticked
    data = drill.service.step_state("RB-1", "opt1.check-results.data-present")
    assert (data.state, data.actor, data.job_id) == ("failed", AGENT_ACTOR, verify.request_id)
    assert data.note and data.note.startswith("counts_match_baseline: differs from the baseline")
    for sid in ("opt1.check-results.media-gone", "opt1.check-results.tables-intact"):
        assert drill.service.step_state("RB-1", sid).state == "done", sid
    wait_for(
        lambda: "Failed by the agent" in str(drill.fake.message(CHANNEL, drill.section_ts("opt1.verify")).blocks),
        what="failed sub-step in the thread",
    )
    assert "counts_match_baseline" in drill.result_message(verify)
    opt1_ts = drill.section_ts("opt1.verify")
    wait_for(lambda: ActionId.STEP_RETRY in str(drill.fake.message(CHANNEL, opt1_ts).blocks), what="Retry button")

    offer = wait_for(
        lambda: [
            m for m in drill.fake.thread(CHANNEL, drill.fake.messages(CHANNEL)[0].ts) if "option 2 offered" in m.text
        ],
        what="option 2 offer",
    )[0]
    preselected = next(b["accessory"] for b in offer.blocks if b.get("accessory", {}).get("type") == "static_select")
    assert preselected["initial_option"]["value"] == drill.host.info.pre_migration_backup
    assert "newest pre-migration" in preselected["initial_option"]["text"]["text"]

    # Choose option 2 from the offer: the preselected backup comes with it.
    resp = drill.driver.click(OPERATOR, CHANNEL, offer.ts, ActionId.OPTION_CHOOSE, value="RB-1|option:2")
    assert resp.status_code == 200
    wait_for(lambda: drill.service.get("RB-1").chosen_option == 2, what="option 2 chosen")
    assert drill.service.get("RB-1").chosen_backup == drill.host.info.pre_migration_backup
    # the restore button now names (and pins) that backup in its confirm dialog
    opt2 = drill.fake.message(CHANNEL, drill.section_ts("opt2.restore"))
    pinned = f"RB-1|opt2.restore|{drill.host.info.pre_migration_backup}"  # the Run button's value
    wait_for(lambda: pinned in str(drill.fake.message(CHANNEL, opt2.ts).blocks), what="pin")

    restore = drill.run("opt2.restore")
    assert restore.outcome == "ok", restore
    assert restore.args["backup"] == drill.host.info.pre_migration_backup
    assert len(restore.args["expected_sha256"]) == 64  # pinned to the hash the listing showed
    assert restore.result["expected_sha256"] == restore.args["expected_sha256"]
    verify2 = drill.run("opt2.verify")
    assert verify2.outcome == "ok", verify2.result
    kinds = [e.kind for e in drill.service.events("RB-1")]
    assert {"fallback.offered", "option.chosen", "backup.chosen"} <= set(kinds)
    assert drill.run("post.restart-app").outcome == "ok"
    pin = drill.fake.react_in_thread(CHANNEL, said["ts"], OPERATOR, "pushpin")
    assert drill.driver.send(build_event(drill.fake, signing_secret=SIGNING_SECRET, event=pin)).status_code == 200
    notes_ts = drill.fake.pins(CHANNEL)[0]
    wait_for(lambda: "Option 2: Backup Restoration" in str(drill.fake.message(CHANNEL, notes_ts).blocks), what="notes")

    resolve_via_dialog(drill, OPERATOR, {"lessons_learned": "damage after a rollback needs option 2"})
    v1 = wait_for(lambda: [f for f in drill.fake.files() if f.completed], timeout_s=20, what="record uploaded")[0]
    assert v1.filename == "RB-1-record-v1.md" and v1.thread_ts == parent_ts
    markdown = (v1.content or b"").decode()
    archive = drill.bot.deps.records.keeper.archive
    stored = wait_for(lambda: (r := archive.get("RB-1", 1)).file_id and r, what="the upload noted on the version")
    assert stored.markdown == markdown and stored.file_id == v1.id
    record = stored.record()
    jsonschema.validate(json.loads(stored.json_text), record_json_schema())
    ops = [(o.operation, o.outcome) for o in record.agent_operations]
    assert ops == [
        ("stop_app", "ok"),
        ("rollback", "ok"),
        ("verify", "failed"),
        ("restore", "ok"),
        ("verify", "ok"),
        ("start_app", "ok"),
    ]
    rollback_op, failed_verify, restore_op = record.agent_operations[1:4]
    assert rollback_op.rows_lost and rollback_op.backups[0].sha256
    assert "counts_match_baseline" in failed_verify.failed_checks
    assert restore_op.backups[0].name == drill.host.info.pre_migration_backup
    assert restore_op.backups[0].sha256 == restore.args["expected_sha256"]
    steps = {s.step_id: s.state for s in record.steps}
    for step_id in ("immediate.stop-app", "opt1.run-rollback", "opt2.restore", "opt2.verify", "post.restart-app"):
        assert steps[step_id] == "done"
    assert steps["opt1.verify"] == "failed"
    paged = {(p.person.id, p.role, p.acked_by.id if p.acked_by else None) for p in record.pages}
    assert paged == {(OTHER_OPERATOR, "DevOps lead", OTHER_OPERATOR), (NOT_OPERATOR, "Product manager", None)}
    assert "All times are in Europe/Berlin" in markdown
    metrics = {m.name: m for m in record.metrics}
    assert metrics["time_to_first_ack"].minutes is not None and metrics["time_to_first_ack"].met is True
    assert metrics["time_to_rollback_complete"].at == verify2.finished_at
    assert metrics["time_to_resolved"].minutes is not None and metrics["time_to_resolved"].met is True
    people = [e for e in record.timeline if e.source == "thread"]
    assert [(e.text, e.key) for e in people] == [("uploads 500 since the migration", True)]
    assert people[0].actor is not None and people[0].actor.name == "bob"  # display name from users.info
    assert record.notes.lessons_learned == "damage after a rollback needs option 2"
    assert "Followed Option 2: Backup Restoration." in record.notes.resolution_summary  # the prefill, kept
    for heading in ("## Metrics", "## Timeline", "## Agent operations", "## Checklist", "| Time | Who | Kind | What |"):
        assert heading in markdown
    wait_for(lambda: "incident record v1" in str(drill.fake.message(CHANNEL, parent_ts).blocks), what="parent link")

    # Reopen and resolve again: version 2, version 1 kept.
    click = drill.driver.click(OPERATOR, CHANNEL, parent_ts, ActionId.INCIDENT_REOPEN, value="RB-1")
    assert click.status_code == 200
    wait_for(lambda: drill.service.get("RB-1").is_open, what="reopened")
    resolve_via_dialog(drill, OPERATOR, {"root_cause": "a manual DELETE after the rollback"})
    wait_for(lambda: len([f for f in drill.fake.files() if f.completed]) == 2, timeout_s=20, what="v2 uploaded")
    assert [s.version for s in archive.versions("RB-1")] == [1, 2]
    assert archive.get("RB-1", 1).markdown == markdown
    assert archive.get("RB-1", 2).record().notes.root_cause == "a manual DELETE after the rollback"
    wait_for(lambda: "incident record v2" in str(drill.fake.message(CHANNEL, parent_ts).blocks), what="v2 link")


def page_incident(drill: Drill) -> None:
    """The contacts file pages Bob and Carol by DM; Bob acknowledges from his DM."""
    dm = wait_for(lambda: drill.fake.messages("D0BOB"), what="page DM to Bob")[0]
    assert drill.driver.click(OTHER_OPERATOR, "D0BOB", dm.ts, ActionId.PAGE_ACK, "RB-1|devops_lead").status_code == 200
    wait_for(lambda: drill.bot.deps.paging.ack("RB-1", "devops_lead"), what="Bob's acknowledgement")
    wait_for(lambda: drill.fake.messages("D0CAROL"), what="page DM to Carol")


def test_a_refusal_shows_the_cause_offers_retry_and_no_fallback(drill: Drill) -> None:
    # The app is still running: the agent refuses the rollback, and nothing moves to option 2.
    rollback = drill.run("opt1.run-rollback")
    # the running server holds main.db open and answers its API
    assert rollback.outcome == "refused" and rollback.error["code"] in ("app_running", "db_in_use")
    assert "refused as unsafe" in drill.result_message(rollback)
    opt1_ts = drill.section_ts("opt1.run-rollback")
    wait_for(lambda: ActionId.STEP_RETRY in str(drill.fake.message(CHANNEL, opt1_ts).blocks), what="Retry button")
    drill.run("immediate.stop-app")
    retried = drill.run("opt1.run-rollback", action=ActionId.STEP_RETRY)
    assert retried.outcome == "ok"
    assert "fallback.offered" not in [e.kind for e in drill.service.events("RB-1")]


def resolve_via_dialog(drill: Drill, user: str, edits: dict[str, str | None]) -> None:
    """Press Resolve on the parent, then submit the dialog the bot opened with ``edits``."""
    parent = drill.fake.messages(CHANNEL)[0]
    before = {v.id for v in drill.fake.views()}
    wait_for(
        lambda: ActionId.INCIDENT_RESOLVE in str(drill.fake.message(CHANNEL, parent.ts).blocks), what="Resolve drawn"
    )
    assert drill.driver.click(user, CHANNEL, parent.ts, ActionId.INCIDENT_RESOLVE, value="RB-1").status_code == 200
    view = wait_for(lambda: [v for v in drill.fake.views() if v.id not in before], what="Resolve dialog")[0]
    assert view.view["callback_id"] == "incident_resolve_modal"
    resp = drill.driver.submit_view(user, view.id, edits)
    assert resp.status_code == 200 and resp.text in ("", "{}"), resp.text


def test_resolve_closes_the_incident_and_frees_the_environment(drill: Drill) -> None:
    parent = drill.fake.messages(CHANNEL)[0]
    assert (
        drill.driver.click(NOT_OPERATOR, CHANNEL, parent.ts, ActionId.INCIDENT_RESOLVE, value="RB-1").status_code == 200
    )
    wait_for(lambda: drill.fake.ephemerals(CHANNEL, NOT_OPERATOR), what="refusal")
    assert drill.fake.views() == [] and drill.service.get("RB-1").state == "open"
    resolve_via_dialog(drill, OPERATOR, {"root_cause": "monitor misfired"})
    wait_for(lambda: drill.service.get("RB-1").state == "resolved", what="resolved")
    wait_for(lambda: "incident record v1" in str(drill.fake.message(CHANNEL, parent.ts).blocks), what="record link")
    section = drill.fake.message(CHANNEL, drill.section_ts("opt1.run-rollback"))
    wait_for(lambda: ActionId.STEP_RUN not in str(drill.fake.message(CHANNEL, section.ts).blocks), what="no buttons")
    assert drill.driver.slash(OPERATOR, CHANNEL, "production minor again").status_code == 200
    wait_for(lambda: (i := drill.service.open_for("production")) is not None and i.id == "RB-2", what="RB-2")


def test_double_click_on_run_rollback_starts_one_job(drill: Drill) -> None:
    drill.run("immediate.stop-app")
    req = build_block_action(
        drill.fake, signing_secret=SIGNING_SECRET, user_id=OPERATOR, channel_id=CHANNEL,
        message_ts=drill.section_ts("opt1.run-rollback"), action_id=ActionId.STEP_RUN, value="RB-1|opt1.run-rollback",
    )  # fmt: skip
    second = build_block_action(
        drill.fake, signing_secret=SIGNING_SECRET, user_id=OTHER_OPERATOR, channel_id=CHANNEL,
        message_ts=drill.section_ts("opt1.run-rollback"), action_id=ActionId.STEP_RUN, value="RB-1|opt1.run-rollback",
    )  # fmt: skip
    assert drill.driver.send(req).status_code == 200
    assert drill.driver.send(second).status_code == 200
    wait_for(lambda: drill.service.step_state("RB-1", "opt1.run-rollback").state == "done", timeout_s=30, what="done")
    jobs = [j for j in drill.service.jobs("RB-1") if j.operation == "rollback"]
    assert len(jobs) == 1
    started = [a for a in audit(drill.host) if a.get("event") == "started" and a.get("operation") == "rollback"]
    assert len(started) == 1
    # Both clicks are acked at once and handled concurrently (as Slack may deliver them): either may
    # win. The agent's audit names the clicker whose job it is; the other one is told why not.
    winner = started[0]["caller"].removeprefix("rollback-bot/")
    assert winner in (OPERATOR, OTHER_OPERATOR)
    loser = OTHER_OPERATOR if winner == OPERATOR else OPERATOR
    eph = wait_for(lambda: drill.fake.ephemerals(CHANNEL, loser), what="ephemeral to the other clicker")
    assert "already running" in eph[0].text or "undo it first" in eph[0].text
    assert drill.fake.ephemerals(CHANNEL, winner) == []


def test_non_operator_run_is_refused_and_recorded(drill: Drill) -> None:
    db = drill.host.root / "db_data" / "main.db"
    before = db.read_bytes()
    assert drill.click(NOT_OPERATOR, "opt1.run-rollback").status_code == 200
    eph = wait_for(lambda: drill.fake.ephemerals(CHANNEL, NOT_OPERATOR), what="refusal")
    assert "Only operators" in eph[0].text
    refused = [e for e in drill.service.events("RB-1") if e.kind == "permission.refused"]
    assert len(refused) == 1 and refused[0].actor == NOT_OPERATOR and refused[0].step_id == "opt1.run-rollback"
    assert drill.service.jobs("RB-1") == []
    assert drill.service.step_state("RB-1", "opt1.run-rollback").state == "pending"
    assert db.read_bytes() == before
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("select count(*) from sqlite_master where name='media'").fetchone() == (1,)


def test_verify_without_any_baseline_is_inconclusive_and_offers_no_fallback(drill: Drill) -> None:
    drill.run("immediate.stop-app")
    assert drill.run("opt1.run-rollback").outcome == "ok"
    state = drill.host.root / ".rollback-agent" / "baseline.json"
    state.unlink()  # no baseline recorded by the agent, and no pre-migration backup left in backups/
    (drill.host.root / "backups" / str(drill.host.info.pre_migration_backup)).unlink()
    verify = drill.run("opt1.verify")
    assert verify.outcome == "inconclusive" and verify.result["inconclusive_checks"] == ["counts_match_baseline"]
    st = drill.service.step_state("RB-1", "opt1.verify")
    assert st.state == "failed" and st.note and st.note.startswith("inconclusive")
    assert ":grey_question: `verify` on `production` inconclusive" in drill.result_message(verify)
    section = wait_for(
        lambda: (
            (t := str(drill.fake.message(CHANNEL, drill.section_ts("opt1.verify")).blocks))
            and "No baseline to compare the counts with" in t
            and t
        ),
        what="baseline prompt",
    )
    assert ActionId.STEP_RETRY in section
    # the sub-step the counts decide is left to a person; the others are ticked
    assert drill.service.step_state("RB-1", "opt1.check-results.data-present").state == "pending"
    assert drill.service.step_state("RB-1", "opt1.check-results.media-gone").state == "done"
    assert "fallback.offered" not in [e.kind for e in drill.service.events("RB-1")]
    # the host's backups are in the step's menu: pick the rollback's own safety copy as the baseline
    # (images/docs are what they were before the drop), then Retry compares with it
    msg = drill.fake.message(CHANNEL, drill.section_ts("opt1.verify"))
    select = next(
        e
        for b in msg.blocks
        if b.get("block_id") == "a|opt1.verify"
        for e in b.get("elements", [])
        if e.get("type") == "static_select"
    )
    safety = next(o["value"] for o in select["options"] if "pre-rollback" in o["value"])
    resp = drill.driver.select(OPERATOR, CHANNEL, msg.ts, ActionId.BACKUP_SELECT, safety, block_id="a|opt1.verify")
    assert resp.status_code == 200
    wait_for(lambda: drill.service.get("RB-1").chosen_backup == safety, what="baseline chosen")
    retried = drill.run("opt1.verify", action=ActionId.STEP_RETRY)
    assert retried.outcome == "ok" and retried.result["baseline_source"] == f"backup:{safety}"
    assert drill.service.step_state("RB-1", "opt1.check-results.data-present").state == "done"


def test_a_migration_era_binary_after_the_rollback_fails_the_upload_steps(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    """The team restarted the migration-era build: retrieval works, uploads cannot, and the
    Post-Rollback steps say so."""
    with make_drill(tmp_path, fake_slack, binary="migration-era") as drill:
        drill.run("immediate.stop-app")
        assert drill.run("opt1.run-rollback").outcome == "ok"
        assert drill.run("post.restart-app").outcome == "ok"
        api = drill.run("post.verify-app")
        assert api.outcome == "failed" and api.result["uploads_will_fail"] is True
        assert "Uploads will fail" in drill.result_message(api)
        for sid in ("post.verify-app.images", "post.verify-app.docs", "post.verify-app.api"):
            st = drill.service.step_state("RB-1", sid)
            assert st.state == "failed" and "no such table: media" in (st.note or ""), sid
        post = wait_for(
            lambda: (
                (t := str(drill.fake.message(CHANNEL, drill.section_ts("post.verify-app")).blocks))
                and "until the binary is rolled back to a pre-migration build" in t
                and t
            ),
            what="post-rollback steps",
        )
        assert "Failed by the agent" in post
