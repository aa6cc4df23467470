"""The parts of Slack's payloads the bot reads, validated at the edge (extra fields ignored)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class SlashCommand(_Lenient):
    command: str
    channel_id: str
    user_id: str
    text: str = ""
    trigger_id: str | None = None
    response_url: str | None = None


class ActingUser(_Lenient):
    id: str
    username: str | None = None
    name: str | None = None


class SelectedOption(_Lenient):
    value: str


class Action(_Lenient):
    action_id: str
    block_id: str | None = None
    value: str | None = None
    selected_option: SelectedOption | None = None


class Container(_Lenient):
    channel_id: str | None = None
    message_ts: str | None = None
    thread_ts: str | None = None


class ActionChannel(_Lenient):
    id: str


class BlockActions(_Lenient):
    user: ActingUser
    actions: list[Action]
    container: Container = Container()
    channel: ActionChannel | None = None
    response_url: str | None = None
    trigger_id: str | None = None
    state: dict[str, Any] = {}

    def selected_value(self, action_id: str) -> str | None:
        """The current choice of a select in the same message (Slack sends every input's state)."""
        for block in (self.state.get("values") or {}).values():
            entry = block.get(action_id) if isinstance(block, dict) else None
            option = (entry or {}).get("selected_option")
            if isinstance(option, dict) and option.get("value"):
                return str(option["value"])
        return None

    @property
    def action(self) -> Action:
        return self.actions[0]

    @property
    def channel_id(self) -> str | None:
        return self.channel.id if self.channel else self.container.channel_id

    @classmethod
    def parse(cls, body: dict[str, Any]) -> BlockActions:
        return cls.model_validate(body)
