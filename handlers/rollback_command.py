"""``/rollback``: validate, open the incident, ack within 3 s, then post the thread."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk.errors import SlackApiError

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
        try:
            deps.publisher.open_thread(incident)
        except Exception as exc:  # Slack refused, or anything else: never leave a half-posted open incident
            error = exc.response.get("error", str(exc)) if isinstance(exc, SlackApiError) else str(exc)
            log.error("could not post the thread of %s: %s", incident.id, error)
            deps.service.cancel(incident.id, "rollback-bot", f"could not post to Slack: {error}")
            try:
                deps.publisher.refresh_parent(incident.id)  # a parent that made it says "cancelled"
                deps.publisher.ephemeral(
                    cmd.channel_id,
                    cmd.user_id,
                    f":x: {incident.id} could not be posted in this channel (Slack said `{error}`), so it was "
                    "cancelled. Invite the bot to the channel (`/invite @rollback-bot`) and run `/rollback` again.",
                )
            except Exception:
                log.exception("could not tell %s that %s was cancelled", cmd.user_id, incident.id)
            return
        deps.reminders.start(incident.id)
        try:
            deps.paging.page_on_open(incident.id)
        except Exception:  # the incident stands; the parent shows who was (not) paged
            log.exception("paging for %s failed", incident.id)
        deps.publisher.refresh_parent(incident.id)
