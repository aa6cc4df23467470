"""The notes' "time left" line is redrawn when a target reminder fires (50%, 100%, then every quarter):
the reminder redraws the parent's "due by" line, and the pinned notes follow every parent redraw."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from app.factory import RollbackBot, create_app
from app.settings import Settings
from sandbox.fake_slack import FakeSlack
from tests.conftest import wait_for
from tests.dispatch.test_rollback_dispatch import CHANNEL, open_incident


@pytest.fixture
def bot(bot_settings: Settings) -> Iterator[RollbackBot]:
    b = create_app(bot_settings)
    yield b
    b.close()


def test_the_target_reminder_redraws_the_notes_time_left(fake_slack: FakeSlack, bot: RollbackBot) -> None:
    parent_ts = open_incident(fake_slack, bot)
    notes_ts = wait_for(lambda: bot.deps.notes.notes_ts("RB-1"), what="notes posted")
    assert "min left" in str(fake_slack.message(CHANNEL, notes_ts).blocks)
    incident = bot.deps.service.get("RB-1")
    edits_before = len(fake_slack.thread(CHANNEL, parent_ts))
    past_due = incident.due_at + timedelta(minutes=2)
    service_clock = bot.deps.service.clock
    bot.deps.service.clock = lambda: past_due  # nothing else changes: only the reminder can redraw
    try:
        fired = bot.timers.run_due(past_due)
        assert any(key.startswith("target_reminder|RB-1") for key in fired)
        wait_for(
            lambda: "min over target" in str(fake_slack.message(CHANNEL, notes_ts).blocks),
            what="notes redrawn past the target",
        )
    finally:
        bot.deps.service.clock = service_clock  # type: ignore[method-assign]
    assert len(fake_slack.thread(CHANNEL, parent_ts)) > edits_before  # the reminder itself was posted too
