"""The composition root: settings in, a wired bolt App out.

``create_app(settings, client)`` is what serve, the demo and every test tier call; passing a
client pointed at the sandbox is the only difference between a drill and production.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.incidents import IncidentService
from bot.runbook import load_runbook
from bot.settings import Settings
from bot.store import Store
from handlers import rollback_command, step_actions, thread_events
from handlers.deps import HandlerDeps
from handlers.publisher import ThreadPublisher

log = logging.getLogger(__name__)


@dataclass
class RollbackBot:
    app: App
    deps: HandlerDeps
    store: Store

    def close(self) -> None:
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


def create_app(settings: Settings, client: WebClient | None = None) -> RollbackBot:
    store = Store(settings.rollback_store_path)
    runbook = load_runbook(settings.rollback_runbook_path)
    service = IncidentService(store, runbook)
    client = client or build_client(settings)
    app = App(
        client=client,
        signing_secret=settings.signing_secret,
        # Resolve the bot identity at start-up: a wrong token fails here, not on the first click.
        token_verification_enabled=True,
    )

    def agent_url_for(environment: str) -> str | None:
        target = settings.rollback_agents.get(environment)
        return target.url if target else None

    publisher = ThreadPublisher(client, service, runbook, agent_url_for)
    deps = HandlerDeps(settings=settings, service=service, runbook=runbook, publisher=publisher)
    rollback_command.register(app, deps)
    step_actions.register(app, deps)
    thread_events.register(app, deps)
    return RollbackBot(app=app, deps=deps, store=store)
