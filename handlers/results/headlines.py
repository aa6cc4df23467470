"""The first line of a job's result message, one sentence per outcome (``HEADLINES``).

Each entry gets the operation and environment (as inline code), the result's summary and the
error's message and code, all escaped. An outcome this bot does not know still gets a line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.domain import AgentOutcome
from handlers.results import formatting as fmt


@dataclass(frozen=True)
class HeadlineFacts:
    op: str  # `operation`
    env: str  # `environment`
    summary: str
    error: str
    code: str  # " (`code`)" or ""
    failed_checks: list[str]


def _failed(f: HeadlineFacts) -> str:
    if f.failed_checks:
        return f":x: {f.op} failed on {f.env}: {len(f.failed_checks)} check(s) failed: {fmt.names(f.failed_checks)}"
    return f":x: {f.op} failed on {f.env}: {f.summary or f.error or 'no details'}"


HEADLINES: dict[AgentOutcome, Callable[[HeadlineFacts], str]] = {
    AgentOutcome.ok: lambda f: f":white_check_mark: {f.op} succeeded on {f.env}: {f.summary}",
    AgentOutcome.failed: _failed,
    AgentOutcome.noop: lambda f: f":information_source: {f.op} on {f.env}: nothing to do: {f.summary}",
    AgentOutcome.inconclusive: lambda f: f":grey_question: {f.op} on {f.env} inconclusive: {f.summary}",
    AgentOutcome.refused: lambda f: f":no_entry: {f.op} on {f.env} refused as unsafe: {f.error or f.summary}{f.code}",
    AgentOutcome.invalid: lambda f: f":warning: {f.op} on {f.env}: rejected input: {f.error or f.summary}{f.code}",
    AgentOutcome.unreachable: lambda f: (
        f":electric_plug: {f.op} on {f.env}: agent unreachable: {f.error or 'no answer'}"
    ),
    AgentOutcome.timeout: lambda f: f":hourglass: {f.op} on {f.env} timed out: {f.error or 'no result in time'}",
    AgentOutcome.unauthorized: lambda f: (
        f":closed_lock_with_key: {f.op} on {f.env}: agent rejected the bot's signature (check the shared secret)"
    ),
    AgentOutcome.protocol: lambda f: (
        f":interrobang: {f.op} on {f.env}: unexpected answer from the agent: {f.error or 'protocol error'}"
    ),
    AgentOutcome.error: lambda f: (
        f":boom: {f.op} on {f.env}: agent error: {f.error or f.summary or 'no details'}{f.code}"
    ),
}


def headline(
    operation: str,
    outcome: str,
    environment: str,
    summary: str,
    err_msg: str,
    err_code: str,
    failed_checks: list[str],
) -> str:
    facts = HeadlineFacts(
        op=f"`{fmt.esc(operation)}`",
        env=f"`{fmt.esc(environment)}`",
        summary=fmt.esc_clip(summary, 1500),
        error=fmt.esc_clip(err_msg, 1500),
        code=f" ({fmt.code(err_code, 60)})" if err_code else "",
        failed_checks=failed_checks,
    )
    line = HEADLINES.get(outcome)  # type: ignore[call-overload]
    if line is None:
        return (
            f":grey_question: {facts.op} on {facts.env} ended with outcome {fmt.code(outcome, 40)}: "
            f"{facts.summary or facts.error}"
        )
    return line(facts)
