"""End to end: a rollback or verify that fails because main.db is missing or unreadable is a real
failure (not a refusal), so the bot offers option 2, whose restore is the way out."""

from __future__ import annotations

import json

from handlers.actions_ids import ActionId
from tests.conftest import wait_for
from tests.e2e.test_agent_steps_e2e import CHANNEL, OPERATOR, Drill, drill  # noqa: F401 (the fixture)


def _offer(d: Drill) -> str:
    parent = d.fake.messages(CHANNEL)[0]
    offers = wait_for(
        lambda: [m for m in d.fake.thread(CHANNEL, parent.ts) if "option 2 offered" in m.text], what="option 2 offer"
    )
    assert len(offers) == 1
    return offers[0].ts


def test_rollback_over_a_missing_db_offers_option_2_and_the_restore_gets_out(drill: Drill) -> None:  # noqa: F811
    drill.run("immediate.stop-app")
    (drill.host.root / "db_data" / "main.db").unlink()
    rollback = drill.run("opt1.run-rollback")
    assert rollback.outcome == "failed" and rollback.error["code"] == "db_missing", rollback
    assert drill.service.step_state("RB-1", "opt1.run-rollback").state == "failed"
    offer_ts = _offer(drill)
    assert "main.db is missing" in json.dumps(drill.fake.message(CHANNEL, offer_ts).blocks)
    assert [e.data["option"] for e in drill.service.events("RB-1") if e.kind == "fallback.offered"] == [2]

    assert drill.driver.click(OPERATOR, CHANNEL, offer_ts, ActionId.OPTION_CHOOSE, value="RB-1|option:2").is_success
    wait_for(lambda: drill.service.get("RB-1").chosen_backup == drill.host.info.pre_migration_backup, what="backup")
    pinned = f"RB-1|opt2.restore|{drill.host.info.pre_migration_backup}"
    wait_for(lambda: pinned in str(drill.fake.message(CHANNEL, drill.section_ts("opt2.restore")).blocks), what="pin")
    restore = drill.run("opt2.restore")
    assert restore.outcome == "ok", restore
    assert (drill.host.root / "db_data" / "main.db").is_file()


def test_verify_over_an_unreadable_db_offers_option_2(drill: Drill) -> None:  # noqa: F811
    drill.run("immediate.stop-app")
    (drill.host.root / "db_data" / "main.db").write_bytes(b"this is not a database" * 100)
    verify = drill.run("opt1.verify")
    assert verify.outcome == "failed", verify
    _offer(drill)
    kinds = [e.kind for e in drill.service.events("RB-1")]
    assert kinds.count("fallback.offered") == 1
