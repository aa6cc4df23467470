"""The notes' "time left" line stays current: a target reminder (50%, 100%, then every quarter) and
every reconcile pass (15 s) redraw the parent, and the pinned notes follow every parent redraw."""

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


def test_the_reconcile_pass_keeps_time_left_current_and_edits_only_on_a_change(
    fake_slack: FakeSlack, bot: RollbackBot
) -> None:
    """Every reconcile pass (15 s) re-renders the notes: before, each pass cost a ``chat.update``
    even when nothing had changed; now only a changed line (a minute gone by) costs one."""
    open_incident(fake_slack, bot)
    notes_ts = wait_for(lambda: bot.deps.notes.notes_ts("RB-1"), what="notes posted")
    bot.deps.notes.min_interval_s = 0
    now = bot.deps.service.clock()
    service_clock = bot.deps.service.clock

    def notes_edits() -> int:
        return len([c for c in fake_slack.calls("chat.update") if c.get("ts") == notes_ts])

    def settled_pass() -> None:
        notes = bot.deps.notes
        bot.reconciler.run_once()  # asks the notes for an edit before it returns
        assert bot.deps.publisher.queue.wait_idle(20)
        wait_for(lambda: not notes._timers, what="the notes' edit timer fired")
        with notes._render_lock:  # and its render, if one is in flight, done
            pass

    try:
        bot.deps.service.clock = lambda: now  # type: ignore[method-assign]
        settled_pass()
        fake_slack.reset_calls()
        for _ in range(3):
            settled_pass()
        assert notes_edits() == 0
        bot.deps.service.clock = lambda: now + timedelta(minutes=3)  # type: ignore[method-assign]
        settled_pass()
        assert notes_edits() == 1
    finally:
        bot.deps.service.clock = service_clock  # type: ignore[method-assign]
    blocks = str(fake_slack.message(CHANNEL, notes_ts).blocks)
    assert (
        f"{(bot.deps.service.get('RB-1').due_at - now - timedelta(minutes=3)).total_seconds() / 60:.0f} min left"
        in blocks
    )
