"""The thread messages of an agent job: while it runs, and the result it leaves.

Results arrive as JSON (an op result's ``model_dump(mode="json")``). They are validated back into
the operation's result model (``ops/contract.py``) so each presenter reads real, typed fields; an
agent on another version that sends something else still gets its summary and warnings shown.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement

from handlers.actions_ids import ActionId
from handlers.elements import assert_stopped_confirm, confirm_dialog
from handlers.message import SlackMessage
from handlers.results import formatting as fmt
from handlers.results.headlines import headline
from handlers.results.presenters import PRESENTERS
from handlers.text import mention
from ops.contract import OPERATIONS
from ops.models import CheckApiResult, OpResult, VerifyResult


def _parse(operation: str, result: dict[str, Any]) -> OpResult | None:
    """The typed result, or the common base when this bot doesn't know the agent's shape (version skew)."""
    op = OPERATIONS.get(operation) or OPERATIONS.get(str(result.get("operation", "")))
    model = op.result if op is not None else None
    for candidate in (model, OpResult):
        if candidate is None:
            continue
        try:
            return candidate.model_validate(result)
        except ValidationError:
            continue
    return None


def _details(res: OpResult) -> list[Block]:
    """The operation's own facts, when the result parsed as that operation's model."""
    op = OPERATIONS.get(res.operation)
    render = PRESENTERS.get(res.operation)
    if op is None or render is None or not isinstance(res, op.result):
        return []
    return render(res)


def _failed_checks(res: OpResult | None) -> list[str]:
    if isinstance(res, VerifyResult | CheckApiResult):
        return [c.name for c in res.checks if not c.passed]
    return []


# --- public API ----------------------------------------------------------------------------------------
def job_running_message(
    *, operation: str, environment: str, step_title: str, started_by: str, progress: list[str]
) -> SlackMessage:
    """The thread message while a job runs; it is updated in place with the newest progress lines."""
    head = (
        f":hourglass_flowing_sand: Running `{fmt.esc(operation)}` on `{fmt.esc(environment)}` "
        f"(step: {fmt.esc_clip(step_title, 200)}) — started by {mention(started_by)}"
    )
    blocks: list[Block] = [fmt.section(head)]
    if progress:
        recent = progress[-fmt.PROGRESS_SHOWN :]
        blocks.append(fmt.section(fmt.code_block(recent, from_end=True, hidden=len(progress) - len(recent))))
    else:
        blocks.append(fmt.context("_waiting for the agent to report progress…_"))
    return fmt.finish(head, blocks)


def job_result_message(
    *,
    operation: str,
    outcome: str,
    result: dict[str, Any] | None,
    error: dict[str, Any] | None,
    environment: str,
    step_title: str,
    started_by: str,
    duration_s: float | None,
    recover_ref: str | None = None,
) -> SlackMessage:
    """The thread message a finished (or failed-to-run) job leaves: a one-line verdict, then the facts
    of that operation, so the channel never has to ask someone to paste terminal output."""
    raw = result if isinstance(result, dict) else {}
    res = _parse(operation, raw) if raw else None
    summary = res.summary if res is not None else str(raw.get("summary", "") or "")
    err = error if isinstance(error, dict) else {}
    err_msg, err_code = str(err.get("message", "") or ""), str(err.get("code", "") or "")
    head = headline(operation, outcome, environment, summary, err_msg, err_code, _failed_checks(res))
    blocks: list[Block] = [fmt.section(head)]
    meta = [f"step: {fmt.esc_clip(step_title, 200)}", f"started by {mention(started_by)}"]
    if duration_s is not None:
        meta.append(f"took {fmt.duration(duration_s)}")
    if outcome == "unauthorized" and err_msg:
        meta.append(f"agent said: {fmt.esc_clip(err_msg, 300)}")
    blocks.append(fmt.context(" · ".join(meta)))
    if res is not None:
        blocks.extend(_details(res))
    warnings = res.warnings if res is not None else []
    if warnings:
        lines = [f"• {fmt.esc_clip(w, 400)}" for w in warnings]
        blocks.append(fmt.section(fmt.list_text(":warning: *Warnings*", lines, shown=fmt.WARNINGS_SHOWN)))
    if recover_ref is not None:
        if operation != "recover_journal" and reports_hot_journal(raw, err):
            blocks.append(recover_journal_actions(recover_ref, environment))
        elif operation == "recover_journal" and outcome == "refused" and err_code == "app_state_unknown":
            blocks.append(recover_journal_assert_stopped_actions(recover_ref, environment))
    return fmt.finish(head, blocks)


def reports_hot_journal(result: dict[str, Any], error: dict[str, Any]) -> bool:
    """A status that saw a hot journal, or a rollback/restore the agent refused because of one."""
    return result.get("hot_journal") is True or error.get("code") == "journal_present"


def recover_journal_assert_stopped_actions(ref: str, environment: str) -> Block:
    """A recover_journal refused because nothing on the host can prove go-fast-cdn is stopped: a
    person may assert it, as for a step's own operation (the step's Retry would rerun that one)."""
    return ActionsBlock(
        elements=[
            ButtonElement(
                text="Retry recover_journal: I confirm it is stopped",
                action_id=ActionId.JOURNAL_RECOVER_ASSERT_STOPPED,
                value=ref,
                style="danger",
                confirm=assert_stopped_confirm(environment, "recover_journal"),
            )
        ]
    )


def recover_journal_actions(ref: str, environment: str) -> Block:
    """The Run recover_journal button a hot journal earns, confirmed like every destructive Run."""
    return ActionsBlock(
        elements=[
            ButtonElement(
                text="Run recover_journal",
                action_id=ActionId.JOURNAL_RECOVER,
                value=ref,
                style="danger",
                confirm=confirm_dialog(
                    f"Run recover_journal on {environment}?",
                    f"{OPERATIONS['recover_journal'].description}. Environment: {environment}.",
                    confirm="Run recover_journal",
                ),
            )
        ]
    )
