"""ThreadPlan: which messages an incident's thread should have, and how far each post has got."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.incidents import IncidentService
from bot.runbook import Runbook
from bot.store import Store
from bot.thread_plan import PARENT_KEY, ThreadPlan, job_key, section_key

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "store_e35c39f.db"


def test_the_plan_is_the_parent_then_each_section_in_runbook_order(svc: IncidentService, runbook: Runbook) -> None:
    plan = ThreadPlan(svc.store, runbook)
    inc = svc.open("production", "critical", "", "C1", "U1")
    plan.plan_incident(inc.id)
    plan.plan_incident(inc.id)  # again (a restart): nothing doubles
    keys = [m.key for m in plan.unposted(inc.id)]
    assert keys == [PARENT_KEY] + [section_key(s.id) for s in runbook.sections]
    assert plan.want(inc.id, job_key("r1"), "job") is True
    assert plan.want(inc.id, job_key("r1"), "job") is False
    note = plan.want_note(inc.id, {"text": "<@U1> chose option 2."})
    assert [m.key for m in plan.unposted(inc.id)][-2:] == [job_key("r1"), note]


def test_a_post_is_in_doubt_from_the_attempt_until_its_ts_is_recorded(
    svc: IncidentService, runbook: Runbook, tmp_path: Path
) -> None:
    plan = ThreadPlan(svc.store, runbook)
    inc = svc.open("production", "critical", "", "C1", "U1")
    plan.plan_incident(inc.id)
    parent = plan.get(inc.id, PARENT_KEY)
    assert parent is not None and not parent.in_doubt
    plan.begin_post(inc.id, PARENT_KEY)
    assert plan.get(inc.id, PARENT_KEY).in_doubt  # type: ignore[union-attr]
    plan.not_posted(inc.id, PARENT_KEY)  # Slack answered with an error: certainly not posted
    assert not plan.get(inc.id, PARENT_KEY).in_doubt  # type: ignore[union-attr]
    plan.begin_post(inc.id, PARENT_KEY)
    assert plan.posted(inc.id, PARENT_KEY, "100.1", "h1") is True
    assert plan.posted(inc.id, PARENT_KEY, "100.2") is False  # first write wins
    assert svc.get(inc.id).thread_ts == "100.1"
    row = plan.get(inc.id, PARENT_KEY)
    assert row is not None and (row.ts, row.shown_hash, row.in_doubt) == ("100.1", "h1", False)


def test_an_in_doubt_post_survives_a_restart(tmp_path: Path, runbook: Runbook) -> None:
    store = Store(tmp_path / "bot.db")
    svc = IncidentService(store, runbook)
    inc = svc.open("production", "critical", "", "C1", "U1")
    ThreadPlan(store, runbook).plan_incident(inc.id)
    ThreadPlan(store, runbook).begin_post(inc.id, section_key("immediate"))
    store.close()
    again = Store(tmp_path / "bot.db")
    try:
        row = ThreadPlan(again, runbook).get(inc.id, section_key("immediate"))
        assert row is not None and row.in_doubt
    finally:
        again.close()


def test_an_older_store_gets_its_known_messages_in_the_plan(tmp_path: Path, runbook: Runbook) -> None:
    path = tmp_path / "bot.db"
    shutil.copy(FIXTURE, path)
    store = Store(path)
    try:
        plan = ThreadPlan(store, runbook)
        svc = IncidentService(store, runbook)
        rb1 = {m.key: m.ts for m in plan.messages("RB-1")}
        assert rb1[PARENT_KEY] == "1764039845.000100"
        assert rb1[job_key("RB-1.r1")] == "1764039900.000200" == svc.job("RB-1.r1").display_ref
        assert svc.section_messages("RB-1") == {s.id: f"1764039846.{i:06d}" for i, s in enumerate(runbook.sections)}
        # RB-2 (open) had only its parent: planning it again lists what its thread still lacks
        plan.plan_incident("RB-2")
        assert [m.key for m in plan.unposted("RB-2")] == [section_key(s.id) for s in runbook.sections]
    finally:
        store.close()
