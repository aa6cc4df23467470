"""Dispatch tier: a status result reporting a hot journal offers Run recover_journal; only operators
may press it, and a double press starts one job, under the status step."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from app.factory import RollbackBot, create_app
from app.settings import Settings
from handlers.actions_ids import ActionId
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


def _buttons(fake: FakeSlack, parent_ts: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (m.ts, e)
        for m in fake.thread(CHANNEL, parent_ts)
        for b in m.blocks
        if b.get("type") == "actions"
        for e in b.get("elements", [])
        if e.get("action_id") == ActionId.JOURNAL_RECOVER
    ]


def test_hot_journal_button_operators_only_one_job(fake_slack: FakeSlack, bot: RollbackBot) -> None:
    client = HotJournalClient({})
    bot.deps.runner.agents = FakeAgents(client)  # type: ignore[assignment]
    svc = bot.deps.service
    inc = svc.open("production", "critical", "media 500s", CHANNEL, "U0ALICE")
    bot.deps.publisher.open_thread(inc)
    parent_ts = wait_for(lambda: svc.get(inc.id).thread_ts, what="the thread")
    assert bot.deps.runner.start(inc.id, STEP, "U0BOB").job is not None
    ts, button = wait_for(lambda: _buttons(fake_slack, parent_ts), what="Run recover_journal")[0]
    assert button["style"] == "danger" and "production" in button["confirm"]["title"]["text"]

    def press(user: str) -> None:
        req = build_block_action(
            fake_slack, signing_secret=SIGNING_SECRET, user_id=user, channel_id=CHANNEL, message_ts=ts,
            action_id=ActionId.JOURNAL_RECOVER, value=button["value"],
        )  # fmt: skip
        assert bot.app.dispatch(req.bolt_request()).status == 200

    press("U0CAROL")
    wait_for(lambda: fake_slack.ephemerals(CHANNEL, "U0CAROL"), what="refusal")
    assert [j.operation for j in svc.jobs(inc.id)] == ["status"]
    client.gate.clear()
    press("U0BOB")
    press("U0BOB")
    wait_for(lambda: fake_slack.ephemerals(CHANNEL, "U0BOB"), what="second press refused")
    client.gate.set()
    wait_for(lambda: all(j.state == "finished" for j in svc.jobs(inc.id)) and len(svc.jobs(inc.id)) == 2, what="jobs")
    jobs = svc.jobs(inc.id)
    assert [j.operation for j in jobs] == ["status", "recover_journal"] and jobs[1].step_id == STEP
    assert [c[0] for c in client.calls] == ["status", "recover_journal"]
    assert svc.step_state(inc.id, STEP).state == "failed"  # the step's own status can be retried
