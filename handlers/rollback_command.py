"""``/rollback``: validate, open the incident, ack, then ask the publisher to post the thread."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from bot.incidents import IncidentAlreadyOpen
from handlers.command_grammar import CommandUsageError, parse_rollback_args, usage
from handlers.deps import HandlerDeps
from handlers.payloads import SlashCommand
from handlers.text import fmt_time, mention

log = logging.getLogger(__name__)


def register(app: App, deps: HandlerDeps) -> None:
    @app.command("/rollback")
    def rollback(ack: Ack, body: dict[str, Any]) -> None:
        cmd = SlashCommand.model_validate(body)
        envs, default = deps.environments, deps.default_environment
        try:
            args = parse_rollback_args(cmd.text, envs, default)
        except CommandUsageError as exc:
            ack(text=f":warning: {exc}\n{usage(envs, default)}")
            return
        try:
            incident = deps.service.open(
                args.environment, args.severity, args.summary, cmd.channel_id, cmd.user_id, drill=args.drill
            )
        except IncidentAlreadyOpen as exc:
            other = exc.incident
            ack(
                text=(
                    f":information_source: {other.id} is already open for `{other.environment}` "
                    f"({other.severity}, opened by {mention(other.opened_by)} at {fmt_time(other.opened_at)}). "
                    f"Work in its thread in <#{other.channel}>; no new incident was opened."
                )
            )
            return
        if incident.drill:
            ack(
                text=f":test_tube: DRILL: opening {incident.id} for `{incident.environment}` ({incident.severity}). "
                "The agent works on a scratch copy; the live DB and app are not touched."
            )
        else:
            ack(text=f":rotating_light: Opening {incident.id} for `{incident.environment}` ({incident.severity}).")
        # Posting happens off this thread; if Slack refuses the parent, the publisher cancels the
        # incident and tells the opener why (handlers/publisher.py).
        deps.publisher.open_thread(incident)
        deps.reminders.start(incident.id)
        # Paging sends DMs (Web API): the publisher's workers do it, never bolt's listener threads.
        deps.publisher.queue.submit(("page-on-open", incident.id), lambda: _page_on_open(deps, incident.id))


def _page_on_open(deps: HandlerDeps, incident_id: str) -> None:
    try:
        deps.paging.page_on_open(incident_id)
    except Exception:  # the incident stands; the parent shows who was (not) paged
        log.exception("paging for %s failed", incident_id)
    deps.publisher.refresh_parent(incident_id)
