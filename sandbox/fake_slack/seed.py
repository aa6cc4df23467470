"""The demo workspace: #ops-incidents (C0OPS), a few engineers and an on-call usergroup."""

from __future__ import annotations

from sandbox.fake_slack.fake import FakeSlack

OPS_CHANNEL = "C0OPS"
ONCALL_GROUP = "S0ONCALL"
DEMO_USERS = {
    "U0ALICE": ("alice", "Alice Admin"),
    "U0BOB": ("bob", "Bob Builder"),
    "U0CAROL": ("carol", "Carol Oncall"),
}


def seed_demo_workspace(fake: FakeSlack) -> FakeSlack:
    for user_id, (name, real_name) in DEMO_USERS.items():
        fake.add_user(user_id, name, real_name=real_name)
    fake.add_channel(OPS_CHANNEL, "ops-incidents", members=list(DEMO_USERS))
    fake.add_usergroup(ONCALL_GROUP, "oncall", ["U0ALICE", "U0CAROL"])
    return fake
