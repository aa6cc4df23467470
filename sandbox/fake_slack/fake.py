"""FakeSlack: the facade tests and the demo use to set up, run, break and inspect the fake workspace."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from sandbox.fake_slack import api_chat, events, interactions, render, responses
from sandbox.fake_slack.faults import Fault, Faults
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
from sandbox.fake_slack.registry import SlackError
from sandbox.fake_slack.server import CallLog, FakeSlackServer, Mount
from sandbox.fake_slack.state import RepliesRegime, Workspace


class FakeSlack:
    """A Slack workspace over real HTTP on 127.0.0.1; point `WebClient(base_url=fake.base_url)` at it."""

    def __init__(
        self,
        team_id: str = "T0001",
        bot_user_id: str = "UBOT",
        bot_token: str = "xoxb-sandbox",
        *,
        bot_id: str = "B0001",
        team_domain: str = "sandbox",
    ) -> None:
        self.ws = Workspace(
            team_id=team_id,
            team_domain=team_domain,
            bot_user_id=bot_user_id,
            bot_id=bot_id,
            bot_token=bot_token,
        )
        self.ws.users[bot_user_id] = User(id=bot_user_id, name="rollback-bot", real_name="Rollback Bot", is_bot=True)
        self._faults = Faults()
        self._calls = CallLog()
        self._server: FakeSlackServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self, port: int = 0) -> FakeSlack:
        """Bind 127.0.0.1 (port 0 = any free port) and serve in a daemon thread."""
        self._server = FakeSlackServer(("127.0.0.1", port), self.ws, self._faults, self._calls)
        self.ws.root_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-slack", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeSlack:
        return self if self._server else self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    def mount(self, routes: Mount) -> None:
        """Serve extra routes ("/" and "/page/...") from this fake's HTTP server."""
        if self._server is None:
            raise RuntimeError("FakeSlack is not started; call .start() first")
        self._server.mount = routes

    @property
    def root_url(self) -> str:
        if not self.ws.root_url:
            raise RuntimeError("FakeSlack is not started; call .start() first")
        return self.ws.root_url

    @property
    def base_url(self) -> str:
        """The Web API base for slack_sdk, e.g. "http://127.0.0.1:PORT/api/"."""
        return f"{self.root_url}/api/"

    @property
    def bot_token(self) -> str:
        return self.ws.bot_token

    @property
    def bot_user_id(self) -> str:
        return self.ws.bot_user_id

    @property
    def team_id(self) -> str:
        return self.ws.team_id

    # -- setup -------------------------------------------------------------------------------------
    def add_user(self, id: str, name: str, real_name: str = "", tz: str = "UTC") -> User:  # noqa: A002
        with self.ws.lock:
            self.ws.users[id] = User(id=id, name=name, real_name=real_name or name, tz=tz)
            return self.ws.users[id].model_copy()

    def add_channel(
        self,
        id: str,
        name: str,
        members: list[str] | tuple[str, ...] = (),  # noqa: A002
        *,
        bot_member: bool = True,
        is_private: bool = False,
    ) -> Channel:
        """A channel; the bot is a member unless `bot_member=False` (then replies give not_in_channel)."""
        with self.ws.lock:
            people = list(dict.fromkeys([*members, *([self.ws.bot_user_id] if bot_member else [])]))
            self.ws.channels[id] = Channel(id=id, name=name, members=people, is_private=is_private)
            return self.ws.channels[id].model_copy()

    def add_usergroup(self, id: str, handle: str, users: list[str]) -> Usergroup:  # noqa: A002
        with self.ws.lock:
            self.ws.usergroups[id] = Usergroup(id=id, handle=handle, users=list(users))
            return self.ws.usergroups[id].model_copy()

    def post_as_user(
        self, channel: str, user: str, text: str, *, thread_ts: str | None = None, blocks: Any = None
    ) -> Message:
        """A human's message (e.g. to prove chat.update refuses messages the bot didn't post)."""
        return api_chat.post(self.ws, channel, text=text, blocks=blocks, thread_ts=thread_ts, user=user).model_copy(
            deep=True
        )

    # -- what people do in a thread; each returns the Events API event Slack sends the app --------
    def write_in_thread(
        self, channel: str, user: str, text: str, *, thread_ts: str, files: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """A person's thread reply (a ``file_share`` when `files` is given); returns the ``message`` event."""
        return events.write(self.ws, channel, user, text, thread_ts=thread_ts, files=files)

    def edit_as_user(self, channel: str, ts: str, text: str) -> dict[str, Any]:
        """A person edits their message; returns the ``message_changed`` event."""
        return events.edit(self.ws, channel, ts, text)

    def delete_as_user(self, channel: str, ts: str) -> dict[str, Any]:
        """A person deletes their message; returns the ``message_deleted`` event."""
        return events.delete(self.ws, channel, ts)

    def react_in_thread(self, channel: str, ts: str, user: str, name: str, *, added: bool = True) -> dict[str, Any]:
        """A person adds (or removes) a reaction; returns ``reaction_added`` / ``reaction_removed``."""
        return events.react(self.ws, channel, ts, user, name, added=added)

    def react_as_user(self, channel: str, ts: str, user: str, name: str) -> bool:
        """A person adds a reaction (e.g. 📌 `pushpin`); False when they had already reacted so."""
        try:
            events.react(self.ws, channel, ts, user, name.strip(":"))
        except SlackError as exc:
            if exc.error == "already_reacted":
                return False
            raise
        return True

    def restrict_replies(
        self, *, max_limit: int = 15, min_interval_s: float = 60.0, parent_on_every_page: bool = False
    ) -> None:
        """Switch conversations.replies/history to the 2025 non-Marketplace regime (15 items, 1/min)."""
        with self.ws.lock:
            self.ws.replies = RepliesRegime(
                default_limit=max_limit,
                max_limit=max_limit,
                min_interval_s=min_interval_s,
                parent_on_every_page=parent_on_every_page,
            )

    def set_strict_triggers(self, strict: bool = True) -> None:
        """Strict: views.open/push accept only trigger_ids this fake issued, within 3 s, once."""
        self.ws.strict_triggers = strict

    def new_response_url(
        self,
        channel: str | None = None,
        user: str | None = None,
        *,
        message_ts: str | None = None,
        is_ephemeral: bool = False,
    ) -> str:
        """A response_url on the fake (5 uses, 30 min). With no channel, POSTs are only recorded."""
        return responses.issue(self.ws, channel=channel, user=user, message_ts=message_ts, is_ephemeral=is_ephemeral)

    def new_trigger_id(self) -> str:
        return interactions.issue_trigger(self.ws)

    # -- failure injection -------------------------------------------------------------------------
    def inject(
        self,
        method: str,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: int | None = None,
        delay_s: float = 0.0,
        times: int | None = 1,
        after: int = 0,
    ) -> Fault:
        """Fail/slow the next `times` calls of `method` (None = until cleared or withdrawn), from call
        number `after`+1 on (e.g. a 429 in the middle of paging).

        `method` is a Web API name, "response_url" / "upload" for those endpoints, or "*" for every
        call. status=429 sends Retry-After (default 1 s); `error` alone gives HTTP 200 `ok: false`.
        """
        if status == 429 and retry_after is None:
            retry_after = 1
        fault = Fault(method, status, error, retry_after, delay_s, times, after)
        self._faults.add(fault)
        return fault

    def withdraw(self, fault: Fault) -> None:
        """Remove one injected fault before it is used up."""
        self._faults.discard(fault)

    def injections(self) -> list[Fault]:
        return self._faults.active()

    def clear_injections(self) -> None:
        self._faults.clear()

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        """Arguments of every request received for `method` (all methods when None), in order."""
        return [dict(args) for name, args in self._calls.all() if method in (None, name)]

    def methods_called(self) -> list[str]:
        return [name for name, _ in self._calls.all()]

    def reset_calls(self) -> None:
        self._calls.clear()

    # -- inspection (copies, so tests can't mutate the workspace) --------------------------------
    def messages(self, channel: str) -> list[Message]:
        """Top-level messages of a channel (thread replies excluded unless broadcast), oldest first."""
        with self.ws.lock:
            return [m.model_copy(deep=True) for m in self.ws.top_level(channel)]

    def thread(self, channel: str, ts: str) -> list[Message]:
        with self.ws.lock:
            return [m.model_copy(deep=True) for m in self.ws.thread(channel, ts)]

    def message(self, channel: str, ts: str) -> Message:
        with self.ws.lock:
            return self.ws.message(channel, ts).model_copy(deep=True)

    def ephemerals(self, channel: str | None = None, user: str | None = None) -> list[Ephemeral]:
        with self.ws.lock:
            return [
                e.model_copy(deep=True)
                for e in self.ws.ephemerals
                if channel in (None, e.channel) and user in (None, e.user)
            ]

    def responses(self) -> list[ResponsePost]:
        with self.ws.lock:
            return [r.model_copy(deep=True) for r in self.ws.responses]

    def files(self) -> list[FileUpload]:
        with self.ws.lock:
            return [f.model_copy(deep=True) for f in self.ws.files.values()]

    def pins(self, channel: str) -> list[str]:
        with self.ws.lock:
            return list(self.ws.pins.get(channel, []))

    def reactions(self, channel: str, ts: str) -> dict[str, list[str]]:
        with self.ws.lock:
            return {k: list(v) for k, v in self.ws.reactions.get((channel, ts), {}).items()}

    def views(self) -> list[View]:
        with self.ws.lock:
            return [v.model_copy(deep=True) for v in self.ws.views.values()]

    def render_thread(self, channel: str, ts: str) -> str:
        return render.render_thread(self.ws, channel, ts)

    # -- what Slack sends the app (used by sandbox.slack_user) -------------------------------------
    def slash_command_fields(
        self,
        *,
        user_id: str,
        channel_id: str,
        text: str,
        command: str = "/rollback",
        api_app_id: str = "A0SANDBOX",
    ) -> dict[str, str]:
        return interactions.slash_command_fields(
            self.ws, user_id=user_id, channel_id=channel_id, text=text, command=command, api_app_id=api_app_id
        )

    def block_action_payload(
        self,
        *,
        user_id: str,
        channel_id: str,
        message_ts: str,
        action_id: str,
        value: str | None = None,
        block_id: str | None = None,
        option_value: str | None = None,
        api_app_id: str = "A0SANDBOX",
    ) -> dict[str, Any]:
        return interactions.block_action_payload(
            self.ws,
            user_id=user_id,
            channel_id=channel_id,
            message_ts=message_ts,
            action_id=action_id,
            value=value,
            block_id=block_id,
            option_value=option_value,
            api_app_id=api_app_id,
        )

    def view_submission_payload(
        self, *, user_id: str, view_id: str, edits: dict[str, Any] | None = None, api_app_id: str = "A0SANDBOX"
    ) -> dict[str, Any]:
        return interactions.view_submission_payload(
            self.ws, user_id=user_id, view_id=view_id, edits=edits or {}, api_app_id=api_app_id
        )
