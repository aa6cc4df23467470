"""The server side of the sandbox page: turns what a person does on the page into what Slack sends.

Every slash command, click, modal submission, thread reply and reaction becomes the signed request
Slack would POST to the bot (built by ``sandbox.slack_user`` from what the bot really posted), and
what the bot answers lands in the fake workspace the page shows. The page never talks to the bot
itself and never sees the signing secret.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from typing import Any, Literal

import httpx
from pydantic import BaseModel

from sandbox.fake_slack import FakeSlack
from sandbox.fake_slack.api_chat import post, post_ephemeral
from sandbox.fake_slack.faults import Fault
from sandbox.fake_slack.models import Message
from sandbox.fake_slack.state import ts_key
from sandbox.page.host_faults import HostFaultKind, HostFaults
from sandbox.page.host_view import HostPanel, host_panel
from sandbox.sandbox_host import SandboxHost
from sandbox.slack_user import (
    DEFAULT_APP_ID,
    SignedRequest,
    build_block_action,
    build_message_event,
    build_reaction_added,
    build_slash_command,
    build_view_closed,
    build_view_submission,
)

SlackFaultKind = Literal["ratelimit", "slow"]
SLACK_FAULTS: dict[SlackFaultKind, str] = {"ratelimit": "429 storm", "slow": "Slow API"}
RATELIMIT_STORM_CALLS = 12  # the next N Web API calls answer 429 with Retry-After: 1
SLOW_API_DELAY_S = 2.0
HOST_PANEL_TTL_S = 0.8  # one look at each host per interval, however many pages are open


class PageError(Exception):
    """Something the person asked for cannot be done; the message is shown on the page."""


class WireEntry(BaseModel):
    """One request the page made Slack send to the bot, for the page's request log."""

    at: float
    user: str
    kind: str
    what: str
    status: int | None
    ms: int
    error: str = ""


