"""Fixtures: a started, seeded fake per test and a slack_sdk client pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from sandbox.fake_slack import FakeSlack, seed_demo_workspace


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with seed_demo_workspace(FakeSlack()).start() as running:
        yield running


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(token=fake.bot_token, base_url=fake.base_url, timeout=5)


# The stand-in's tests run it on a plain sqlite3 deployment, like the app-control tests.
from tests.unit.ops.app_helpers import deployment  # noqa: E402, F401
