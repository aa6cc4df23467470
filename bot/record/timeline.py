"""The timeline: the bot's own event log merged with what people wrote in the thread.

Two sources describe the same incident. The events table has every click, choice and agent call,
plus the thread messages, edits, deletions and reactions the bot was sent while it ran. The
thread itself (fetched at record time) has the current text of every message, including ones
written while the bot was down. The merge keeps one entry per action:
- the bot's own messages are dropped, because each one renders an event that is already there;
- a person's message appears once (keyed by its ts), with its current text, its original text if
  it was edited, and only a "deleted" marker if it was deleted (its text stays in the store, not
  in a document that gets uploaded to the thread);
- a message with a 📌 (``pushpin``) reaction is a key event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from bot.domain import Event
from bot.record.model import RecordPerson, TimelineEntry

KEY_REACTION = "pushpin"
THREAD_KINDS = frozenset(
    {
        "thread.message",
        "thread.message_changed",
        "thread.message_deleted",
        "thread.reaction_added",
        "thread.reaction_removed",
    }
)
# Bookkeeping of the bot's own Slack messages: not something that happened in the incident.
INTERNAL_KINDS = frozenset({"notes.posting", "notes.posted", "record.requested", "slack.thread_posted"})
# Decisions and failures: what the notes list and the record flags.
KEY_EVENT_KINDS = frozenset(
    {
        "option.chosen",
        "backup.chosen",
        "fallback.offered",
        "incident.resolved",
        "incident.cancelled",
        "incident.reopened",
    }
)


STEP_VERBS = {
    "done": "marked done",
    "skip": "skipped",
    "undo": "undone (back to pending)",
    "start": "started",
    "succeed": "done (agent result)",
    "fail": "failed (agent result)",
    "retry": "retried",
}


class SlackThreadMessage(BaseModel):
    """One message of the incident thread as the Slack edge read it (no Slack types beyond strings)."""

    ts: str
    user: str | None = None
    bot_id: str | None = None
    subtype: str | None = None
    text: str = ""
    edited_ts: str | None = None
    files: list[str] = Field(default_factory=list)
    reactions: dict[str, list[str]] = Field(default_factory=dict)


def ts_to_datetime(ts: str) -> datetime:
    """A Slack ts ("seconds.micros") as an aware UTC datetime."""
    secs, _, micros = ts.partition(".")
    return datetime.fromtimestamp(int(secs), UTC).replace(microsecond=int((micros or "0").ljust(6, "0")[:6]))


def ts_sort_key(ts: str) -> tuple[int, int]:
    secs, _, micros = ts.partition(".")
    return int(secs), int((micros or "0").ljust(6, "0")[:6])


PersonOf = Callable[[str | None], RecordPerson | None]
StepTitle = Callable[[str], str]


class _MessageFacts:
    """What the event log knows about one thread message."""

    def __init__(self) -> None:
        self.user: str | None = None
        self.original: str | None = None
        self.latest: str | None = None
        self.edited_at: datetime | None = None
        self.deleted_at: datetime | None = None
        self.files: list[str] = []
        self.pinned_by: set[str] = set()
        self.seen = False


def _facts_from_events(events: Iterable[Event]) -> dict[str, _MessageFacts]:
    facts: dict[str, _MessageFacts] = {}
    for event in events:
        if event.kind not in THREAD_KINDS:
            continue
        ts = str(event.data.get("ts") or "")
        if not ts:
            continue
        f = facts.setdefault(ts, _MessageFacts())
        if event.kind == "thread.message":
            f.seen = True
            f.user = event.actor
            f.original = str(event.data.get("text", ""))
            f.files = [str(x) for x in event.data.get("files", [])]
        elif event.kind == "thread.message_changed":
            f.latest = str(event.data.get("text", ""))
            f.edited_at = event.at
            if f.original is None and event.data.get("previous_text") is not None:
                f.original = str(event.data["previous_text"])
            f.user = f.user or event.actor
        elif event.kind == "thread.message_deleted":
            f.deleted_at = event.at
        elif event.data.get("reaction") == KEY_REACTION and event.actor:
            if event.kind == "thread.reaction_added":
                f.pinned_by.add(event.actor)
            else:
                f.pinned_by.discard(event.actor)
    return facts


def message_entries(
    events: Iterable[Event],
    fetched: list[SlackThreadMessage] | None,
    *,
    parent_ts: str | None,
    own_ids: frozenset[str],
    person: PersonOf,
) -> list[TimelineEntry]:
    """One entry per message people wrote, from the fetched thread (None if it could not be read)
    and the thread events the bot recorded."""
    facts = _facts_from_events(events)
    entries: list[TimelineEntry] = []
    fetched_ts: set[str] = set()
    for msg in fetched or []:
        if msg.ts == parent_ts:
            continue
        fetched_ts.add(msg.ts)
        if (msg.user and msg.user in own_ids) or (msg.bot_id and msg.bot_id in own_ids):
            continue
        f = facts.get(msg.ts) or _MessageFacts()
        deleted = msg.subtype == "tombstone" or f.deleted_at is not None
        edited_at = f.edited_at or (ts_to_datetime(msg.edited_ts) if msg.edited_ts else None)
        original = f.original if (f.original is not None and f.original != msg.text) else None
        pinned = KEY_REACTION in msg.reactions and bool(msg.reactions[KEY_REACTION])
        entries.append(
            TimelineEntry(
                at=ts_to_datetime(msg.ts),
                source="thread",
                kind="message",
                actor=person(msg.user or f.user),
                text="" if deleted else msg.text,
                key=pinned and not deleted,
                ts=msg.ts,
                edited_at=edited_at,
                original_text=None if deleted else original,
                deleted_at=(f.deleted_at or ts_to_datetime(msg.ts)) if deleted else None,
                files=[] if deleted else (msg.files or f.files),
            )
        )
    # Messages only the event log knows: deleted since, or the thread could not be read.
    for ts, f in facts.items():
        if ts in fetched_ts or ts == parent_ts or not f.seen or (f.user and f.user in own_ids):
            continue
        # A complete fetch that no longer has the message means it was deleted, even if we missed the event.
        deleted = f.deleted_at is not None or fetched is not None
        text = f.latest if f.latest is not None else (f.original or "")
        entries.append(
            TimelineEntry(
                at=ts_to_datetime(ts),
                source="thread",
                kind="message",
                actor=person(f.user),
                text="" if deleted else text,
                key=bool(f.pinned_by) and not deleted,
                ts=ts,
                edited_at=f.edited_at,
                original_text=None if deleted or f.latest is None else f.original,
                deleted_at=(f.deleted_at or f.edited_at or ts_to_datetime(ts)) if deleted else None,
                files=[] if deleted else f.files,
            )
        )
    return entries


def _op_args(args: Mapping[str, Any]) -> str:
    shown = {k: v for k, v in args.items() if k != "expected_sha256"}
    if not shown:
        return ""
    return " (" + ", ".join(f"{k}={v}" for k, v in shown.items()) + ")"


class Labels(BaseModel):
    """Readable names for ids in event data: people (display names) and paging roles."""

    people: dict[str, str] = Field(default_factory=dict)
    roles: dict[str, str] = Field(default_factory=dict)

    def person(self, user_id: object) -> str:
        return self.people.get(str(user_id), str(user_id))

    def role(self, role_id: object) -> str:
        return self.roles.get(str(role_id), str(role_id))


def _paging(kind: str, d: dict[str, Any], labels: Labels) -> tuple[str, bool]:
    role = labels.role(d.get("role"))
    if kind == "page.sent":
        return f"Paged {labels.person(d.get('user'))} as {role} (round {d.get('round', 0)})", False
    if kind == "page.failed":
        return f"Page to {labels.person(d.get('user'))} as {role} failed", True
    if kind == "page.acked":
        secs = d.get("seconds_to_ack")
        after = f" after {float(secs) / 60:.1f} min" if isinstance(secs, (int, float)) else ""
        return f"{role} acknowledged{after} (via {d.get('via')})", True
    if kind == "paging.opened":
        counts = ", ".join(f"{len(d.get(k) or [])} {k}" for k in ("paged", "deferred", "failed"))
        return f"Paging started: {counts}", False
    if kind == "paging.escalated":
        who = ", ".join(labels.person(u) for u in d.get("paged") or []) or "nobody new"
        return f"Escalated {role} to round {d.get('round')}: paged {who}", True
    if kind == "paging.channel_alert":
        roles = ", ".join(labels.role(r) for r in d.get("roles") or [])
        return f"Channel alert: nobody acknowledged {roles}", True
    if kind == "notice.sent":
        reached = [x.get("audience") for x in d.get("deliveries") or [] if isinstance(x, dict) and not x.get("error")]
        text = " ".join(str(d.get("text") or "").split())
        return f"Stakeholder notice sent to {', '.join(map(str, reached)) or 'nobody'}: {text}", True
    if kind == "reminder.target":
        return f"Reminder: {d.get('percent')}% of the target time used", False
    extra = ", ".join(f"{k}={v}" for k, v in d.items() if not isinstance(v, (dict, list)))
    return f"{kind}{': ' + extra if extra else ''}", False


def describe_event(event: Event, step_title: StepTitle, labels: Labels | None = None) -> tuple[str, bool]:
    """(one human line, is it a key event) for a bot event. Unknown kinds are shown, not dropped."""
    d = event.data
    labels = labels or Labels()
    title = f"“{step_title(event.step_id)}”" if event.step_id else ""
    kind = event.kind
    if kind == "incident.opened":
        return f"Incident opened ({d.get('environment')}, {d.get('severity')}): {d.get('summary', '')}", True
    if kind in ("incident.resolved", "incident.cancelled"):
        return f"Incident {kind.split('.')[1]}: {d.get('resolution') or ''}".rstrip(": "), True
    if kind == "incident.reopened":
        return f"Incident reopened{': ' + str(d['reason']) if d.get('reason') else ''}", True
    if kind.startswith("step."):
        action = kind.split(".", 1)[1]
        note = f" ({d['note']})" if d.get("note") else ""
        return f"Step {title} {STEP_VERBS.get(action, action)}{note}", False
    if kind == "agent.started":
        return f"Ran `{d.get('operation')}`{_op_args(d.get('args') or {})} for {title}", False
    if kind == "agent.finished":
        outcome = d.get("outcome")
        err = (d.get("error") or {}).get("message") if isinstance(d.get("error"), dict) else None
        detail = d.get("summary") or err or d.get("note") or ""
        return f"`{d.get('operation')}` {outcome}: {detail}".rstrip(": "), outcome not in ("ok", "noop")
    if kind == "option.chosen":
        prev = f" (was option {d['previous']})" if d.get("previous") else ""
        return f"Chose option {d.get('option')}{prev}", True
    if kind == "backup.chosen":
        return f"Chose backup `{d.get('backup')}`", True
    if kind == "fallback.offered":
        return f"Offered option {d.get('option')} after a failure", True
    if kind == "permission.refused":
        return f"Refused {d.get('attempted', 'an action')}: {d.get('reason', '')}", False
    if kind == "agent.backups_listed":
        count = len(((d.get("result") or {}).get("backups")) or [])
        return f"Listed backups ({d.get('outcome')}, {count} found)", False
    if kind == "agent.backups_unavailable":
        return f"Could not list backups: {d.get('error')}", True
    if kind.startswith(("page.", "paging.", "notice.", "reminder.")):
        return _paging(kind, d, labels)
    if kind == "record.stored":
        return f"Record version {d.get('version')} stored ({d.get('record_kind')})", False
    if kind.startswith("follow_up."):
        return f"Follow-up {title}: {kind.split('.', 1)[1]} {d.get('detail', '')}".rstrip(), False
    extra = ", ".join(f"{k}={v}" for k, v in d.items() if not isinstance(v, (dict, list)))
    return f"{kind}{': ' + extra if extra else ''}", False


def event_entries(
    events: Iterable[Event], *, person: PersonOf, step_title: StepTitle, labels: Labels | None = None
) -> list[TimelineEntry]:
    out: list[TimelineEntry] = []
    for event in events:
        if event.kind in THREAD_KINDS or event.kind in INTERNAL_KINDS:
            continue
        text, key = describe_event(event, step_title, labels)
        out.append(
            TimelineEntry(
                at=event.at,
                source="bot",
                kind=event.kind,
                actor=person(event.actor),
                text=text,
                key=key or event.kind in KEY_EVENT_KINDS,
                step_id=event.step_id,
            )
        )
    return out


def merge_timeline(
    events: list[Event],
    fetched: list[SlackThreadMessage] | None,
    *,
    parent_ts: str | None,
    own_ids: frozenset[str],
    person: PersonOf,
    step_title: StepTitle,
    labels: Labels | None = None,
) -> list[TimelineEntry]:
    """Bot events and thread messages in time order; at equal times bot events come first, in log order."""
    bot = event_entries(events, person=person, step_title=step_title, labels=labels)
    msgs = message_entries(events, fetched, parent_ts=parent_ts, own_ids=own_ids, person=person)
    indexed = [(e.at, 0, i, e) for i, e in enumerate(bot)]
    indexed += [(e.at, 1, i, e) for i, e in enumerate(sorted(msgs, key=lambda m: ts_sort_key(m.ts or "0")))]
    indexed.sort(key=lambda t: (t[0], t[1], t[2]))
    return [t[3] for t in indexed]
