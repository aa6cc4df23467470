"""A simulated Slack user: signs and POSTs slash commands and button clicks to the bot like Slack does.

The builders are usable without sockets (`app.dispatch(req.bolt_request())`); `SlackUserDriver`
sends the same bytes over real HTTP. Clicks are built from the blocks the bot really posted into
the fake, so a test cannot click a button the bot never rendered.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from slack_bolt.request import BoltRequest
from slack_sdk.signature import SignatureVerifier

from sandbox.fake_slack import FakeSlack, Message
from sandbox.fake_slack import interactions as fake_interactions

DEFAULT_APP_ID = "A0SANDBOX"


@dataclass(frozen=True)
class SignedRequest:
    """The exact bytes and headers Slack would send; `payload` is the decoded content for assertions."""

    body: str
    headers: dict[str, str]
    payload: dict[str, Any]

    def bolt_request(self) -> BoltRequest:
        return BoltRequest(body=self.body, headers=dict(self.headers))

    def with_bad_signature(self) -> SignedRequest:
        """Same request, signature for a different body (what an attacker or a wrong secret produces)."""
        good = self.headers["x-slack-signature"]
        bad = good[:-1] + ("0" if good[-1] != "0" else "1")
        return replace(self, headers={**self.headers, "x-slack-signature": bad})


def sign(body: str, signing_secret: str, *, timestamp: int | None = None) -> dict[str, str]:
    """Slack's v0 signature headers for `body` (timestamp defaults to now)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=ts, body=body)
    if signature is None:  # only when timestamp/body are None, which they never are here
        raise ValueError("could not sign request")
    return {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": ts,
        "x-slack-signature": signature,
    }


def build_slash_command(
    fake: FakeSlack,
    *,
    signing_secret: str,
    user_id: str,
    channel_id: str,
    text: str,
    command: str = "/rollback",
    api_app_id: str = DEFAULT_APP_ID,
    timestamp: int | None = None,
) -> SignedRequest:
    """A signed slash command with a live response_url on the fake and a fresh trigger_id."""
    fields = fake.slash_command_fields(
        user_id=user_id, channel_id=channel_id, text=text, command=command, api_app_id=api_app_id
    )
    body = urlencode(fields)
    return SignedRequest(body=body, headers=sign(body, signing_secret, timestamp=timestamp), payload=fields)


def build_block_action(
    fake: FakeSlack,
    *,
    signing_secret: str,
    user_id: str,
    channel_id: str,
    message_ts: str,
    action_id: str,
    value: str | None = None,
    block_id: str | None = None,
    option_value: str | None = None,
    api_app_id: str = DEFAULT_APP_ID,
    timestamp: int | None = None,
) -> SignedRequest:
    """A signed `block_actions` for an element of a message stored in the fake.

    Raises `sandbox.fake_slack.ElementNotFound` when no single element matches. A button with a
    `confirm` dialog is sent as Slack does after the user pressed the dialog's confirm button.
    """
    payload = fake.block_action_payload(
        user_id=user_id,
        channel_id=channel_id,
        message_ts=message_ts,
        action_id=action_id,
        value=value,
        block_id=block_id,
        option_value=option_value,
        api_app_id=api_app_id,
    )
    return _interaction(payload, signing_secret, timestamp)


def _interaction(payload: dict[str, Any], signing_secret: str, timestamp: int | None) -> SignedRequest:
    body = "payload=" + quote(json.dumps(payload))
    return SignedRequest(body=body, headers=sign(body, signing_secret, timestamp=timestamp), payload=payload)


def _event(envelope: dict[str, Any], signing_secret: str, timestamp: int | None) -> SignedRequest:
    """Events API deliveries are JSON bodies, signed the same way as interactions."""
    body = json.dumps(envelope)
    headers = {**sign(body, signing_secret, timestamp=timestamp), "content-type": "application/json"}
    return SignedRequest(body=body, headers=headers, payload=envelope)


def build_view_submission(
    fake: FakeSlack,
    *,
    signing_secret: str,
    user_id: str,
    view_id: str,
    values: dict[str, dict[str, Any]] | None = None,
    edits: dict[str, Any] | None = None,
    api_app_id: str = DEFAULT_APP_ID,
    timestamp: int | None = None,
) -> SignedRequest:
    """A signed `view_submission` of an open modal (what pressing Submit sends): `values` is
    block_id -> action_id -> input, `edits` action_id -> input; untouched inputs keep their initial value."""
    payload = fake_interactions.view_submission_payload(
        fake.ws, user_id=user_id, view_id=view_id, raw_values=values, edits=edits, api_app_id=api_app_id
    )
    return _interaction(payload, signing_secret, timestamp)


def build_view_closed(
    fake: FakeSlack, *, signing_secret: str, user_id: str, view_id: str, api_app_id: str = DEFAULT_APP_ID
) -> SignedRequest:
    payload = fake_interactions.view_closed_payload(fake.ws, user_id=user_id, view_id=view_id, api_app_id=api_app_id)
    return _interaction(payload, signing_secret, None)


