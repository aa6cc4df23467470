"""A result that reports a hot journal offers Run recover_journal; any other result does not."""

from __future__ import annotations

from typing import Any

from handlers.actions_ids import ActionId
from handlers.results import job_result_message


def _actions(result: dict[str, Any] | None, error: dict[str, Any] | None, outcome: str = "ok") -> list[Any]:
    msg = job_result_message(
        operation="status",
        outcome=outcome,
        result=result,
        error=error,
        environment="production",
        step_title="Check status",
        started_by="U0BOB",
        duration_s=1.0,
        recover_ref="RB-1|status",
    )
    return [
        e
        for b in msg.blocks
        if b.get("type") == "actions"
        for e in b["elements"]
        if e.get("action_id") == ActionId.JOURNAL_RECOVER
    ]


def test_hot_journal_status_offers_the_button_with_a_confirm_naming_environment() -> None:
    (button,) = _actions({"operation": "status", "summary": "hot journal", "hot_journal": True}, None)
    assert button["style"] == "danger" and button["value"] == "RB-1|status"
    assert "recover_journal" in button["confirm"]["title"]["text"]
    assert "production" in button["confirm"]["title"]["text"]


def test_journal_present_refusal_offers_the_button() -> None:
    assert _actions(None, {"code": "journal_present", "message": "hot journal"}, outcome="refused")


def test_results_without_hot_journal_have_no_button() -> None:
    assert not _actions({"operation": "status", "summary": "fine", "hot_journal": False}, None)
    assert not _actions(None, {"code": "app_running", "message": "running"}, outcome="refused")
    assert not _actions({"operation": "status", "summary": "fine"}, None)
