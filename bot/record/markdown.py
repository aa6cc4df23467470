"""Markdown for people, rendered from an :class:`IncidentRecord` (never from the store).

Headings and pipe tables (GitHub-flavoured Markdown, which Slack's file preview and every code
host show as tables); times in the record's configured zone, the zone named once at the top.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.record.model import IncidentRecord, RecordAgentOperation, RecordMetric, RecordPerson

LOG_LINES_SHOWN = 40


def cell(value: object) -> str:
    """A table cell: pipes escaped, newlines as <br>, empty as an en dash."""
    text = "" if value is None else str(value)
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("\r\n", "\n").replace("\n", "<br>")
    return text.strip() or "–"


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return out


def who(person: RecordPerson | None) -> str:
    if person is None:
        return "–"
    return person.name if person.name == person.id else f"{person.name} ({person.id})"


def minutes(value: float | None) -> str:
    if value is None:
        return "–"
    total = int(round(value * 60))
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min {s:02d} s"


def met_text(metric: RecordMetric) -> str:
    if metric.met is None:
        return "n/a" if metric.minutes is None else "–"
    return "✅ met" if metric.met else "❌ missed"


class _Clock:
    def __init__(self, zone: str) -> None:
        self.tz = ZoneInfo(zone)

    def full(self, at: datetime | None) -> str:
        return at.astimezone(self.tz).strftime("%Y-%m-%d %H:%M:%S %Z") if at else "–"

    def short(self, at: datetime | None, *, with_date: bool) -> str:
        if at is None:
            return "–"
        return at.astimezone(self.tz).strftime("%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


def render_markdown(record: IncidentRecord) -> str:
    clock = _Clock(record.time_zone)
    s = record.summary
    lines: list[str] = []
    add = lines.append
    kind = "short record (cancelled)" if record.kind == "short" else "incident record"
    add(f"# {s.incident_id}: {s.environment} media migration rollback — {s.state}")
    add("")
    add(
        f"_{kind.capitalize()}, version {record.version}, generated {clock.full(record.generated_at)}"
        f"{' by ' + who(record.generated_by) if record.generated_by else ''}. "
        f"All times are in {record.time_zone}._"
    )
    add("")
    add("## Summary")
    add("")
    lines += table(
        ("Field", "Value"),
        [
            ("Incident", s.incident_id),
            ("Environment", s.environment),
            ("Severity", f"{s.severity} (target {s.target_minutes} min)"),
            ("Summary", s.summary),
            ("State", s.state),
            ("Opened", f"{clock.full(s.opened_at)} by {who(s.opened_by)}"),
            (
                "Resolved" if s.state == "resolved" else "Closed",
                f"{clock.full(s.closed_at)} by {who(s.closed_by)}" if s.closed_at else "–",
            ),
            ("Option followed", f"Option {s.chosen_option}" if s.chosen_option else "–"),
            ("Backup chosen", s.chosen_backup),
        ],
    )
    add("")
    add("## Metrics")
    add("")
    lines += table(
        ("Metric", "Time", "Target", "Result", "Note"),
        [(m.label, minutes(m.minutes), f"{m.target_minutes} min", met_text(m), m.note) for m in record.metrics],
    )
    add("")
    n = record.notes
    for title, text in (
        ("Root cause", n.root_cause),
        ("Resolution", n.resolution_summary),
        ("Lessons learned", n.lessons_learned),
    ):
        add(f"## {title}")
        add("")
        add(text.strip() or "_Not recorded._")
        add("")
    add("## Pages and acknowledgements")
    add("")
    if record.pages:
        lines += table(
            ("Person", "Role", "Paged", "Via", "Acknowledged"),
            [
                (
                    who(p.person),
                    p.role if not p.round else f"{p.role or '–'} (escalation round {p.round})",
                    clock.full(p.paged_at) + (f" ({p.state})" if p.state and p.state != "sent" else ""),
                    (p.via or "–") + (f"; error: {p.error}" if p.error else ""),
                    f"{clock.full(p.acked_at)} by {who(p.acked_by)}" if p.acked_at else "not acknowledged",
                )
                for p in record.pages
            ],
        )
    else:
        add(f"_{(record.pages_note or 'no pages').capitalize()}._")
    add("")
    _timeline(record, clock, lines)
    if record.kind == "full" or record.steps:
        add("## Checklist")
        add("")
        lines += table(
            ("Section", "Step", "State", "By", "At", "Note"),
            [(st.section, st.title, st.state, who(st.actor), clock.full(st.at), st.note) for st in record.steps],
        )
        add("")
    add("## Agent operations")
    add("")
    if not record.agent_operations:
        add("_No agent operations ran._")
        add("")
    for i, op in enumerate(record.agent_operations, 1):
        _operation(i, op, clock, lines)
    add("## Resolution steps")
    add("")
    if record.resolution_steps:
        for i, r in enumerate(record.resolution_steps, 1):
            detail = f" — {r.detail}" if r.detail else ""
            add(f"{i}. {clock.full(r.at)}: {r.title} (by {who(r.by)}){detail}")
    else:
        add("_No steps were completed._")
    add("")
    add("## Follow-ups")
    add("")
    if record.follow_ups:
        lines += table(
            ("Task", "Owner", "Due", "State", "Done"),
            [
                (
                    f.title,
                    who(f.owner) if f.owner else "unassigned",
                    clock.full(f.due_at),
                    f.state,
                    f"{clock.full(f.done_at)} by {who(f.done_by)}" if f.done_at else "–",
                )
                for f in record.follow_ups
            ],
        )
    else:
        add("_None._")
    add("")
    return "\n".join(lines)


def _timeline(record: IncidentRecord, clock: _Clock, lines: list[str]) -> None:
    add = lines.append
    add("## Timeline")
    add("")
    if record.thread_note:
        add(f"_Note: {record.thread_note}._")
        add("")
    tz = clock.tz
    dates = {e.at.astimezone(tz).date() for e in record.timeline}
    with_date = len(dates) > 1
    rows = []
    for e in record.timeline:
        text = e.text
        if e.deleted_at is not None:
            text = f"_(message deleted {clock.short(e.deleted_at, with_date=with_date)})_"
        else:
            if e.edited_at is not None:
                text += f" _(edited {clock.short(e.edited_at, with_date=with_date)}"
                text += f"; was: “{e.original_text}”)_" if e.original_text else ")_"
            if e.files:
                text += " 📎 " + ", ".join(e.files)
        if e.key:
            text = ("📌 " if e.source == "thread" else "") + f"**{text}**"
        rows.append(
            (clock.short(e.at, with_date=with_date), who(e.actor), "message" if e.source == "thread" else e.kind, text)
        )
    lines += table(("Time", "Who", "Kind", "What"), rows)
    add("")


COUNT_ORDER = ("images_live", "images_raw", "docs_live", "docs_raw", "media_live", "media_raw")


def _count_order(key: str) -> tuple[int, str]:
    return (COUNT_ORDER.index(key) if key in COUNT_ORDER else len(COUNT_ORDER), key)


def _operation(i: int, op: RecordAgentOperation, clock: _Clock, lines: list[str]) -> None:
    add = lines.append
    add(f"### {i}. `{op.operation}` — {op.outcome or 'still running'} ({op.step_title})")
    add("")
    facts = [
        ("Started", f"{clock.full(op.started_at)} by {who(op.started_by)}"),
        ("Finished", clock.full(op.finished_at)),
        ("Outcome", op.outcome or "running"),
        ("Summary", op.summary),
        ("Arguments", ", ".join(f"{k}={v}" for k, v in op.args.items())),
        ("Request id", op.request_id),
    ]
    if op.error:
        facts.append(("Refusal / error", op.error))
    lines += table(("", ""), facts)
    add("")
    keys = [
        k
        for k in sorted({*op.counts_before, *op.counts_after}, key=_count_order)
        if op.counts_before.get(k) is not None or op.counts_after.get(k) is not None
    ]
    if keys:
        lines += table(
            ("Count", "Before", "After"),
            [(k, op.counts_before.get(k, "–"), op.counts_after.get(k, "–")) for k in keys],
        )
        add("")
    if op.backups:
        lines += table(("Backup", "Role", "SHA-256"), [(b.name, b.role, b.sha256) for b in op.backups])
        add("")
    if op.rows_lost:
        add(f"**Rows this rollback loses: {len(op.rows_lost)}**")
        add("")
        lines += table(("Id", "File", "Type", "Why"), [(r.id, r.file_name, r.type, r.reason) for r in op.rows_lost])
        add("")
    if op.checks:
        lines += table(
            ("Check", "Result", "Detail"), [(c.name, "pass" if c.passed else "FAIL", c.detail) for c in op.checks]
        )
        add("")
    elif op.failed_checks:
        add("Failed checks: " + ", ".join(op.failed_checks))
        add("")
    for w in op.warnings:
        add(f"> ⚠️ {w}")
        add("")
    if op.log_lines:
        shown = op.log_lines[-LOG_LINES_SHOWN:]
        skipped = len(op.log_lines) - len(shown)
        add(f"Log excerpt ({len(op.log_lines)} lines{f', last {len(shown)} shown' if skipped else ''}):")
        add("")
        add("```")
        lines.extend(line.replace("```", "`\u200b``") for line in shown)
        add("```")
        add("")
