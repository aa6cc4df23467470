"""Project-owned fake Slack workspace (Web API + response_url + uploads) for tests and `make demo`.

No usable Slack emulator exists (docs: slack-platform.md section 6), so the project owns this one::

    with seed_demo_workspace(FakeSlack()).start() as fake:          # C0OPS + U0ALICE/U0BOB/U0CAROL
        client = WebClient(token=fake.bot_token, base_url=fake.base_url)
        fake.inject("chat.postMessage", status=429, retry_after=1)  # next call is rate limited
        ...
        fake.messages("C0OPS"); fake.thread("C0OPS", ts); print(fake.render_thread("C0OPS", ts))

Pair it with `sandbox.slack_user` to send signed slash commands and clicks to the bot.
"""

from sandbox.fake_slack.fake import FakeSlack
from sandbox.fake_slack.interactions import ElementNotFound
from sandbox.fake_slack.models import (
    Channel,
    Ephemeral,
    FileUpload,
    Message,
    ResponsePost,
    User,
    Usergroup,
    View,
)
from sandbox.fake_slack.seed import seed_demo_workspace

__all__ = [
    "Channel",
    "ElementNotFound",
    "Ephemeral",
    "FakeSlack",
    "FileUpload",
    "Message",
    "ResponsePost",
    "User",
    "Usergroup",
    "View",
    "seed_demo_workspace",
]
