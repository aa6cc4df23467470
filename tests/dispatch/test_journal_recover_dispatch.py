"""Dispatch tier: a status result reporting a hot journal offers Run recover_journal; only operators
may press it, and a double press starts one job, under the status step."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from app.factory import RollbackBot, create_app
from app.settings import Settings
from handlers.actions_ids import ActionId
from ops.models import JobError
from sandbox.fake_slack import FakeSlack
from sandbox.slack_user import build_block_action
from tests.conftest import SIGNING_SECRET, wait_for
from tests.unit.bot.test_jobs import FakeAgents, FakeClient

CHANNEL = "C0OPS"
STEP = "immediate.assess"


class HotJournalClient(FakeClient):
    def run(self, operation: str, args: dict[str, Any], request_id: str, **kw: Any) -> Any:
        view = super().run(operation, args, request_id, **kw)
        if operation == "status":
            view.result = {**(view.result or {}), "hot_journal": True}
        return view


@pytest.fixture
def bot(bot_settings: Settings) -> Iterator[RollbackBot]:
    b = create_app(bot_settings.model_copy(update={"rollback_operators": ["U0BOB"]}))
    yield b
    b.close()


def _buttons(
    fake: FakeSlack, parent_ts: str, action: str = ActionId.JOURNAL_RECOVER
) -> list[tuple[str, dict[str, Any]]]:
    """(message ts, button) of every ``action`` button in the thread."""
    return [
        (m.ts, e)
        for m in fake.thread(CHANNEL, parent_ts)
        for b in m.blocks
        if b.get("type") == "actions"
        for e in b.get("elements", [])
        if e.get("action_id") == action
    ]


def _press(fake: FakeSlack, bot: RollbackBot, ts: str, action: str, value: str, user: str) -> None:
    req = build_block_action(
        fake, signing_secret=SIGNING_SECRET, user_id=user, channel_id=CHANNEL, message_ts=ts, action_id=action,
        value=value,
    )  # fmt: skip
    assert bot.app.dispatch(req.bolt_request()).status == 200


def _status_run_in_a_thread(bot: RollbackBot, client: FakeClient) -> tuple[str, str]:
    """(incident id, thread ts) once the assess step's status ran on ``client`` in a new incident."""
    bot.deps.runner.agents = FakeAgents(client)  # type: ignore[assignment]
    svc = bot.deps.service
    inc = svc.open("production", "critical", "media 500s", CHANNEL, "U0ALICE")
    bot.deps.publisher.open_thread(inc)
    parent_ts = wait_for(lambda: svc.get(inc.id).thread_ts, what="the thread")
    assert bot.deps.runner.start(inc.id, STEP, "U0BOB").job is not None
    return inc.id, str(parent_ts)


def test_hot_journal_button_operators_only_one_job(fake_slack: FakeSlack, bot: RollbackBot) -> None:
    client = HotJournalClient({})
    svc = bot.deps.service
    incident_id, parent_ts = _status_run_in_a_thread(bot, client)
    ts, button = wait_for(lambda: _buttons(fake_slack, parent_ts), what="Run recover_journal")[0]
    assert button["style"] == "danger" and "production" in button["confirm"]["title"]["text"]

    def press(user: str) -> None:
        _press(fake_slack, bot, ts, ActionId.JOURNAL_RECOVER, button["value"], user)

    press("U0CAROL")
    wait_for(lambda: fake_slack.ephemerals(CHANNEL, "U0CAROL"), what="refusal")
    assert [j.operation for j in svc.jobs(incident_id)] == ["status"]
    client.gate.clear()
    press("U0BOB")
    press("U0BOB")
    wait_for(lambda: fake_slack.ephemerals(CHANNEL, "U0BOB"), what="second press refused")
    client.gate.set()
    wait_for(
        lambda: all(j.state == "finished" for j in svc.jobs(incident_id)) and len(svc.jobs(incident_id)) == 2,
        what="jobs",
    )
    jobs = svc.jobs(incident_id)
    assert [j.operation for j in jobs] == ["status", "recover_journal"] and jobs[1].step_id == STEP
    assert [c[0] for c in client.calls] == ["status", "recover_journal"]
    assert svc.step_state(incident_id, STEP).state == "failed"  # the step's own status can be retried


class UnprovableClient(HotJournalClient):
    """recover_journal is refused while nobody has said go-fast-cdn is stopped (no controller, no /proc)."""

    def run(self, operation: str, args: dict[str, Any], request_id: str, **kw: Any) -> Any:
        view = super().run(operation, args, request_id, **kw)
        if operation == "recover_journal" and "app_stopped_by" not in args:
            view.outcome, view.result = "refused", None
            view.error = JobError(kind="refused", code="app_state_unknown", message="cannot prove it is stopped")
        return view


def test_recover_journal_that_cannot_prove_stopped_offers_the_assertion(
    fake_slack: FakeSlack, bot: RollbackBot
) -> None:
    """Before, the refused recover_journal offered nothing and the step's own "I confirm it is
    stopped" reran the step's operation (refused again for the hot journal): the CLI was the only way."""
    client = UnprovableClient({})
    svc = bot.deps.service
    incident_id, parent_ts = _status_run_in_a_thread(bot, client)
    ts, button = wait_for(lambda: _buttons(fake_slack, parent_ts), what="Run recover_journal")[0]
    _press(fake_slack, bot, ts, ActionId.JOURNAL_RECOVER, button["value"], "U0BOB")

    ts2, confirm = wait_for(
        lambda: _buttons(fake_slack, parent_ts, ActionId.JOURNAL_RECOVER_ASSERT_STOPPED),
        what="Retry recover_journal: I confirm it is stopped",
    )[0]
    assert confirm["style"] == "danger" and "production" in confirm["confirm"]["title"]["text"]
    assert len(_buttons(fake_slack, parent_ts)) == 1  # its own result offers no second Run recover_journal
    _press(fake_slack, bot, ts2, ActionId.JOURNAL_RECOVER_ASSERT_STOPPED, confirm["value"], "U0BOB")
    wait_for(lambda: len(client.calls) == 3 and all(j.state == "finished" for j in svc.jobs(incident_id)), what="retry")
    assert [(op, args.get("app_stopped_by")) for op, args, _ in client.calls] == [
        ("status", None),
        ("recover_journal", None),
        ("recover_journal", "U0BOB"),
    ]
    assert svc.jobs(incident_id)[-1].outcome == "ok"
    asserted = [e for e in svc.events(incident_id) if e.kind == "app_stopped.asserted"]
    assert [(e.actor, e.data["operation"]) for e in asserted] == [("U0BOB", "recover_journal")]
