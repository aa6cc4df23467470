"""The bot served over real HTTP (uvicorn in a thread) with a driver that signs requests as Slack does."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from app.factory import RollbackBot, create_app
from app.server import SLACK_PATH, create_asgi
from app.serving import serve_in_thread
from app.settings import Settings
from sandbox.fake_slack import FakeSlack
from sandbox.slack_user import SlackUserDriver
from tests.conftest import SIGNING_SECRET


@contextmanager
def serving(bot: RollbackBot, fake: FakeSlack) -> Iterator[tuple[SlackUserDriver, str]]:
    """Serve ``bot`` (made, and perhaps patched, by the caller); yields the driver and the base URL.
    The bot is closed once the server has stopped, also when the test fails inside."""
    try:
        with serve_in_thread(create_asgi(bot)) as srv, SlackUserDriver(fake, srv.url + SLACK_PATH, SIGNING_SECRET) as d:
            yield d, srv.url
    finally:
        bot.close()


@contextmanager
def running_bot(settings: Settings, fake: FakeSlack) -> Iterator[tuple[RollbackBot, SlackUserDriver, str]]:
    bot = create_app(settings)
    with serving(bot, fake) as (driver, url):
        yield bot, driver, url
