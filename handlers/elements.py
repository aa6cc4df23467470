"""Small Block Kit pieces several builders share."""

from __future__ import annotations

from slack_sdk.models.blocks import ConfirmObject

from handlers.limits import clip


def confirm_dialog(title: str, text: str, confirm: str = "Yes, do it") -> ConfirmObject:
    return ConfirmObject(title=clip(title, 100), text=clip(text, 300), confirm=confirm, deny="Cancel", style="danger")


def assert_stopped_confirm(environment: str, operation: str) -> ConfirmObject:
    """The dialog before a person asserts go-fast-cdn is stopped where the agent cannot prove it
    (no controller, no /proc): their name goes with the job into the agent's audit log and the thread."""
    return confirm_dialog(
        f"Is go-fast-cdn stopped on {environment}?",
        "The agent cannot prove it here. You assert that go-fast-cdn and anything else using its database "
        f"are stopped; your name is recorded with the {operation} in the agent's audit log and in this "
        "thread. A process holding the DB or an answering API still refuses.",
        confirm="It is stopped: retry",
    )
