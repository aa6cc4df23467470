"""Failure injection and call recording, observed through slack_sdk's own retry and error handling."""

from __future__ import annotations

import time

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from sandbox.fake_slack import FakeSlack
from tests.unit.sandbox.helpers import OPS


def test_429_is_retried_by_rate_limit_handler(fake: FakeSlack) -> None:
    client = WebClient(
        token=fake.bot_token, base_url=fake.base_url, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)]
    )
    fake.inject("chat.postMessage", status=429, retry_after=1, times=1)
    started = time.monotonic()
    assert client.chat_postMessage(channel=OPS, text="eventually")["ok"] is True
    assert time.monotonic() - started >= 1.0  # the handler honoured Retry-After
    assert len(fake.calls("chat.postMessage")) == 2
    assert [m.text for m in fake.messages(OPS)] == ["eventually"]


def test_429_without_handler_raises_with_retry_after(client: WebClient, fake: FakeSlack) -> None:
    fake.inject("chat.update", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as err:
        client.chat_update(channel=OPS, ts="1.000001", text="x")
    assert err.value.response.status_code == 429
    assert err.value.response.headers["Retry-After"] == "7"


def test_injected_error_then_recovers(client: WebClient, fake: FakeSlack) -> None:
    fake.inject("chat.postMessage", error="not_in_channel", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as err:
            client.chat_postMessage(channel=OPS, text="x")
        assert err.value.response["error"] == "not_in_channel"
    assert client.chat_postMessage(channel=OPS, text="x")["ok"] is True
    assert client.auth_test()["ok"] is True  # other methods are unaffected


def test_server_error_and_unlimited_fault(client: WebClient, fake: FakeSlack) -> None:
    fake.inject("users.info", status=500, times=None)
    for _ in range(3):
        with pytest.raises(SlackApiError) as err:
            client.users_info(user="U0ALICE")
        assert err.value.response.status_code == 500
    fake.clear_injections()
    assert client.users_info(user="U0ALICE")["user"]["name"] == "alice"


def test_delay_and_client_timeout(fake: FakeSlack) -> None:
    fake.inject("auth.test", delay_s=0.3)
    client = WebClient(token=fake.bot_token, base_url=fake.base_url)
    started = time.monotonic()
    client.auth_test()
    assert time.monotonic() - started >= 0.3
    fake.inject("auth.test", delay_s=1.0)
    impatient = WebClient(token=fake.bot_token, base_url=fake.base_url, timeout=0.2)  # type: ignore[arg-type]
    with pytest.raises(TimeoutError):
        impatient.auth_test()


def test_calls_are_recorded_without_token_and_reset(client: WebClient, fake: FakeSlack) -> None:
    client.chat_postMessage(channel=OPS, text="hello")
    client.users_info(user="U0BOB")
    assert fake.calls("chat.postMessage") == [{"channel": OPS, "text": "hello"}]
    assert fake.methods_called() == ["chat.postMessage", "users.info"]
    fake.reset_calls()
    assert fake.calls() == []
