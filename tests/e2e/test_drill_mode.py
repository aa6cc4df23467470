"""``/rollback drill production``: the whole flow on the agent's scratch copy. The live DB stays
byte-identical and the live app keeps running; every message says DRILL; a real incident can be
opened beside it, and drills are numbered apart (DRILL-n, never RB-n)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.sandbox_demo import LiveSandbox
from handlers.actions_ids import ActionId
from ops.control import make_controller
from sandbox.fake_slack.seed import OPS_CHANNEL
from tests.conftest import wait_for

ALICE = "U0ALICE"


@pytest.fixture
def box(tmp_path: Path) -> Iterator[LiveSandbox]:
    sandbox = LiveSandbox(tmp_path, environments=("production",))
    try:
        yield sandbox.start()
    finally:
        sandbox.stop()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_full_drill_leaves_the_live_deployment_byte_identical(box: LiveSandbox) -> None:
    assert box.bot is not None
    service, runbook = box.bot.deps.service, box.bot.deps.runbook
    host = box.hosts["production"]
    live_db = host.root / "db_data" / "main.db"
    controller = make_controller(host.controller_config, host.api_url)
    before, live_pid = digest(live_db), controller.state().pid

    box.page.say(ALICE, OPS_CHANNEL, "/rollback drill production critical rehearsal before the window")
    drill = wait_for(lambda: service.open_for("production", drill=True), what="the drill")
    assert drill.id == "DRILL-1" and drill.drill
    wait_for(lambda: len(service.section_messages(drill.id)) == len(runbook.sections), what="the drill's thread")
    box.page.say(ALICE, OPS_CHANNEL, "/rollback production critical a real outage meanwhile")
    real = wait_for(lambda: service.open_for("production"), what="the real incident beside the drill")
    assert real.id == "RB-1" and not real.drill

    def press(step_id: str, action: str = ActionId.STEP_RUN, **kw: str) -> None:
        ts = service.section_messages(drill.id)[runbook.section_of(step_id).id]
        box.page.act(ALICE, OPS_CHANNEL, ts, action, block_id=f"a|{step_id}", **kw)

    def run(step_id: str) -> None:
        press(step_id)
        try:
            wait_for(lambda: service.step_state(drill.id, step_id).state == "done", 30, f"{step_id} done")
        except AssertionError:
            raise AssertionError(f"{step_id}: {[(e.kind, e.data) for e in service.events(drill.id)][-4:]}") from None

    run("immediate.stop-app")
    option1 = service.section_messages(drill.id)[runbook.option(1).id]
    box.page.act(ALICE, OPS_CHANNEL, option1, ActionId.OPTION_CHOOSE, value=f"{drill.id}|option:1")
    run("opt1.run-rollback")
    run("opt1.verify")
    option2 = service.section_messages(drill.id)[runbook.option(2).id]
    box.page.act(ALICE, OPS_CHANNEL, option2, ActionId.OPTION_CHOOSE, value=f"{drill.id}|option:2")
    run("opt2.list-backups")
    backups = service.latest_backups(drill.id) or []
    star = next(b.name for b in backups if b.pre_migration)
    wait_for(lambda: ActionId.BACKUP_SELECT.value in str(box.fake.message(OPS_CHANNEL, option2).blocks), what="menu")
    press("opt2.identify-backup", ActionId.BACKUP_SELECT, option=star)
    pinned = f"{drill.id}|opt2.restore|{star}"  # Run now names the backup its dialog confirms
    wait_for(lambda: pinned in str(box.fake.message(OPS_CHANNEL, option2).blocks), what="Run pinned to the backup")
    run("opt2.restore")
    run("opt2.verify")
    run("post.restart-app")
    run("post.verify-app")

    assert digest(live_db) == before, "the live DB changed during a drill"
    assert controller.state().pid == live_pid, "the live app was stopped or restarted during a drill"
    assert (
        service.open_for("production") is not None and service.steps(real.id)["immediate.stop-app"].state == "pending"
    )
    thread = box.fake.thread(OPS_CHANNEL, service.get(drill.id).thread_ts or "")
    bot_posts = [m for m in thread if m.bot_id]
    assert len(bot_posts) > len(runbook.sections)
    assert all("DRILL" in m.text for m in bot_posts), [m.text[:80] for m in bot_posts if "DRILL" not in m.text]
    assert all("DRILL" in e.text for e in box.fake.ephemerals(OPS_CHANNEL) if e.thread_ts == thread[0].ts)
    scratch = host.root / ".rollback-agent" / "drills" / drill.id / "go-fast-cdn" / "db_data" / "main.db"
    assert digest(scratch) != before
