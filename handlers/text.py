"""Small text pieces every message builder shares (kept apart so builders can import each other freely)."""

from __future__ import annotations

from datetime import datetime


def fmt_time(at: datetime | None) -> str:
    return at.strftime("%H:%M:%S UTC") if at else "?"


def mention(user_id: str | None) -> str:
    return f"<@{user_id}>" if user_id else "someone"
