"""PagerDuty Events API v2 against the local stand-in: trigger on page, resolve on ack or close."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.contacts import parse_contacts
from bot.incidents import IncidentService
from bot.pagerduty import PagerDutyError, PagerDutyEvents
from bot.paging import PagingService
from bot.store import Store
from bot.timers import TimerService
from sandbox.pagerduty_standin import PagerDutyStandIn
from sandbox.sandbox_host import free_port
from tests.unit.bot.conftest import FakeClock
from tests.unit.paging.test_paging import RecordingSender

KEY = "R0UTINGKEY0123456789abcdefABCDEF"
CONTACTS = f"""
roles:
  dev: {{users: [U0DEV], pagerduty_routing_key: {KEY}}}
  ops: {{users: [U0OPS]}}
severities:
  critical: {{roles: [dev, ops], ack_timeout_minutes: 5}}
"""


@pytest.fixture
def standin() -> Iterator[PagerDutyStandIn]:
    s = PagerDutyStandIn().start()
    yield s
    s.stop()


@pytest.fixture
def phone(standin: PagerDutyStandIn) -> Iterator[PagerDutyEvents]:
    p = PagerDutyEvents(standin.url)
    yield p
    p.close()


def _paging(store: Store, svc: IncidentService, clock: FakeClock, phone: PagerDutyEvents) -> PagingService:
    timers = TimerService(store, clock=clock)
    paging = PagingService(
        store, svc, parse_contacts(CONTACTS), timers, RecordingSender(), lambda g: [], phone=phone, clock=clock
    )
    timers.start()
    return paging


def test_a_page_triggers_one_alert_per_role_and_the_ack_resolves_it(
    store: Store, svc: IncidentService, clock: FakeClock, phone: PagerDutyEvents, standin: PagerDutyStandIn
) -> None:
    paging = _paging(store, svc, clock, phone)
    inc = svc.open("production", "critical", "media 500s", "C1", "U1")
    paging.page_on_open(inc.id)
    (trigger,) = standin.received()  # ops has no routing key: Slack only
    assert trigger["event_action"] == "trigger" and trigger["routing_key"] == KEY
    assert trigger["dedup_key"] == f"rollback-bot/{inc.id}/dev"
    assert trigger["payload"]["severity"] == "critical" and inc.id in trigger["payload"]["summary"]
    clock.advance(minutes=5)
    paging.timers.run_due()  # round 1 re-pages dev: the same dedup key, one alert in PagerDuty
    assert [e["dedup_key"] for e in standin.received()] == [trigger["dedup_key"]] * 2
    assert paging.acknowledge(inc.id, "dev", "U0DEV", "dm").changed
    assert standin.received()[-1] == {"routing_key": KEY, "event_action": "resolve", "dedup_key": trigger["dedup_key"]}


def test_closing_the_incident_resolves_unacknowledged_alerts(
    store: Store, svc: IncidentService, clock: FakeClock, phone: PagerDutyEvents, standin: PagerDutyStandIn
) -> None:
    paging = _paging(store, svc, clock, phone)
    inc = svc.open("production", "critical", "x", "C1", "U1")
    paging.page_on_open(inc.id)
    svc.cancel(inc.id, "U1")
    paging.stop(inc.id)
    assert [e["event_action"] for e in standin.received()] == ["trigger", "resolve"]


def test_pagerduty_refusals_and_outages_are_errors_and_never_stop_the_slack_page(
    store: Store, svc: IncidentService, clock: FakeClock, standin: PagerDutyStandIn
) -> None:
    with PagerDutyEvents(standin.url) as bad, pytest.raises(PagerDutyError, match="answered 400.*routing_key"):
        bad.trigger("short", "k", "s", "critical")
    with PagerDutyEvents(f"http://127.0.0.1:{free_port()}/v2/enqueue", timeout_s=2) as down:
        with pytest.raises(PagerDutyError, match="unreachable"):
            down.resolve(KEY, "k")
        paging = _paging(store, svc, clock, down)
        inc = svc.open("production", "critical", "x", "C1", "U1")
        paging.page_on_open(inc.id)
        assert [p.state for p in paging.pages(inc.id)] == ["sent", "sent"]