class PageBackend:
    """Acts as Slack towards the bot on behalf of whoever is using the page."""

    def __init__(
        self,
        fake: FakeSlack,
        *,
        signing_secret: str,
        roles: dict[str, str],
        channel: str,
        api_app_id: str = DEFAULT_APP_ID,
    ) -> None:
        self.fake = fake
        self.ws = fake.ws
        self.signing_secret = signing_secret
        self.roles = roles
        self.channel = channel
        self.api_app_id = api_app_id
        self.bot_url: str | None = None
        self.title = "rollback-bot sandbox"
        self.hosts: dict[str, tuple[SandboxHost, HostFaults]] = {}
        self.wire: deque[WireEntry] = deque(maxlen=40)
        self.stopping = threading.Event()
        self._http = httpx.Client(timeout=15.0, trust_env=False)
        self._owners: dict[str, str] = {}  # trigger_id -> the user whose action produced it
        self._slack_faults: dict[SlackFaultKind, Fault] = {}
        self._lock = threading.Lock()
        self._panels: tuple[float, list[HostPanel]] = (0.0, [])

    # -- wiring ------------------------------------------------------------------------------
    def add_host(self, environment: str, host: SandboxHost) -> None:
        self.hosts[environment] = (host, HostFaults(host.root))

    def close(self) -> None:
        self.stopping.set()
        for _, faults in self.hosts.values():
            faults.close()
        self._http.close()

    # -- sending as Slack ------------------------------------------------------------------------
    def _send(self, user: str, kind: str, what: str, req: SignedRequest) -> httpx.Response:
        if self.bot_url is None:
            raise PageError("the bot is still starting; try again in a moment")
        trigger = req.payload.get("trigger_id")
        if isinstance(trigger, str):
            self._owners[trigger] = user
        t0 = time.monotonic()
        try:
            resp = self._http.post(self.bot_url, content=req.body.encode(), headers=req.headers)
        except httpx.HTTPError as exc:
            self._log(user, kind, what, None, t0, str(exc))
            raise PageError(f"the bot did not answer: {exc}") from exc
        self._log(user, kind, what, resp.status_code, t0, "" if resp.is_success else resp.text[:200])
        return resp

    def _log(self, user: str, kind: str, what: str, status: int | None, t0: float, error: str) -> None:
        ms = int((time.monotonic() - t0) * 1000)
        self.wire.append(WireEntry(at=time.time(), user=user, kind=kind, what=what, status=status, ms=ms, error=error))

    def _user(self, user: str) -> str:
        if user not in self.ws.users or self.ws.users[user].is_bot:
            raise PageError(f"unknown user {user!r}")
        return user

    def say(self, user: str, channel: str, text: str, thread_ts: str | None = None) -> dict[str, Any]:
        """The composer: `/command args` runs a slash command, anything else is a message."""
        self._user(user)
        text = text.strip()
        if not text:
            raise PageError("nothing to send")
        if text.startswith("/"):
            command, _, args = text.partition(" ")
            return self.slash(user, channel, command, args.strip(), thread_ts)
        msg = self.fake.post_as_user(channel, user, text, thread_ts=thread_ts)
        req = build_message_event(self.fake, msg, signing_secret=self.signing_secret, api_app_id=self.api_app_id)
        resp = self._send(user, "event", f"message{' in thread' if thread_ts else ''}", req)
        return {"status": resp.status_code}

    def slash(self, user: str, channel: str, command: str, text: str, thread_ts: str | None) -> dict[str, Any]:
        req = build_slash_command(
            self.fake,
            signing_secret=self.signing_secret,
            user_id=user,
            channel_id=channel,
            text=text,
            command=command,
            api_app_id=self.api_app_id,
        )
        resp = self._send(user, "slash command", f"{command} {text}".strip(), req)
        if resp.status_code == 404:
            raise PageError(f"{command} is not a command this app handles")
        if not resp.is_success:
            raise PageError(f"{command} failed: the app answered HTTP {resp.status_code}")
        self._show_immediate_response(user, channel, resp, thread_ts)
        return {"status": resp.status_code}

    def _show_immediate_response(self, user: str, channel: str, resp: httpx.Response, thread_ts: str | None) -> None:
        """A slash command's HTTP response body is what Slack shows the user (ephemeral unless in_channel)."""
        body = resp.text.strip()
        if not body:
            return
        try:
            data = json.loads(body)
        except ValueError:
            data = {"text": body}
        if not isinstance(data, dict) or not (data.get("text") or data.get("blocks")):
            return
        text, blocks = str(data.get("text") or ""), data.get("blocks")
        if data.get("response_type") == "in_channel":
            post(self.ws, channel, text=text, blocks=blocks)
        else:
            post_ephemeral(self.ws, channel, user, text=text, blocks=blocks, thread_ts=thread_ts, source="slash")

    def act(
        self,
        user: str,
        channel: str,
        ts: str,
        action_id: str,
        block_id: str | None = None,
        value: str | None = None,
        option: str | None = None,
    ) -> dict[str, Any]:
        """A click on a button, or a choice in a select, of a message (or ephemeral) the bot posted."""
        self._user(user)
        try:
            req = build_block_action(
                self.fake,
                signing_secret=self.signing_secret,
                user_id=user,
                channel_id=channel,
                message_ts=ts,
                action_id=action_id,
                value=value,
                block_id=block_id,
                option_value=option,
                api_app_id=self.api_app_id,
            )
        except LookupError as exc:
            raise PageError(str(exc)) from exc
        label = next(
            (str((a.get("text") or {}).get("text") or a.get("selected_option", {}).get("value")) for a in
             req.payload["actions"]),
            action_id,
        )  # fmt: skip
        resp = self._send(user, "block_actions", label, req)
        return {"status": resp.status_code}

    def submit(self, user: str, view_id: str, values: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """A modal's submit button; Slack keeps the modal open only for `response_action: errors`."""
        self._user(user)
        try:
            req = build_view_submission(
                self.fake,
                signing_secret=self.signing_secret,
                user_id=user,
                view_id=view_id,
                values=values,
                api_app_id=self.api_app_id,
            )
        except LookupError as exc:
            raise PageError(str(exc)) from exc
        title = str((req.payload["view"].get("title") or {}).get("text") or "modal")
        resp = self._send(user, "view_submission", title, req)
        if not resp.is_success:
            raise PageError(f"the app answered HTTP {resp.status_code}; the modal stays open")
        answer: dict[str, Any] = {}
        if resp.text.strip():
            try:
                answer = resp.json()
            except ValueError:
                raise PageError("the app answered the submission with something that is not JSON") from None
        action = answer.get("response_action")
        if action == "errors":
            return {"errors": answer.get("errors") or {}}
        with self.ws.lock:
            stored = self.ws.views[view_id]
            if action == "update" and isinstance(answer.get("view"), dict):
                stored.view = answer["view"]
                stored.hash = self.ws.new_id("h")
            elif action == "clear":
                for v in self.ws.views.values():
                    if v.root_view_id == stored.root_view_id:
                        v.closed = True
            elif action != "push":  # push: the app's new view is already stacked on top
                stored.closed = True
        return {"closed": action in (None, "clear")}

    def close_view(self, user: str, view_id: str) -> dict[str, Any]:
        self._user(user)
        with self.ws.lock:
            stored = self.ws.views.get(view_id)
            if stored is None or stored.closed:
                return {}
            notify = bool(stored.view.get("notify_on_close"))
        if notify:
            req = build_view_closed(
                self.fake, signing_secret=self.signing_secret, user_id=user, view_id=view_id, api_app_id=self.api_app_id
            )
            self._send(user, "view_closed", view_id, req)
        with self.ws.lock:
            self.ws.views[view_id].closed = True
        return {}

    def react(self, user: str, channel: str, ts: str, name: str) -> dict[str, Any]:
        """A person adds a reaction; the bot hears it as a `reaction_added` event, as from Slack."""
        self._user(user)
        try:
            added = self.fake.react_as_user(channel, ts, user, name)
        except Exception as exc:
            raise PageError(f"cannot react: {exc}") from exc
        if not added:
            return {"status": None}
        req = build_reaction_added(
            self.fake,
            signing_secret=self.signing_secret,
            user_id=user,
            channel_id=channel,
            ts=ts,
            name=name,
            api_app_id=self.api_app_id,
        )
        resp = self._send(user, "event", f"reaction_added :{name}:", req)
        return {"status": resp.status_code}

    def dismiss(self, user: str, ts: str) -> dict[str, Any]:
        """'Dismiss message' on an ephemeral: it goes away for that person only."""
        with self.ws.lock:
            for eph in self.ws.ephemerals:
                if eph.user == user and eph.message_ts == ts:
                    eph.deleted = True
        return {}

    # -- faults ----------------------------------------------------------------------------------
    def host_fault(self, environment: str, kind: HostFaultKind, on: bool) -> dict[str, Any]:
        if environment not in self.hosts:
            raise PageError(f"no sandbox host {environment!r}")
        try:
            note = self.hosts[environment][1].apply(kind, on)
        except Exception as exc:  # a fault that cannot apply says why, nothing half-done is hidden
            raise PageError(f"{environment}: {exc}") from exc
        self._panels = (0.0, [])
        self._log("sandbox", "fault", f"{environment}: {note}", None, time.monotonic(), "")
        return {"note": note}

    def slack_fault(self, kind: SlackFaultKind, on: bool) -> dict[str, Any]:
        with self._lock:
            old = self._slack_faults.pop(kind, None)
            if old is not None:
                self.fake.withdraw(old)
            if on and kind == "ratelimit":
                self._slack_faults[kind] = self.fake.inject("*", status=429, retry_after=1, times=RATELIMIT_STORM_CALLS)
            elif on and kind == "slow":
                self._slack_faults[kind] = self.fake.inject("*", delay_s=SLOW_API_DELAY_S, times=None)
        note = f"Slack: {SLACK_FAULTS[kind]} {'on' if on else 'off'}"
        self._log("sandbox", "fault", note, None, time.monotonic(), "")
        return {"note": note}

    def _slack_fault_state(self) -> list[dict[str, Any]]:
        live = self.fake.injections()
        out = []
        for kind, label in SLACK_FAULTS.items():
            fault = self._slack_faults.get(kind)
            on = fault is not None and any(f is fault for f in live)
            left = fault.times if on and fault is not None else None
            out.append({"kind": kind, "label": label, "on": on, "left": left})
        return out

    # -- what the page shows -------------------------------------------------------------------------
    def host_panels(self) -> list[HostPanel]:
        at, panels = self._panels
        if time.monotonic() - at > HOST_PANEL_TTL_S:
            panels = [host_panel(env, host, faults) for env, (host, faults) in self.hosts.items()]
            self._panels = (time.monotonic(), panels)
        return panels

    def file(self, file_id: str) -> tuple[str, bytes]:
        with self.ws.lock:
            upload = self.ws.files.get(file_id)
            if upload is None or upload.content is None or not upload.completed:
                raise PageError(f"no file {file_id}")
            return upload.filename, upload.content

    def snapshot(self, user: str) -> dict[str, Any]:
        """Everything `user` would see in Slack now, plus the sandbox panels."""
        ws = self.ws
        with ws.lock:
            people = [
                {"id": u.id, "name": u.name, "real_name": u.real_name, "role": self.roles.get(u.id, "member")}
                for u in ws.users.values()
                if not u.is_bot
            ]
            me = user if user in ws.users and not ws.users[user].is_bot else (people[0]["id"] if people else "")
            if me:
                ws.open_dm(me)
            channels = [
                {
                    "id": c.id,
                    "name": c.name,
                    "is_im": c.is_im,
                    "label": ("Rollback Bot" if c.is_im else c.name),
                }
                for c in ws.channels.values()
                if me in c.members and (not c.is_im or ws.bot_user_id in c.members)
            ]
            visible = {c["id"] for c in channels}
            messages = [self._message(m) for (chan, _), m in ws.messages.items() if chan in visible]
            messages += [
                {
                    "ts": e.message_ts,
                    "channel": e.channel,
                    "user": ws.bot_user_id,
                    "bot": True,
                    "text": e.text,
                    "blocks": e.blocks,
                    "thread_ts": e.thread_ts,
                    "ephemeral": True,
                }
                for e in ws.ephemerals
                if e.user == me and not e.deleted and e.channel in visible
            ]
            views = [
                {"id": v.id, "hash": v.hash, "view": v.view}
                for v in ws.views.values()
                if not v.closed and self._owners.get(v.trigger_id or "") == me
            ]
        messages.sort(key=lambda m: ts_key(m["ts"]))
        return {
            "title": self.title,
            "me": me,
            "bot_user": ws.bot_user_id,
            "bot_ready": self.bot_url is not None,
            "home_channel": self.channel,
            "users": people,
            "usergroups": {g.id: g.handle for g in ws.usergroups.values()},
            "channels": channels,
            "messages": messages,
            "views": views[-1:],
            "hosts": [p.model_dump() for p in self.host_panels()],
            "slack_faults": self._slack_fault_state(),
            "wire": [w.model_dump() for w in list(self.wire)[-12:]],
        }

    def _message(self, m: Message) -> dict[str, Any]:
        ws = self.ws
        reactions = ws.reactions.get((m.channel, m.ts), {})
        return {
            "ts": m.ts,
            "channel": m.channel,
            "user": m.user,
            "bot": m.bot_id is not None,
            "text": m.text,
            "blocks": m.blocks,
            "thread_ts": m.thread_ts,
            "reply_count": m.reply_count,
            "edited": m.edit_count > 0,
            "subtype": m.subtype,
            "files": [{**f, "url": f"/page/files/{f.get('id')}"} for f in m.files],
            "reactions": [{"name": n, "users": u, "count": len(u)} for n, u in reactions.items() if u],
            "pinned": m.ts in ws.pins.get(m.channel, []),
        }
