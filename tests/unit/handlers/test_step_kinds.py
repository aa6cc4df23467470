"""Every step kind of the runbook model has one builder and its listeners, declared in handlers/steps."""

from __future__ import annotations

from typing import Any

import pytest

from bot.runbook import STEP_KINDS
from handlers import steps
from handlers.actions_ids import ActionId
from handlers.steps import STEP_VIEWS, listeners
from handlers.steps.base import Listener, StepKindView


def test_every_step_kind_has_a_view_and_nothing_else_does() -> None:
    assert set(STEP_VIEWS) == set(STEP_KINDS)


def test_every_action_the_builders_use_has_exactly_one_listener() -> None:
    step_actions = [listener.action_id for listener in listeners()]
    assert len(step_actions) == len(set(step_actions))
    others = {
        ActionId.INCIDENT_RESOLVE,  # handlers/incident_actions.py
        ActionId.INCIDENT_CANCEL,
        ActionId.INCIDENT_REOPEN,
        ActionId.PAGE_ACK,  # handlers/page_actions.py
        ActionId.NOTICE_OPEN,  # handlers/notice_actions.py
    }
    assert set(step_actions) | others == set(ActionId)


class _RecordingApp:
    def __init__(self) -> None:
        self.actions: list[str] = []

    def action(self, action_id: str) -> Any:
        self.actions.append(action_id)
        return lambda listener: listener


def test_register_wires_each_listener_once() -> None:
    app = _RecordingApp()
    steps.register(app, deps=None)  # type: ignore[arg-type]
    assert sorted(app.actions) == sorted(listener.action_id.value for listener in listeners())


def test_two_listeners_for_one_action_stop_the_bot(monkeypatch: pytest.MonkeyPatch) -> None:
    twice = Listener(ActionId.STEP_DONE, lambda deps: lambda: None)
    monkeypatch.setitem(
        steps.STEP_VIEWS, "manual", StepKindView(build=steps.STEP_VIEWS["manual"].build, listeners=(twice,))
    )
    with pytest.raises(RuntimeError, match="two listeners for action step_done"):
        steps.register(_RecordingApp(), deps=None)  # type: ignore[arg-type]
