"""Small Block Kit pieces several builders share."""

from __future__ import annotations

from slack_sdk.models.blocks import ConfirmObject

from handlers.limits import clip


def confirm_dialog(title: str, text: str, confirm: str = "Yes, do it") -> ConfirmObject:
    return ConfirmObject(title=clip(title, 100), text=clip(text, 300), confirm=confirm, deny="Cancel", style="danger")
