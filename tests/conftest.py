"""Fixtures shared by the tiers: a seeded fake Slack on 127.0.0.1 and bot settings pointing at it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from app.settings import Settings
from sandbox.fake_slack import FakeSlack, seed_demo_workspace

SIGNING_SECRET = "test-signing-secret"
T = TypeVar("T")


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = seed_demo_workspace(FakeSlack()).start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def bot_settings(tmp_path: Path, fake_slack: FakeSlack) -> Settings:
    return Settings(
        slack_bot_token=fake_slack.bot_token,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_base_url=fake_slack.base_url,
        rollback_store_path=tmp_path / "bot.db",
        rollback_default_environment="production",
    )


def wait_for(predicate: Callable[[], T], timeout_s: float = 10.0, what: str = "condition") -> T:
    """Poll until ``predicate`` returns something truthy; listeners run after the ack."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
