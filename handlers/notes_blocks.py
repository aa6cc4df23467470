"""The pinned incident-notes message: the notes read model in, Block Kit out (pure, no I/O)."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, MarkdownTextObject, PlainTextObject, SectionBlock

from bot.record.notes import IncidentNotes
from handlers.limits import MAX_HEADER, check_limits, clip
from handlers.message import SlackMessage, marker
from handlers.text import fmt_time, mention

STATE_TEXT = {
    "open": ":red_circle: open",
    "resolved": ":large_green_circle: resolved",
    "cancelled": ":white_circle: cancelled",
}


def _who(user_id: str | None) -> str:
    """A mention for Slack users; the bot's own actor name as plain text."""
    return mention(user_id) if user_id and user_id.startswith(("U", "W")) else (user_id or "the bot")


def _time_left(notes: IncidentNotes) -> str:
    if notes.state != "open":
        return "closed"
    left = notes.minutes_left
    if left >= 0:
        return f"{left:.0f} min left (due {fmt_time(notes.due_at)})"
    return f":warning: {-left:.0f} min over target (was due {fmt_time(notes.due_at)})"


def _pages(notes: IncidentNotes) -> str:
    if not notes.pages:
        return "no pages"
    lines = []
    for p in notes.pages:
        who = f"{mention(p.person.id)}{f' ({p.role})' if p.role else ''}"
        if p.acked_at is not None:
            lines.append(f":white_check_mark: {who} acknowledged {fmt_time(p.acked_at)}")
        elif p.error:
            lines.append(f":x: {who}: page failed ({p.error})")
        else:
            lines.append(f":hourglass: {who} paged {fmt_time(p.paged_at)}")
    return "\n".join(lines)


NOTES_KEY = "notes"


def notes_message(notes: IncidentNotes) -> SlackMessage:
    """The notes as one message; every field is always shown, with "–" or "none yet" when empty."""
    title = clip(f":memo: Incident notes: {notes.incident_id}", MAX_HEADER)
    step = "none yet"
    if notes.current_step is not None:
        s = notes.current_step
        if s.state == "running":
            step = f"{s.title}: running, held by {_who(s.holder)} since {fmt_time(s.since)}"
        else:
            last = f"; last checklist action by {_who(s.holder)}" if s.holder else ""
            step = f"{s.title}: {s.state}{last}"
    option = notes.option_title or f"Option {notes.chosen_option}" if notes.chosen_option else "not chosen yet"
    if notes.rows_lost is None:
        lost = "no rollback yet"
    elif notes.rows_lost == 0:
        lost = "none"
    else:
        names = ", ".join(f"`{n}`" for n in notes.rows_lost_names)
        more = (
            f" and {notes.rows_lost - len(notes.rows_lost_names)} more"
            if notes.rows_lost > len(notes.rows_lost_names)
            else ""
        )
        lost = f"*{notes.rows_lost}*: {names}{more}"
    backup = (
        f"`{notes.backup_restored}` (SHA-256 `{notes.backup_sha256_prefix}…`)"
        if notes.backup_restored
        else "none restored"
    )
    fields = [
        MarkdownTextObject(text=f"*State*\n{STATE_TEXT.get(notes.state, notes.state)}"),
        MarkdownTextObject(text=f"*Severity*\n{notes.severity} (target {notes.target_minutes} min)"),
        MarkdownTextObject(text=f"*Time left*\n{_time_left(notes)}"),
        MarkdownTextObject(text=f"*Environment*\n`{notes.environment}`"),
        MarkdownTextObject(text=f"*Option*\n{option}"),
        MarkdownTextObject(text=clip(f"*Backup restored*\n{backup}", 2000)),
    ]
    decisions = "\n".join(f"• {fmt_time(d.at)} {_who(d.by)}: {d.text}" for d in notes.decisions)
    blocks: list[Block] = [
        # The marker finds the notes in the thread when a crash lost their ts (handlers/notes_publisher.py).
        HeaderBlock(text=PlainTextObject(text=title), block_id=marker(notes.incident_id, NOTES_KEY)),
        SectionBlock(fields=fields),
        SectionBlock(text=MarkdownTextObject(text=clip(f"*Paged / acknowledged*\n{_pages(notes)}"))),
        SectionBlock(text=MarkdownTextObject(text=clip(f"*Current step*\n{step}"))),
        SectionBlock(
            text=MarkdownTextObject(text=clip(f"*Last agent result*\n{notes.last_agent_result or 'none yet'}"))
        ),
        SectionBlock(text=MarkdownTextObject(text=clip(f"*Rows the rollback loses*\n{lost}"))),
        SectionBlock(text=MarkdownTextObject(text=clip(f"*Key decisions*\n{decisions or 'none yet'}"))),
        ContextBlock(elements=[MarkdownTextObject(text="Kept up to date by rollback-bot as the incident runs.")]),
    ]
    text = f"Incident notes {notes.incident_id}: {notes.state}, {_time_left(notes)}"
    return SlackMessage(text=clip(text, 3000), blocks=check_limits([b.to_dict() for b in blocks]))
