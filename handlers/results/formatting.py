"""Text for agent results in mrkdwn: escaping, clipping, code blocks and lists budgeted by whole lines.

Everything that comes from the agent (file names, log lines, messages) goes through ``esc``, so a
file named ``<!channel>.png`` can't ping a channel, and every text is budgeted by whole lines, so a
huge result (thousands of rows or log lines) is shortened with "+N more" instead of failing with
``invalid_blocks`` at the worst moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, SectionBlock

from handlers.limits import MAX_TEXT, check_limits, clip
from handlers.message import SlackMessage

# re-exported: the builders use them as ``fmt.esc`` etc.; the one definition is in handlers/text.py
from handlers.text import code as code
from handlers.text import esc as esc
from handlers.text import esc_clip as esc_clip

PROGRESS_SHOWN = 8
LOST_ROWS_SHOWN = 10
BACKUP_ROWS_SHOWN = 15
WARNINGS_SHOWN = 5
NAMES_SHOWN = 10
MAX_FIELD = 2000  # section fields: Slack's limit is lower than a section's text


# --- text primitives: esc / esc_clip / code live in handlers/text.py (re-exported for ``fmt.``) ---


def _code_line(line: str, limit: int = 400) -> str:
    """One line for a ``` block: escaped, and unable to close the fence early."""
    return esc_clip(line, limit).replace("```", "'''")


def _take(lines: Sequence[str], budget: int, *, from_end: bool = False) -> list[str]:
    """As many whole lines as fit ``budget`` chars once joined by newlines, from the start or the end."""
    kept: list[str] = []
    used = 0
    for line in reversed(lines) if from_end else lines:
        cost = len(line) + (1 if kept else 0)
        if used + cost > budget:
            break
        kept.append(line)
        used += cost
    return kept[::-1] if from_end else kept


def code_block(
    raw: Sequence[str], *, head: str = "", from_end: bool = False, hidden: int = 0, limit: int = MAX_TEXT
) -> str:
    """``head`` plus a ``` block of escaped lines that fits ``limit``; whole lines are dropped (the oldest
    when ``from_end``, for logs) and counted together with the ``hidden`` ones the caller left out, so a
    shortened block says so and never loses its closing fence."""
    lines = [_code_line(x) for x in raw] or ["(none)"]
    note_room = 40
    budget = limit - len(head) - len("\n```\n\n```\n") - note_room
    kept = _take(lines, budget, from_end=from_end)
    dropped = len(lines) - len(kept) + hidden
    body = "```\n" + "\n".join(kept) + "\n```"
    parts = [head] if head else []
    if dropped and from_end:
        parts.append(f"_{dropped} earlier line(s) not shown_")
    parts.append(body)
    if dropped and not from_end:
        parts.append(f"_+{dropped} more_")
    return "\n".join(parts)


def list_text(head: str, items: Sequence[str], *, shown: int, limit: int = MAX_TEXT) -> str:
    """``head``, up to ``shown`` items (fewer if they would pass ``limit``), then "+N more"."""
    kept = _take(items[:shown], limit - len(head) - 30)
    rest = len(items) - len(kept)
    return "\n".join([head, *kept, *([f"+{rest} more"] if rest else [])])


def names(values: Sequence[str], shown: int = NAMES_SHOWN) -> str:
    """A short inline list of agent names: ``a``, ``b`` and N more."""
    if not values:
        return "none"
    text = ", ".join(code(v, 80) for v in values[:shown])
    return text + (f" and {len(values) - shown} more" if len(values) > shown else "")


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Space-padded columns for a monospace block (values are escaped later, by ``code_block``)."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]]


def when(at: datetime | None) -> str:
    """UTC with seconds: DB timestamps come with assorted offsets, a thread must compare them at a glance."""
    if at is None:
        return "?"
    if at.tzinfo is None:
        return at.strftime("%Y-%m-%d %H:%M:%S")
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def backup_time(at: datetime | None) -> str:
    """A backup's time as its name spells it (go-fast-cdn names use local time), to the minute."""
    return at.strftime("%Y-%m-%d %H:%M") if at else "?"


def size(n: int | None) -> str:
    if n is None:
        return "?"
    if n < 1024:
        return f"{n} B"
    size, unit = n / 1024, "KiB"
    for bigger in ("MiB", "GiB"):
        if size < 1024:
            break
        size, unit = size / 1024, bigger
    return f"{size:.1f} {unit}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60)} s"


def sha(digest: str | None) -> str:
    return code(digest[:12]) if digest else "?"


def section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=clip(text)))


def fields(pairs: Sequence[tuple[str, str]]) -> SectionBlock:
    """Up to 10 short "*label*\\nvalue" fields (values already escaped)."""
    return SectionBlock(fields=[MarkdownTextObject(text=clip(f"*{k}*\n{v}", MAX_FIELD)) for k, v in pairs[:10]])


def context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=clip(text))])


def finish(text: str, blocks: list[Block]) -> SlackMessage:
    return SlackMessage(text=clip(text), blocks=check_limits([b.to_dict() for b in blocks]))


# --- shared renderings of ops models -------------------------------------------------------------------
