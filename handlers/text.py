"""Small text pieces every message builder shares (kept apart so builders can import each other freely).

Anything a person typed or an agent returned goes through :func:`esc` before it lands in mrkdwn: Slack
reads ``<!channel>``, ``<!here>``, ``<!subteam^ID>``, ``<@U..>`` and ``<url|label>`` in message text
as pings and links, and escaping its three control characters (``&``, ``<``, ``>``) makes them show as
the text that was typed. plain_text fields are never parsed and must not be escaped.
"""

from __future__ import annotations

from datetime import datetime


def fmt_time(at: datetime | None) -> str:
    return at.strftime("%H:%M:%S UTC") if at else "?"


def mention(user_id: str | None) -> str:
    return f"<@{user_id}>" if user_id else "someone"


def esc(value: object) -> str:
    """Slack's three control characters, so outside text can't become a mention, link or channel ping."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def esc_clip(value: object, limit: int) -> str:
    """Escaped and then clipped to ``limit``, never cutting an ``&amp;``-style entity in half."""
    out = esc(value)
    if len(out) <= limit:
        return out
    cut = out[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def code(value: object, limit: int = 120) -> str:
    """An outside value as inline code: escaped, clipped, backticks neutralised."""
    text = str(value)
    if not text:
        return "_(empty)_"
    return "`" + esc_clip(text, limit).replace("`", "'") + "`"
