"""The composition root: settings in, a wired bolt App out.

``create_app(settings, client)`` is what serve, the demo and every test tier call; passing a
client pointed at the sandbox is the only difference between a drill and production.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from app.settings import Settings
from bot.agents import AgentDirectory
from bot.incidents import IncidentService
from bot.jobs import JobRunner
from bot.permissions import OperatorPolicy
from bot.runbook import load_runbook
from bot.store import Store
from bot.thread_plan import ThreadPlan
from handlers import incident_actions, rollback_command, steps, thread_events
from handlers.agent_presenter import SlackJobPresenter
from handlers.deps import HandlerDeps
from handlers.publisher import ThreadPublisher
from handlers.reconciler import ThreadReconciler

log = logging.getLogger(__name__)


@dataclass
class RollbackBot:
    app: App
    deps: HandlerDeps
    store: Store

    reconciler: ThreadReconciler

    def close(self) -> None:
        self.reconciler.close()
        self.deps.runner.close()
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


def create_app(settings: Settings, client: WebClient | None = None) -> RollbackBot:
    store = Store(settings.rollback_store_path)
    runbook = load_runbook(settings.rollback_runbook_path)
    slack = client or build_client(settings)

    def group_members(group_id: str) -> list[str]:
        return list(slack.usergroups_users_list(usergroup=group_id)["users"])

    operators = OperatorPolicy(settings.rollback_operators, settings.rollback_operator_group, group_members)
    service = IncidentService(store, runbook, operators=operators)
    app = App(
        client=slack,
        signing_secret=settings.signing_secret,
        # Resolve the bot identity at start-up: a wrong token fails here, not on the first click.
        token_verification_enabled=True,
        listener_executor=ThreadPoolExecutor(
            max_workers=settings.rollback_listener_workers, thread_name_prefix="bolt-listener"
        ),
    )

    agents = AgentDirectory(settings.rollback_agents)

    plan = ThreadPlan(store, runbook)
    publisher = ThreadPublisher(slack, service, plan, runbook, agents.url_for, post_client=build_post_client(slack))
    runner = JobRunner(service, agents, SlackJobPresenter(publisher, service))
    deps = HandlerDeps(
        environments=settings.environments,
        default_environment=settings.rollback_default_environment,
        service=service,
        runbook=runbook,
        publisher=publisher,
        runner=runner,
    )
    # Every listener, by what it answers: the slash command, each step kind's controls, the
    # parent's Resolve / Cancel, and thread messages.
    rollback_command.register(app, deps)
    steps.register(app, deps)
    incident_actions.register(app, deps)
    thread_events.register(app, deps)
    reconciler = ThreadReconciler(publisher, service).start()  # first: repair what a crash left behind
    if recovered := runner.recover():
        log.info("re-attached to %d agent job(s) left running by the previous process", recovered)
    return RollbackBot(app=app, deps=deps, store=store, reconciler=reconciler)
