"""Project-owned fake Slack workspace (Web API + response_url + uploads) for tests and `make demo`."""

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
