"""Paging policy applied over a controlled clock: hours vs night, deferred pages, escalation,
acknowledgements, resolve stopping every timer, and two concurrent acks."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.contacts import Contacts, parse_contacts
from bot.domain import Incident, Page, RoleAck
from bot.incidents import IncidentService
from bot.paging import PageDelivery, PagingNote, PagingService
from bot.store import Store
from bot.timers import TimerService
from handlers.paging_blocks import paging_note
from tests.unit.bot.conftest import FakeClock

CONTACTS = """
roles:
  dev: {name: Development lead, users: [U0DEV], backups: [U0BACKUP], escalation: [ops]}
  ops: {name: DevOps lead, usergroup: S0OPS}
  pm:
    name: Product manager
    users: [U0PM]
    availability: {start: "09:00", end: "17:00", tz: Europe/Berlin}
  ny: {users: [U0NY], availability: {start: "09:00", end: "17:00", tz: America/New_York}}
severities:
  critical: {roles: [dev, pm, ny], ack_timeout_minutes: 5}
  major: {roles: [ops]}
escalation: {rounds: 2, channel_alert: "<!channel>"}
"""


class RecordingSender:
    def __init__(self) -> None:
        self.dms: list[tuple[str, str, int]] = []
        self.notes: list[PagingNote] = []
        self.alerts: list[PagingNote] = []
        self.acked: list[tuple[str, str]] = []
        self.refreshed: list[tuple[str, str | None]] = []
        self.closed_dms: list[str] = []
        self.fail_for: set[str] = set()

    def deliver(self, incident: Incident, page: Page, role_name: str, ack_by: datetime) -> PageDelivery:
        if page.user_id in self.fail_for:
            raise RuntimeError("cannot_dm_bot")
        self.dms.append((page.user_id, page.role, page.round))
        return PageDelivery(channel=f"D{page.user_id}", ts=str(len(self.dms)))

    def note(self, incident: Incident, note: PagingNote) -> None:
        self.notes.append(note)

    def alert(self, incident: Incident, note: PagingNote) -> None:
        self.alerts.append(note)

    def acknowledged(self, incident: Incident, page: Page, ack: RoleAck, role_name: str) -> None:
        self.acked.append((page.user_id, ack.acked_by))

    def closed(self, incident: Incident, page: Page) -> None:
        self.closed_dms.append(page.user_id)

    def refresh(self, incident_id: str, step_id: str | None) -> None:
        self.refreshed.append((incident_id, step_id))


class Rig:
    def __init__(self, store: Store, svc: IncidentService, clock: FakeClock, contacts: Contacts | None) -> None:
        self.clock, self.svc = clock, svc
        self.sender = RecordingSender()
        self.timers = TimerService(store, clock=clock)
        self.paging = PagingService(
            store, svc, contacts, self.timers, self.sender, {"S0OPS": ["U0OPS1", "U0OPS2"]}.__getitem__, clock=clock
        )
        self.timers.start()

    def open(self, severity: str = "critical") -> str:
        incident = self.svc.open("production", severity, "media 500s", "C0OPS", "U0OPENER")
        self.paging.page_on_open(incident.id)
        return incident.id

    def advance(self, **kw: Any) -> list[str]:
        self.clock.advance(**kw)
        return self.timers.run_due()


@pytest.fixture
def rig(store: Store, svc: IncidentService, clock: FakeClock) -> Rig:
    clock.now = datetime(2025, 1, 8, 2, 0, tzinfo=UTC)  # Wed 03:00 Berlin, Tue 21:00 New York
    return Rig(store, svc, clock, parse_contacts(CONTACTS))


def test_at_night_24_7_roles_are_paged_and_business_hours_ones_deferred_to_their_start(rig: Rig) -> None:
    inc = rig.open()
    assert rig.sender.dms == [("U0DEV", "dev", 0)]
    note = rig.sender.notes[0]
    assert [t.user for t in note.paged] == ["U0DEV"]
    assert {(t.user, t.at, t.tz) for t in note.deferred} == {
        ("U0PM", datetime(2025, 1, 8, 8, 0, tzinfo=UTC), "Europe/Berlin"),
        ("U0NY", datetime(2025, 1, 8, 14, 0, tzinfo=UTC), "America/New_York"),
    }
    states = {s.role: s.state for s in rig.paging.role_states(inc)}
    assert states == {"dev": "paged", "pm": "waiting", "ny": "waiting"}
    step = rig.svc.step_state(inc, "immediate.alert-team")
    assert step.state == "done" and step.actor == "rollback-bot" and "Development lead: <@U0DEV>" in (step.note or "")


def test_in_berlin_hours_the_pm_is_paged_at_once_but_new_york_still_sleeps(rig: Rig) -> None:
    rig.clock.now = datetime(2025, 1, 8, 9, 30, tzinfo=UTC)  # 10:30 Berlin, 04:30 New York
    rig.open()
    assert sorted(u for u, _, _ in rig.sender.dms) == ["U0DEV", "U0PM"]
    assert [t.user for t in rig.sender.notes[0].deferred] == ["U0NY"]


def test_a_deferred_page_goes_out_at_the_next_start_of_hours_if_still_open(rig: Rig) -> None:
    inc = rig.open()
    rig.paging.acknowledge(inc, "dev", "U0DEV", "dm")
    rig.advance(hours=5, minutes=59)
    assert ("U0PM", "pm", 0) not in rig.sender.dms
    rig.advance(minutes=1)  # 08:00 UTC = 09:00 Berlin
    assert ("U0PM", "pm", 0) in rig.sender.dms
    assert rig.sender.notes[-1].kind == "deferred_paged"
    assert {s.role: s.state for s in rig.paging.role_states(inc)}["pm"] == "paged"
    # the PM's escalation starts from their page, not from the incident's opening
    escalation = rig.timers.get(f"escalate|{inc}|pm|0")
    assert escalation is not None and escalation.due_at == rig.clock.now + timedelta(minutes=5)


def test_escalation_after_the_timeout_then_one_channel_alert(rig: Rig) -> None:
    inc = rig.open()
    rig.advance(minutes=4, seconds=59)
    assert rig.sender.dms == [("U0DEV", "dev", 0)]
    rig.advance(seconds=1)  # round 1: dev again + first backup
    assert rig.sender.dms[1:] == [("U0DEV", "dev", 1), ("U0BACKUP", "dev", 1)]
    assert rig.sender.notes[-1].kind == "escalated" and rig.sender.notes[-1].round == 1
    rig.advance(minutes=5)  # round 2: dev again + the escalation role's group members
    assert rig.sender.dms[3:] == [("U0DEV", "dev", 2), ("U0OPS1", "dev", 2), ("U0OPS2", "dev", 2)]
    assert rig.sender.alerts == []
    rig.advance(minutes=5)  # rounds exhausted: one channel alert naming the unacked roles
    assert [(a.roles, a.channel_alert) for a in rig.sender.alerts] == [(["dev"], "<!channel>")]
    rig.advance(hours=1)
    assert len(rig.sender.alerts) == 1 and len(rig.sender.dms) == 6
    kinds = [e.kind for e in rig.svc.events(inc)]
    assert kinds.count("paging.escalated") == 2 and kinds.count("paging.channel_alert") == 1


def test_acknowledging_stops_that_roles_escalation_only(rig: Rig, store: Store) -> None:
    rig.clock.now = datetime(2025, 1, 8, 9, 30, tzinfo=UTC)
    inc = rig.open()
    rig.advance(minutes=2)
    outcome = rig.paging.acknowledge(inc, "dev", "U0DEV", "dm")
    assert outcome.changed and outcome.ack is not None and outcome.ack.seconds_to_ack == 120
    assert rig.sender.acked == [("U0DEV", "U0DEV")]
    rig.advance(minutes=3)
    assert ("U0PM", "pm", 1) in rig.sender.dms and ("U0DEV", "dev", 1) not in rig.sender.dms
    again = rig.paging.acknowledge(inc, "dev", "U0BACKUP", "thread")
    assert not again.changed and again.reason == "already acknowledged by <@U0DEV>"
    page = rig.paging.pages(inc, "dev")[0]
    assert page.acked_by == "U0DEV" and page.acked_at == rig.clock.now - timedelta(minutes=3)
    states = {s.role: s for s in rig.paging.role_states(inc)}
    assert states["dev"].state == "acknowledged" and states["dev"].next_page_at is None
    assert states["pm"].state == "paged" and states["pm"].next_page_at == rig.clock.now + timedelta(minutes=5)


def test_a_late_ack_after_escalation_acks_once(rig: Rig) -> None:
    inc = rig.open()
    rig.advance(minutes=5)
    assert rig.paging.acknowledge(inc, "dev", "U0BACKUP", "dm").changed
    assert sorted(rig.sender.acked) == [("U0BACKUP", "U0BACKUP"), ("U0DEV", "U0BACKUP"), ("U0DEV", "U0BACKUP")]
    rig.advance(hours=2)
    assert len(rig.sender.dms) == 3 and rig.sender.alerts == []


def test_resolving_stops_all_timers(rig: Rig) -> None:
    inc = rig.open()
    assert {t.kind for t in rig.timers.pending(inc)} == {"escalate", "deferred_page"}
    rig.svc.resolve(inc, "U0OPENER", "fixed")
    assert rig.paging.stop(inc) == 3
    assert rig.sender.closed_dms == ["U0DEV"]  # the unacknowledged DM stops asking
    assert rig.timers.pending(inc) == []
    rig.advance(days=2)
    assert rig.sender.dms == [("U0DEV", "dev", 0)] and rig.sender.alerts == []
    assert not rig.paging.acknowledge(inc, "pm", "U0PM", "dm").changed


def test_a_closed_incident_pages_nobody_even_if_a_timer_slipped_through(rig: Rig, store: Store) -> None:
    inc = rig.open()
    rig.svc.cancel(inc, "U0OPENER")  # closed without stop(): the handlers still check
    rig.advance(days=1)
    assert rig.sender.dms == [("U0DEV", "dev", 0)] and rig.sender.alerts == []


def test_two_concurrent_acks_record_one(rig: Rig) -> None:
    inc = rig.open()
    barrier = threading.Barrier(2)
    results: dict[str, bool] = {}

    def click(user: str) -> None:
        barrier.wait()
        results[user] = rig.paging.acknowledge(inc, "dev", user, "thread").changed

    threads = [threading.Thread(target=click, args=(u,)) for u in ("U0DEV", "U0BACKUP")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results.values()) == [False, True]
    assert [e.kind for e in rig.svc.events(inc)].count("page.acked") == 1
    ack = rig.paging.ack(inc, "dev")
    assert ack is not None and results[ack.acked_by] is True


def test_a_page_is_never_sent_twice_and_a_failed_dm_is_recorded(rig: Rig) -> None:
    rig.sender.fail_for.add("U0DEV")
    inc = rig.open()
    assert rig.sender.dms == []
    page = rig.paging.pages(inc, "dev")[0]
    assert page.state == "failed" and "cannot_dm_bot" in (page.error or "")
    assert [t.user for t in rig.sender.notes[0].failed] == ["U0DEV"]
    kinds = [e.kind for e in rig.svc.events(inc)]
    assert "page.failed" in kinds and "page.sent" not in kinds  # the timeline says what happened
    assert rig.svc.step_state(inc, "immediate.alert-team").state == "pending"  # nobody was reached
    rig.sender.fail_for.clear()
    assert rig.paging.page_on_open(inc) is not None and rig.sender.dms == []  # the same key is never re-sent


def test_no_contacts_or_no_roles_for_the_severity_pages_nobody(
    store: Store, svc: IncidentService, clock: FakeClock
) -> None:
    nobody = Rig(store, svc, clock, None)
    inc = nobody.open()
    assert nobody.sender.dms == [] and nobody.paging.view(inc).nobody_reason == "no contacts file is configured"
    svc.resolve(inc, "U0OPENER", "done")
    rig = Rig(store, svc, clock, parse_contacts(CONTACTS).model_copy(update={"severities": {}}))
    inc2 = rig.open("minor")
    assert rig.paging.view(inc2).nobody_reason == "the contacts file pages no role for minor"


def test_a_slack_error_on_the_thread_note_never_stops_paging(rig: Rig) -> None:
    def down(incident: Incident, note: PagingNote) -> None:
        raise RuntimeError("ratelimited")

    rig.sender.note = down  # type: ignore[method-assign]
    inc = rig.open()
    assert rig.sender.dms == [("U0DEV", "dev", 0)]
    assert rig.svc.step_state(inc, "immediate.alert-team").state == "done"
    rig.advance(minutes=5)
    assert ("U0BACKUP", "dev", 1) in rig.sender.dms  # escalation armed and fired regardless


def test_a_user_group_slack_will_not_list_is_said_and_the_rest_are_paged(
    store: Store, svc: IncidentService, clock: FakeClock
) -> None:
    def no_scope(group: str) -> list[str]:
        raise RuntimeError("missing_scope")

    rig = Rig(store, svc, clock, parse_contacts(CONTACTS))
    rig.paging._group_members = no_scope
    inc = svc.open("production", "major", "x", "C1", "U1")  # major pages ops: a user group only
    note = rig.paging.page_on_open(inc.id)
    assert note is not None and note.paged == [] and "S0OPS could not be resolved (missing_scope)" in note.problems[0]
    assert "S0OPS could not be resolved" in str(paging_note(svc.get(inc.id), note, 15).blocks)


def test_paging_on_a_dst_change_night_defers_to_the_local_start_of_hours(
    store: Store, svc: IncidentService, clock: FakeClock
) -> None:
    every_day = CONTACTS.replace(
        'availability: {start: "09:00", end: "17:00", tz: Europe/Berlin}',
        'availability: {days: [mon, tue, wed, thu, fri, sat, sun], start: "09:00", end: "17:00", tz: Europe/Berlin}',
    )
    clock.now = datetime(2025, 3, 30, 0, 30, tzinfo=UTC)  # 01:30 CET, before Berlin springs forward at 02:00
    rig = Rig(store, svc, clock, parse_contacts(every_day))
    inc = rig.open()
    deferred = {t.user: t.at for t in rig.sender.notes[0].deferred}
    assert deferred["U0PM"] == datetime(2025, 3, 30, 7, 0, tzinfo=UTC)  # 09:00 CEST, not 08:00 UTC
    rig.advance(hours=6, minutes=29)
    assert ("U0PM", "pm", 0) not in rig.sender.dms
    rig.advance(minutes=1)
    assert ("U0PM", "pm", 0) in rig.sender.dms
    assert {s.role: s.state for s in rig.paging.role_states(inc)}["pm"] == "paged"


def test_a_timer_for_a_role_removed_from_the_contacts_file_does_nothing(
    store: Store, svc: IncidentService, clock: FakeClock
) -> None:
    rig = Rig(store, svc, clock, parse_contacts(CONTACTS))
    inc = rig.open()
    # restart with a contacts file that no longer has "dev": its pending escalation must not crash or page
    smaller = parse_contacts(CONTACTS).model_copy(deep=True)
    smaller.roles.pop("dev")
    smaller.severities.clear()
    rig.paging.contacts = smaller
    rig.advance(minutes=5)
    assert rig.sender.dms == [("U0DEV", "dev", 0)]
    assert rig.timers.get(f"escalate|{inc}|dev|0") is not None


def test_a_drill_pages_only_its_starter_and_never_escalates(rig: Rig) -> None:
    drill = rig.svc.open("production", "critical", "rehearsal", "C0OPS", "U0OPENER", drill=True)
    rig.paging.page_on_open(drill.id)
    assert rig.sender.dms == [("U0OPENER", "dev", 0)]  # the starter, as the first role; nobody else
    assert [t.user for t in rig.sender.notes[0].paged] == ["U0OPENER"] and not rig.sender.notes[0].deferred
    assert rig.advance(hours=12) == []  # no escalation, no deferred page, no channel alert
    assert rig.sender.dms == [("U0OPENER", "dev", 0)] and rig.sender.alerts == []
    assert rig.paging.acknowledge(drill.id, "dev", "U0OPENER", "dm")
