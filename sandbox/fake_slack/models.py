"""Records the fake keeps, as pydantic models so tests get typed, printable values."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class User(BaseModel):
    id: str
    name: str
    real_name: str = ""
    tz: str = "UTC"
    is_bot: bool = False

    def to_api(self, team_id: str) -> dict[str, Any]:
        """The `user` object as users.info returns it."""
        return {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "real_name": self.real_name or self.name,
            "tz": self.tz,
            "tz_offset": 0,
            "is_bot": self.is_bot,
            "deleted": False,
            "profile": {"real_name": self.real_name or self.name, "display_name": self.name},
        }


class Channel(BaseModel):
    id: str
    name: str
    members: list[str] = Field(default_factory=list)
    is_private: bool = False
    is_im: bool = False

    def to_api(self, bot_user_id: str) -> dict[str, Any]:
        """The `channel` object as conversations.info returns it."""
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.is_im and not self.is_private,
            "is_group": self.is_private,
            "is_im": self.is_im,
            "is_private": self.is_private or self.is_im,
            "is_member": bot_user_id in self.members,
            "num_members": len(self.members),
        }
        if self.is_im:
            out["user"] = next((m for m in self.members if m != bot_user_id), None)
        return out


class Usergroup(BaseModel):
    id: str
    handle: str
    users: list[str] = Field(default_factory=list)


class MessageVersion(BaseModel):
    """A message's content before an edit, so tests can see what a progress display went through."""

    text: str
    blocks: list[dict[str, Any]]


class Message(BaseModel):
    ts: str
    channel: str
    user: str | None = None
    bot_id: str | None = None
    text: str = ""
    blocks: list[dict[str, Any]] = Field(default_factory=list)
    thread_ts: str | None = None
    subtype: str | None = None
    reply_count: int = 0
    reply_users: list[str] = Field(default_factory=list)
    latest_reply: str | None = None
    files: list[dict[str, Any]] = Field(default_factory=list)
    edit_count: int = 0
    edited_ts: str | None = None  # when a person last edited it (Slack's edited.ts)
    history: list[MessageVersion] = Field(default_factory=list)

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    def to_api(self) -> dict[str, Any]:
        """The message object as conversations.replies / chat.postMessage return it."""
        out: dict[str, Any] = {"type": "message", "ts": self.ts, "text": self.text}
        for key in ("user", "bot_id", "thread_ts", "subtype", "latest_reply"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.blocks:
            out["blocks"] = self.blocks
        if self.files:
            out["files"] = self.files
        if self.reply_count:
            out["reply_count"] = self.reply_count
            out["reply_users"] = self.reply_users
        if self.edit_count:
            out["edited"] = {"user": self.user, "ts": self.edited_ts or self.ts}
        return out


class Ephemeral(BaseModel):
    """An ephemeral message: visible to one user, never in history."""

    message_ts: str
    channel: str
    user: str
    text: str = ""
    blocks: list[dict[str, Any]] = Field(default_factory=list)
    thread_ts: str | None = None
    source: str = "chat.postEphemeral"
    deleted: bool = False
    edit_count: int = 0


class ResponsePost(BaseModel):
    """One POST to a response_url and what the fake did with it."""

    url_id: str
    body: dict[str, Any]
    status: int
    effect: str


class FileUpload(BaseModel):
    id: str
    filename: str
    title: str | None = None
    length: int = 0
    content: bytes | None = None
    channel: str | None = None
    thread_ts: str | None = None
    initial_comment: str | None = None
    completed: bool = False
    permalink: str | None = None

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.filename,
            "title": self.title or self.filename,
            "size": len(self.content or b""),
            "mode": "hosted",
        }
        if self.permalink:
            out["permalink"] = self.permalink
        return out


class View(BaseModel):
    id: str
    user: str | None
    view: dict[str, Any]
    hash: str
    root_view_id: str
    previous_view_id: str | None = None
    trigger_id: str | None = None
    closed: bool = False

    def to_api(self, team_id: str) -> dict[str, Any]:
        return {
            **self.view,
            "id": self.id,
            "team_id": team_id,
            "hash": self.hash,
            "root_view_id": self.root_view_id,
            "previous_view_id": self.previous_view_id,
            "external_id": self.view.get("external_id", ""),
            "private_metadata": self.view.get("private_metadata", ""),
            "callback_id": self.view.get("callback_id", ""),
        }
