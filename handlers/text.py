"""Small text pieces every message builder shares (kept apart so builders can import each other freely).

Times are Slack date tokens, so each reader sees their own time zone; the fallback after ``|`` is
UTC for clients (and notifications) that cannot render tokens.

Anything a person typed or an agent returned goes through :func:`esc` before it lands in mrkdwn: Slack
reads ``<!channel>``, ``<!here>``, ``<!subteam^ID>``, ``<@U..>`` and ``<url|label>`` in message text
as pings and links, and escaping its three control characters (``&``, ``<``, ``>``) makes them show as
the text that was typed. plain_text fields are never parsed and must not be escaped.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

_SLACK_ID = re.compile(r"^[UWB][A-Z0-9]+$")


def fmt_time(at: datetime | None) -> str:
    """``<!date^EPOCH^{date_short_pretty} {time}|2025-01-02 03:04 UTC>``, or "?" when unknown."""
    if at is None:
        return "?"
    utc = at.astimezone(UTC)
    return f"<!date^{int(utc.timestamp())}^{{date_short_pretty}} {{time}}|{utc:%Y-%m-%d %H:%M} UTC>"


def fmt_duration(seconds: float) -> str:
    minutes = int(abs(seconds) // 60)
    if minutes < 1:
        return f"{int(abs(seconds))} s"
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def fmt_due(due: datetime, now: datetime) -> str:
    """The due time plus how long is left, or how far past it is."""
    left = (due - now).total_seconds()
    tail = f"{fmt_duration(left)} left" if left >= 0 else f"{fmt_duration(left)} overdue"
    return f"{fmt_time(due)} ({tail})"


def fmt_local(at: datetime, tz: str | None) -> str:
    """Wall-clock time in a named zone, e.g. ``Thu 09:00 Europe/Berlin`` (for "paged at their start of hours")."""
    if not tz:
        return ""
    return f"{at.astimezone(ZoneInfo(tz)):%a %H:%M} {tz}"


def mention(user_id: str | None) -> str:
    """``<@U123>`` for a Slack user; the bot's own actor name (``rollback-bot``) stays plain text."""
    if not user_id:
        return "someone"
    return f"<@{user_id}>" if _SLACK_ID.match(user_id) else user_id


def esc(value: object) -> str:
    """Slack's three control characters, so outside text can't become a mention, link or channel ping."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_ESCAPED_MENTION = re.compile(r"&lt;([@#][UWC][A-Z0-9]{2,})&gt;")


def esc_keep_mentions(value: object) -> str:
    """Like :func:`esc`, but bare user and channel mentions (``<@U..>``, ``<#C..>``) stay links: step
    notes the bot writes name who was paged and where a notice went. Broadcasts (``<!here>``), group
    pings and labelled links are still shown as text."""
    return _ESCAPED_MENTION.sub(r"<\1>", esc(value))


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
