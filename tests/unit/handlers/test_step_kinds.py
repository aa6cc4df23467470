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
    step_actions = [listener.action_id for listener in listeners() if listener.on == "action"]
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
    assert sorted(app.actions) == sorted(str(listener.action_id) for listener in listeners())


def test_two_listeners_for_one_action_stop_the_bot(monkeypatch: pytest.MonkeyPatch) -> None:
    twice = Listener(ActionId.STEP_DONE, lambda deps: lambda: None)
    monkeypatch.setitem(
        steps.STEP_VIEWS, "manual", StepKindView(build=steps.STEP_VIEWS["manual"].build, listeners=(twice,))
    )
    with pytest.raises(RuntimeError, match="two listeners for action step_done"):
        steps.register(_RecordingApp(), deps=None)  # type: ignore[arg-type]


def test_a_modal_submission_listener_registers_as_a_view(monkeypatch: pytest.MonkeyPatch) -> None:
    class App(_RecordingApp):
        def __init__(self) -> None:
            super().__init__()
            self.views: list[str] = []

        def view(self, callback_id: str) -> Any:
            self.views.append(callback_id)
            return lambda listener: listener

    modal = Listener("page_contacts_modal", lambda deps: lambda: None, on="view")
    monkeypatch.setattr(steps, "SHARED_LISTENERS", (*steps.SHARED_LISTENERS, modal))
    app = App()
    steps.register(app, deps=None)  # type: ignore[arg-type]
    assert app.views == ["page_contacts_modal"] and "page_contacts_modal" not in app.actions
