"""Slack ack latency: signed ``/rollback`` and Done clicks over real HTTP, bot vs a no-op bolt App.

Both apps run under uvicorn on 127.0.0.1 behind the same Starlette route shape (bolt dispatch in the
thread pool), both talk to the same fake Slack, and each iteration POSTs the *same signed bytes* to
both (alternating which goes first). The ratio is what the bot's handlers add on top of bolt itself;
the absolute p95 is also compared with the 3 s Slack gives an app to acknowledge.
"""

from __future__ import annotations

import logging
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TypeVar

import httpx
from pydantic import SecretStr
from slack_bolt import Ack, App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk import WebClient
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.factory import RollbackBot, create_app
from app.server import SLACK_PATH, create_asgi
from app.serving import serve_in_thread
from app.settings import Settings
from bench.report import Budget, Paired, Row, percentile
from handlers.actions_ids import ActionId
from sandbox.fake_slack import ElementNotFound, FakeSlack, seed_demo_workspace
from sandbox.slack_user import SignedRequest, build_block_action, build_slash_command

SIGNING_SECRET = "bench-signing-secret"
CHANNEL = "C0OPS"
ENVIRONMENT = "production"
SLACK_ACK_BUDGET_S = 3.0
T = TypeVar("T")


class BenchError(RuntimeError):
    """The bot did not do what the bench needs (a bug, reported as a failed row)."""


def wait_for(predicate: Callable[[], T | None], timeout_s: float, what: str) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise BenchError(f"timed out waiting for {what}")
        time.sleep(0.005)


def baseline_app(fake: FakeSlack) -> App:
    """The floor: bolt with signature checks and a listener that only acks."""
    app = App(
        client=WebClient(token=fake.bot_token, base_url=fake.base_url),
        signing_secret=SIGNING_SECRET,
        token_verification_enabled=True,
    )

    @app.command("/rollback")
    def _command(ack: Ack) -> None:
        ack()

    @app.action(re.compile(".*"))
    def _action(ack: Ack) -> None:
        ack()

    return app


def baseline_asgi(app: App) -> Starlette:
    """bolt behind a Starlette route with ``App.dispatch`` in the thread pool: how bolt's Starlette
    adapter is used, and how the bot was served before its HTTP ack gate (app/server.py)."""

    async def slack_events(request: Request) -> Response:
        body = await request.body()
        bolt_resp = await run_in_threadpool(app.dispatch, to_bolt_request(request, body))
        return to_starlette_response(bolt_resp)

    return Starlette(routes=[Route(SLACK_PATH, slack_events, methods=["POST"])])


@contextmanager
def servers(workdir: Path) -> Iterator[tuple[FakeSlack, RollbackBot, str, str]]:
    """(fake Slack, bot, bot URL, baseline URL), all on 127.0.0.1."""
    fake = seed_demo_workspace(FakeSlack()).start()
    try:
        settings = Settings(
            slack_bot_token=SecretStr(fake.bot_token),
            slack_signing_secret=SecretStr(SIGNING_SECRET),
            slack_api_base_url=fake.base_url,
            rollback_store_path=workdir / "bot.db",
            rollback_default_environment=ENVIRONMENT,
            rollback_agents={},
            rollback_operators=[],
        )
        bot = create_app(settings)
        try:
            with (
                serve_in_thread(create_asgi(bot)) as bot_srv,
                serve_in_thread(baseline_asgi(baseline_app(fake))) as base_srv,
            ):
                yield fake, bot, bot_srv.url + SLACK_PATH, base_srv.url + SLACK_PATH
        finally:
            bot.close()
    finally:
        fake.stop()


def _post(http: httpx.Client, url: str, req: SignedRequest) -> httpx.Response:
    resp = http.post(url, content=req.body.encode(), headers=req.headers)
    if resp.status_code != 200:
        raise BenchError(f"{url} answered {resp.status_code}: {resp.text[:200]}")
    return resp


def _settle_and_resolve(bot: RollbackBot, timeout_s: float = 10.0) -> str:
    """Wait until the incident's thread is fully posted, then resolve it (frees the environment)."""
    service = bot.deps.service
    incident = wait_for(lambda: service.open_for(ENVIRONMENT), timeout_s, "the incident")
    _section_messages(bot, incident.id, timeout_s)
    service.resolve(incident.id, "UBENCH", "bench iteration")
    return incident.id


def _section_messages(bot: RollbackBot, incident_id: str, timeout_s: float = 10.0) -> dict[str, str]:
    """{section id: message ts} once every section of the runbook has been posted."""
    sections = len(bot.deps.runbook.sections)

    def complete() -> dict[str, str] | None:
        messages = bot.deps.service.section_messages(incident_id)
        return messages if len(messages) == sections else None

    return wait_for(complete, timeout_s, "the section messages")


