"""The composition root: settings in, a wired bolt App out.

``create_app(settings, client)`` is what serve, the demo and every test tier call; passing a
client pointed at the sandbox is the only difference between a drill and production.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from apscheduler.schedulers.background import BackgroundScheduler
from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from app.ack_gate import AckGate
from app.settings import Settings
from bot.agents import AgentDirectory
from bot.contacts import load_contacts
from bot.follow_ups import FollowUpService
from bot.incidents import IncidentService
from bot.jobs import JobRunner
from bot.pagerduty import PagerDutyEvents
from bot.paging import PagingService
from bot.permissions import OperatorPolicy
from bot.record.keeper import RecordKeeper
from bot.reminders import ReminderService
from bot.runbook import load_runbook
from bot.store import Store
from bot.thread_plan import ThreadPlan
from bot.timers import TimerService
from handlers import follow_up_actions, incident_actions, notice_actions, rollback_command, steps, thread_events
from handlers.agent_presenter import SlackJobPresenter
from handlers.deps import HandlerDeps
from handlers.notes_publisher import NotesPublisher
from handlers.paging_sender import SlackPageSender
from handlers.publisher import ThreadPublisher
from handlers.reconciler import ThreadReconciler
from handlers.record_publisher import RecordPublisher
from handlers.reminders import SlackReminderSender

log = logging.getLogger(__name__)


@dataclass
class RollbackBot:
    app: App
    deps: HandlerDeps
    store: Store
    timers: TimerService
    reconciler: ThreadReconciler
    gate: AckGate
    listeners: ThreadPoolExecutor
    phone: PagerDutyEvents | None = None

    def drain(self) -> None:
        """Stop taking clicks and finish every one already acked: the gate's queue, then the bolt
        listeners still running after their ack."""
        self.gate.close()
        self.listeners.shutdown(wait=True)

    def close(self) -> None:
        self.drain()  # first: what was acked still reaches the store and Slack
        self.reconciler.close()
        self.timers.close()
        if self.phone is not None:
            self.phone.close()
        self.deps.runner.close()
        self.deps.notes.close()
        self.deps.records.close()
        self.deps.publisher.close()
        self.store.close()


def build_client(settings: Settings) -> WebClient:
    """A WebClient that rides out 429s (Retry-After), 5xx and dropped connections."""
    return WebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_base_url,
        timeout=15,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=4),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def build_post_client(client: WebClient) -> WebClient:
    """The client for chat.postMessage: it retries only a 429 (Slack said "not posted, wait").

    A post retried after a dropped connection or a 5xx could be a second copy; the publisher looks
    such an in-doubt post up in the thread instead.
    """
    return WebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=4)],
    )


def register_listeners(app: App, deps: HandlerDeps) -> None:
    """Every listener, by what it answers: the slash command, each step kind's controls, the
    parent's Resolve / Cancel, follow-ups, the notice modal, and thread messages."""
    rollback_command.register(app, deps)
    steps.register(app, deps)
    incident_actions.register(app, deps)
    thread_events.register(app, deps)
    follow_up_actions.register(app, deps)
    notice_actions.register(app, deps)  # the notice modal's submission (its button is a step control)


def create_app(settings: Settings, client: WebClient | None = None) -> RollbackBot:
    contacts = load_contacts(settings.rollback_contacts_path)  # ContactsError before anything starts
    store = Store(settings.rollback_store_path)
    runbook = load_runbook(settings.rollback_runbook_path)
    slack = client or build_client(settings)

    def group_members(group_id: str) -> list[str]:
        return list(slack.usergroups_users_list(usergroup=group_id)["users"])

    operators = OperatorPolicy(settings.rollback_operators, settings.rollback_operator_group, group_members)
    service = IncidentService(store, runbook, operators=operators)
    listeners = ThreadPoolExecutor(max_workers=settings.rollback_listener_workers, thread_name_prefix="bolt-listener")
    app = App(
        client=slack,
        signing_secret=settings.signing_secret,
        # Resolve the bot identity at start-up: a wrong token fails here, not on the first click.
        token_verification_enabled=True,
        listener_executor=listeners,
    )
    # The same listeners for clicks the HTTP gate has acked already: run to completion on the
    # gate's worker (no second thread, no polling for an ack that is already sent).
    acked_app = App(
        client=slack,
        signing_secret=settings.signing_secret,
        token_verification_enabled=True,
        process_before_response=True,
    )

    agents = AgentDirectory(settings.rollback_agents)

    plan = ThreadPlan(store, runbook)

    def role_names() -> dict[str, str]:
        return {r: contacts.role_name(r) for r in contacts.roles} if contacts else {}

    notes = NotesPublisher(slack, service, role_names=role_names)
    publisher = ThreadPublisher(
        slack,
        service,
        plan,
        runbook,
        agents.url_for,
        paging_for=lambda incident_id: paging.view(incident_id),
        deployment_for=agents.deployment_for,
        post_client=build_post_client(slack),
        follow_ups_for=lambda incident_id: {f.step_id: f for f in follow_ups.items(incident_id)},
        time_zone=settings.rollback_time_zone,
        after_parent=notes.post,
        on_change=notes.refresh,
    )
    keeper = RecordKeeper(service, time_zone=settings.rollback_time_zone)
    records = RecordPublisher(
        slack,
        service,
        keeper,
        on_stored=publisher.refresh_parent,
        role_names=role_names,
    )
    runner = JobRunner(service, agents, SlackJobPresenter(publisher, service))

    timers = TimerService(store, scheduler=BackgroundScheduler(timezone="UTC"))
    sender = SlackPageSender(
        slack, publisher, contacts.ack_timeout_minutes if contacts else lambda _severity: 0.0, service.clock
    )
    # Phones ring only for contacts that name a PagerDuty routing key.
    phone = PagerDutyEvents(settings.rollback_pagerduty_events_url) if contacts and contacts.uses_pagerduty else None
    paging = PagingService(store, service, contacts, timers, sender, group_members, phone=phone)
    reminders = ReminderService(service, timers, SlackReminderSender(publisher, service.clock))
    follow_ups = FollowUpService(service, timers)
    deps = HandlerDeps(
        environments=settings.environments,
        default_environment=settings.rollback_default_environment,
        service=service,
        runbook=runbook,
        publisher=publisher,
        runner=runner,
        paging=paging,
        reminders=reminders,
        notes=notes,
        records=records,
        follow_ups=follow_ups,
        time_zone=settings.rollback_time_zone,
    )
    for bolt_app in (app, acked_app):
        register_listeners(bolt_app, deps)
    reconciler = ThreadReconciler(publisher, service).start()  # first: repair what a crash left behind
    if recovered := runner.recover():
        log.info("re-attached to %d agent job(s) left running by the previous process", recovered)
    if unwritten := records.recover():
        log.info("writing %d incident record(s) the previous process did not finish", unwritten)
    if armed := timers.start():
        log.info("re-armed %d pending timer(s) from the store", armed)
    gate = AckGate(acked_app, deps, settings.signing_secret, settings.rollback_click_workers)
    return RollbackBot(
        app=app,
        deps=deps,
        store=store,
        timers=timers,
        reconciler=reconciler,
        gate=gate,
        listeners=listeners,
        phone=phone,
    )
