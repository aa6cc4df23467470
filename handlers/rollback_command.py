"""``/rollback``: validate, open the incident, ack, then ask the publisher to post the thread.

``reply_to_rollback`` is the whole command: the text Slack shows the caller (the ack) and the work
that follows it. The bolt listener and the HTTP ack gate (``app/ack_gate.py``) both call it, so the
command means the same thing whichever way it arrives.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App

from bot.incidents import Incident, IncidentAlreadyOpen
from handlers.command_grammar import CommandUsageError, RollbackCommand, parse_rollback_args, usage
from handlers.deps import HandlerDeps
from handlers.payloads import SlashCommand
from handlers.text import fmt_time, mention

log = logging.getLogger(__name__)

COMMAND = "/rollback"


@dataclass(frozen=True)
class CommandReply:
    """What the caller sees at once (``text``, the ack) and what runs after the ack has left."""

    text: str
    after: Callable[[], None] | None = None


def _parse(deps: HandlerDeps, body: dict[str, Any]) -> tuple[SlashCommand, RollbackCommand] | CommandReply:
    """The command and its arguments, or the usage reply when they don't parse."""
    cmd = SlashCommand.model_validate(body)
    envs, default = deps.environments, deps.default_environment
    try:
        return cmd, parse_rollback_args(cmd.text, envs, default)
    except CommandUsageError as exc:
        return CommandReply(f":warning: {exc}\n{usage(envs, default)}")


def refuse_rollback(deps: HandlerDeps, body: dict[str, Any]) -> CommandReply | None:
    """The reply when ``/rollback`` opens nothing (a usage error, an incident already open), decided
    without writing or waiting for the store's writers; None when it would open an incident."""
    parsed = _parse(deps, body)
    if isinstance(parsed, CommandReply):
        return parsed
    args = parsed[1]
    other = deps.service.peek_open_for(args.environment, drill=args.drill)
    return _already_open(other) if other is not None else None


def _already_open(other: Incident) -> CommandReply:
    return CommandReply(
        f":information_source: {other.id} is already open for `{other.environment}` "
        f"({other.severity}, opened by {mention(other.opened_by)} at {fmt_time(other.opened_at)}). "
        f"Work in its thread in <#{other.channel}>; no new incident was opened."
    )


def reply_to_rollback(deps: HandlerDeps, body: dict[str, Any]) -> CommandReply:
    parsed = _parse(deps, body)
    if isinstance(parsed, CommandReply):
        return parsed
    cmd, args = parsed
    try:  # IncidentService.open answers an environment already taken from the same peek, then re-checks
        incident = deps.service.open(
            args.environment, args.severity, args.summary, cmd.channel_id, cmd.user_id, drill=args.drill
        )
    except IncidentAlreadyOpen as exc:
        return _already_open(exc.incident)
    if incident.drill:
        text = (
            f":test_tube: DRILL: opening {incident.id} for `{incident.environment}` ({incident.severity}). "
            "The agent works on a scratch copy; the live DB and app are not touched."
        )
    else:
        text = f":rotating_light: Opening {incident.id} for `{incident.environment}` ({incident.severity})."

    def after() -> None:
        # Posting happens off this thread; if Slack refuses the parent, the publisher cancels the
        # incident and tells the opener why (handlers/publisher.py).
        deps.publisher.open_thread(incident)
        deps.reminders.start(incident.id)
        # Paging sends DMs (Web API): the publisher's workers do it, never the request's thread.
        deps.publisher.queue.submit(("page-on-open", incident.id), lambda: _page_on_open(deps, incident.id))

    return CommandReply(text, after)


def register(app: App, deps: HandlerDeps) -> None:
    @app.command(COMMAND)
    def rollback(ack: Ack, body: dict[str, Any]) -> None:
        reply = reply_to_rollback(deps, body)
        ack(text=reply.text)
        if reply.after is not None:
            reply.after()


def _page_on_open(deps: HandlerDeps, incident_id: str) -> None:
    try:
        deps.paging.page_on_open(incident_id)
    except Exception:  # the incident stands; the parent shows who was (not) paged
        log.exception("paging for %s failed", incident_id)
    deps.publisher.refresh_parent(incident_id)