def bench_slash(
    http: httpx.Client, fake: FakeSlack, bot: RollbackBot, bot_url: str, base_url: str, n: int, budget: Budget
) -> Paired:
    samples = Paired()
    for i in range(-1, n):  # i == -1: warm-up, not recorded
        if budget.expired() and len(samples) >= 3:
            break
        req = build_slash_command(
            fake, signing_secret=SIGNING_SECRET, user_id="U0ALICE", channel_id=CHANNEL, text="production critical bench"
        )
        pair = Paired()
        reply = pair.run(i, partial(_post, http, bot_url, req), partial(_post, http, base_url, req))
        if "Opening" not in reply.text:
            raise BenchError(f"/rollback did not open an incident: {reply.text[:200]}")
        _settle_and_resolve(bot)
        if i >= 0:
            samples.extend(pair)
    return samples


def bench_clicks(
    http: httpx.Client,
    fake: FakeSlack,
    bot: RollbackBot,
    bot_url: str,
    base_url: str,
    n: int,
    budget: Budget,
    *,
    rate_limited: bool = False,
) -> Paired:
    """Done on successive steps of one open incident; each click waits for its in-place update.

    ``rate_limited``: Slack answers 429 (Retry-After 1 s) to every ``chat.update`` while clicking, so
    no update arrives; each click waits only for its step to change in the store.
    """
    service = bot.deps.service
    req = build_slash_command(
        fake, signing_secret=SIGNING_SECRET, user_id="U0ALICE", channel_id=CHANNEL, text="production critical clicks"
    )
    _post(http, bot_url, req)
    incident = wait_for(lambda: service.open_for(ENVIRONMENT), 10, "the incident")
    messages = _section_messages(bot, incident.id)
    if rate_limited:
        fake.inject("chat.update", status=429, retry_after=1, times=None)
    samples = Paired()
    i = -1  # first click: warm-up
    for section, step, _depth in bot.deps.runbook.iter_steps():
        if i >= n or (budget.expired() and len(samples) >= 3):
            break
        try:
            click = build_block_action(
                fake,
                signing_secret=SIGNING_SECRET,
                user_id="U0BOB",
                channel_id=CHANNEL,
                message_ts=messages[section.id],
                action_id=ActionId.STEP_DONE,
                value=f"{incident.id}|{step.id}",
            )
        except ElementNotFound:
            continue  # e.g. an agent step with only a Run button
        ts = messages[section.id]
        edits = fake.message(CHANNEL, ts).edit_count
        pair = Paired()
        pair.run(i, partial(_post, http, bot_url, click), partial(_post, http, base_url, click))
        step_id = step.id

        def done(step_id: str = step_id) -> bool:
            return service.step_state(incident.id, step_id).state == "done"

        def updated(ts: str = ts, edits: int = edits) -> bool:
            return fake.message(CHANNEL, ts).edit_count > edits

        wait_for(done, 10, f"step {step_id} done")
        if not rate_limited:
            wait_for(updated, 10, "the section update")
        if i >= 0:
            samples.extend(pair)
        i += 1
    fake.clear_injections()
    service.resolve(incident.id, "UBENCH", "bench done")
    return samples


def _rows(label: str, s: Paired, budget_check: bool) -> list[Row]:
    if not s.measured:
        return [Row(f"{label} ack", 0.0, 0.0, note="no samples", ok=False)]
    p50, p95 = percentile(s.measured, 50), percentile(s.measured, 95)
    b50, b95 = percentile(s.baseline, 50), percentile(s.baseline, 95)
    n = f"n={len(s)}"
    rows = [Row(f"{label} ack p50", p50, b50, note=n)]
    note = n
    if budget_check:
        note += f"; p95 {'<' if p95 < SLACK_ACK_BUDGET_S else '>='} Slack's 3 s budget"
    rows.append(Row(f"{label} ack p95", p95, b95, note=note, ok=True))
    return rows


def run(*, iterations: int = 30, budget: Budget | None = None) -> list[Row]:
    """Ack latency rows for ``/rollback`` and a Done click (``iterations`` timed samples each)."""
    budget = budget or Budget(60)
    logging.getLogger("slack_bolt").setLevel(logging.ERROR)
    rows: list[Row] = []
    with (
        tempfile.TemporaryDirectory(prefix="rollback-bench-") as tmp,
        servers(Path(tmp)) as (fake, bot, bot_url, base_url),
        httpx.Client(timeout=10, trust_env=False) as http,
    ):
        for label, fn, share in (
            ("/rollback", bench_slash, 0.4),
            ("click Done", bench_clicks, 0.5),
            ("click Done, 429 on every edit", partial(bench_clicks, rate_limited=True), 1.0),
        ):
            try:
                samples = fn(http, fake, bot, bot_url, base_url, iterations, budget.share(share))
            except BenchError as exc:
                rows.append(Row(f"{label} ack", 0.0, 0.0, note=f"FAILED: {exc}", ok=False))
                continue
            rows += _rows(label, samples, budget_check=True)
    return rows