def build_message_event(
    fake: FakeSlack, message: Message, *, signing_secret: str, api_app_id: str = DEFAULT_APP_ID
) -> SignedRequest:
    """The Events API delivery of a person's message (thread replies arrive with thread_ts)."""
    event = fake_interactions.message_event(fake.ws, message)
    return _event(fake_interactions.event_envelope(fake.ws, event, api_app_id=api_app_id), signing_secret, None)


def build_reaction_added(
    fake: FakeSlack,
    *,
    signing_secret: str,
    user_id: str,
    channel_id: str,
    ts: str,
    name: str,
    api_app_id: str = DEFAULT_APP_ID,
) -> SignedRequest:
    event = fake_interactions.reaction_added_event(fake.ws, user_id=user_id, channel_id=channel_id, ts=ts, name=name)
    return _event(fake_interactions.event_envelope(fake.ws, event, api_app_id=api_app_id), signing_secret, None)


class SlackUserDriver:
    """Acts as Slack towards a running bot at `bot_url` (e.g. "http://127.0.0.1:PORT/slack/events")."""

    def __init__(
        self,
        fake: FakeSlack,
        bot_url: str,
        signing_secret: str,
        *,
        api_app_id: str = DEFAULT_APP_ID,
        timeout_s: float = 10.0,
    ) -> None:
        self.fake = fake
        self.bot_url = bot_url
        self.signing_secret = signing_secret
        self.api_app_id = api_app_id
        self.last_request: SignedRequest | None = None
        self._http = httpx.Client(timeout=timeout_s, trust_env=False)

    def slash(
        self,
        user_id: str,
        channel_id: str,
        text: str,
        command: str = "/rollback",
        *,
        age_s: int = 0,
        bad_signature: bool = False,
    ) -> httpx.Response:
        """Run a slash command; `age_s`/`bad_signature` produce requests the bot must reject (401)."""
        req = build_slash_command(
            self.fake,
            signing_secret=self.signing_secret,
            user_id=user_id,
            channel_id=channel_id,
            text=text,
            command=command,
            api_app_id=self.api_app_id,
            timestamp=int(time.time()) - age_s,
        )
        return self.send(req.with_bad_signature() if bad_signature else req)

    def click(
        self,
        user_id: str,
        channel_id: str,
        message_ts: str,
        action_id: str,
        value: str | None = None,
        block_id: str | None = None,
        *,
        age_s: int = 0,
        bad_signature: bool = False,
    ) -> httpx.Response:
        """Click a button (or pick `value` in an overflow) on a message the bot posted."""
        req = self._action(user_id, channel_id, message_ts, action_id, value, block_id, None, age_s)
        return self.send(req.with_bad_signature() if bad_signature else req)

    def select(
        self,
        user_id: str,
        channel_id: str,
        message_ts: str,
        action_id: str,
        option_value: str,
        block_id: str | None = None,
        *,
        age_s: int = 0,
        bad_signature: bool = False,
    ) -> httpx.Response:
        """Choose an option in a static_select / overflow / radio group on a message the bot posted."""
        req = self._action(user_id, channel_id, message_ts, action_id, None, block_id, option_value, age_s)
        return self.send(req.with_bad_signature() if bad_signature else req)

    def submit_view(self, user_id: str, view_id: str, edits: dict[str, Any]) -> httpx.Response:
        """Submit a modal the bot opened (inputs by action_id; unset ones keep their initial value)."""
        req = build_view_submission(
            self.fake,
            signing_secret=self.signing_secret,
            user_id=user_id,
            view_id=view_id,
            edits=edits,
            api_app_id=self.api_app_id,
        )
        return self.send(req)

    def send(self, request: SignedRequest) -> httpx.Response:
        """POST a prepared request's exact bytes (useful for replays and hand-tampered requests)."""
        self.last_request = request
        return self._http.post(self.bot_url, content=request.body.encode(), headers=request.headers)

    def _action(
        self,
        user_id: str,
        channel_id: str,
        message_ts: str,
        action_id: str,
        value: str | None,
        block_id: str | None,
        option_value: str | None,
        age_s: int,
    ) -> SignedRequest:
        return build_block_action(
            self.fake,
            signing_secret=self.signing_secret,
            user_id=user_id,
            channel_id=channel_id,
            message_ts=message_ts,
            action_id=action_id,
            value=value,
            block_id=block_id,
            option_value=option_value,
            api_app_id=self.api_app_id,
            timestamp=int(time.time()) - age_s,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SlackUserDriver:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


def build_event(
    fake: FakeSlack,
    *,
    signing_secret: str,
    event: dict[str, Any],
    api_app_id: str = DEFAULT_APP_ID,
    timestamp: int | None = None,
    retry_num: int | None = None,
) -> SignedRequest:
    """A signed Events API delivery of any `event` (e.g. what FakeSlack.edit_as_user returns);
    `retry_num` marks it as Slack's redelivery (``X-Slack-Retry-Num``)."""
    req = _event(fake_interactions.event_envelope(fake.ws, event, api_app_id=api_app_id), signing_secret, timestamp)
    if retry_num is not None:
        headers = {**req.headers, "x-slack-retry-num": str(retry_num), "x-slack-retry-reason": "http_timeout"}
        return replace(req, headers=headers)
    return req
