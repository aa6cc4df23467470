"""Block Kit messages for host-agent jobs: a job in progress, its result, and a backup picker.

Results arrive as JSON (an op result's ``model_dump(mode="json")``). They are validated back into
the ops result models so each renderer reads real, typed fields (mypy catches a renamed field);
an agent on another version that sends something else still gets its summary and warnings shown.

Everything that comes from the agent (file names, log lines, messages) is mrkdwn-escaped, so a file
named ``<!channel>.png`` can't ping a channel, and every text is budgeted by whole lines, so a huge
result (thousands of rows or log lines) is shortened with "+N more" instead of failing with
``invalid_blocks`` at the worst moment.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)

from handlers.limits import MAX_OPTION_TEXT, MAX_OPTION_VALUE, MAX_OPTIONS, MAX_TEXT, check_limits, clip
from handlers.message import SlackMessage
from handlers.text import mention
from ops.contract import OPERATIONS
from ops.models import (
    AppControlResult,
    AppState,
    BackupCreateResult,
    BackupInfo,
    BackupListResult,
    Check,
    CheckApiResult,
    Counts,
    DryRunResult,
    LogsResult,
    LostRow,
    MarkerInfo,
    MissingFile,
    OpResult,
    RecoverJournalResult,
    ReplaceDbResult,
    RestoreFilesResult,
    RestoreResult,
    RollbackResult,
    StatusResult,
    StoppedProof,
    VerifyResult,
)

PROGRESS_SHOWN = 8
LOST_ROWS_SHOWN = 10
BACKUP_ROWS_SHOWN = 15
WARNINGS_SHOWN = 5
NAMES_SHOWN = 10
MAX_FIELD = 2000  # section fields: Slack's limit is lower than a section's text


# --- text primitives ---------------------------------------------------------------------------------
def esc(value: object) -> str:
    """Slack's three control characters, so agent text can't become a mention, link or channel ping."""
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
    """An agent value as inline code: escaped, clipped, backticks neutralised."""
    text = str(value)
    if not text:
        return "_(empty)_"
    return "`" + esc_clip(text, limit).replace("`", "'") + "`"


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


def _code_block(
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


def _list_text(head: str, items: Sequence[str], *, shown: int, limit: int = MAX_TEXT) -> str:
    """``head``, up to ``shown`` items (fewer if they would pass ``limit``), then "+N more"."""
    kept = _take(items[:shown], limit - len(head) - 30)
    rest = len(items) - len(kept)
    return "\n".join([head, *kept, *([f"+{rest} more"] if rest else [])])


def _names(values: Sequence[str], shown: int = NAMES_SHOWN) -> str:
    """A short inline list of agent names: ``a``, ``b`` and N more."""
    if not values:
        return "none"
    text = ", ".join(code(v, 80) for v in values[:shown])
    return text + (f" and {len(values) - shown} more" if len(values) > shown else "")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Space-padded columns for a monospace block (values are escaped later, by ``_code_block``)."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]]


def _when(at: datetime | None) -> str:
    """UTC with seconds: DB timestamps come with assorted offsets, a thread must compare them at a glance."""
    if at is None:
        return "?"
    if at.tzinfo is None:
        return at.strftime("%Y-%m-%d %H:%M:%S")
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _backup_time(at: datetime | None) -> str:
    """A backup's time as its name spells it (go-fast-cdn names use local time), to the minute."""
    return at.strftime("%Y-%m-%d %H:%M") if at else "?"


def _size(n: int | None) -> str:
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


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60)} s"


def _sha(digest: str | None) -> str:
    return code(digest[:12]) if digest else "?"


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=clip(text)))


def _fields(pairs: Sequence[tuple[str, str]]) -> SectionBlock:
    """Up to 10 short "*label*\\nvalue" fields (values already escaped)."""
    return SectionBlock(fields=[MarkdownTextObject(text=clip(f"*{k}*\n{v}", MAX_FIELD)) for k, v in pairs[:10]])


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=clip(text))])


def _finish(text: str, blocks: list[Block]) -> SlackMessage:
    return SlackMessage(text=clip(text), blocks=check_limits([b.to_dict() for b in blocks]))


# --- shared renderings of ops models -------------------------------------------------------------------
_KINDS = (
    ("images", "images_live", "images_raw"),
    ("docs", "docs_live", "docs_raw"),
    ("media", "media_live", "media_raw"),
)


def _live_raw(c: Counts, live: str, raw: str) -> str:
    """``live/raw``, or ``-`` when the table doesn't exist (None), so "no media table" differs from "0 rows"."""
    lv, rv = getattr(c, live), getattr(c, raw)
    return "-" if rv is None else f"{'?' if lv is None else lv}/{rv}"


def _counts_lines(c: Counts) -> list[str]:
    return _table(["", "live/raw"], [[name, _live_raw(c, lv, rv)] for name, lv, rv in _KINDS])


def _counts_change_lines(before: Counts, after: Counts) -> list[str]:
    rows = [[name, _live_raw(before, lv, rv), "→", _live_raw(after, lv, rv)] for name, lv, rv in _KINDS]
    return _table(["live/raw", "before", "", "after"], rows)


def _marker(m: MarkerInfo | None) -> str:
    if m is None:
        return "?"
    return m.state + (f" (created {_when(m.created_at)})" if m.created_at else "")


def _app(st: AppState) -> str:
    state = {True: "running", False: "stopped", None: "unknown"}[st.running]
    pid = f" (pid {st.pid})" if st.pid else ""
    detail = f": {esc_clip(st.detail, 300)}" if st.detail and st.detail != state else ""
    return f"{state}{pid}{detail}"


def _check_lines(checks: Sequence[Check]) -> list[str]:
    return [f"{'✓' if c.passed else '✗'} {code(c.name, 60)} {esc_clip(c.detail, 500)}" for c in checks]


def _lost_row_line(r: LostRow) -> str:
    where = "on disk in " + ", ".join(f"uploads/{x}" for x in r.file_locations) if r.file_on_disk else "*no file*"
    return (
        f"• #{r.id} {code(r.file_name)} · {esc_clip(r.type, 30)} · created {_when(r.created_at)} · "
        f"{esc_clip(r.reason, 200)} · {where}"
    )


def _lost_rows_text(rows: Sequence[LostRow]) -> str:
    if not rows:
        return "*No media rows lost:* every live media row is still carried by a live images/docs row."
    head = f":warning: *{len(rows)} media row(s) the rollback LOSES* (only the `media` table has them):"
    return _list_text(head, [_lost_row_line(r) for r in rows], shown=LOST_ROWS_SHOWN)


def _missing_text(missing: Sequence[MissingFile], head: str) -> str:
    lines = [
        f"• {code(m.expected_path)}" + (" (copy in uploads/media)" if m.copy_in_media else " (no copy)")
        for m in missing
    ]
    return _list_text(head, lines, shown=NAMES_SHOWN)


# --- per-operation details --------------------------------------------------------------------------
def _status_blocks(r: StatusResult) -> list[Block]:
    era = f"`{r.schema_era}`" if r.schema_era else "?"
    if r.media_schema:
        era += f" (media schema {r.media_schema})"
    journal = ":warning: " + _names(r.journal_files) if r.journal_files else "none"
    pairs = [
        ("App", _app(AppState(running=r.app_running, detail=r.app_detail))),
        ("Schema era", era),
        ("Marker", _marker(r.marker)),
        ("Journal files", journal),
        ("Database", f"{code(r.db_path, 200)} ({_size(r.db_size) if r.db_exists else 'missing'})"),
    ]
    if r.error:
        pairs.append(("Error", esc_clip(r.error, 500)))
    blocks: list[Block] = [_fields(pairs), _section(_code_block(_counts_lines(r.counts), head="*Row counts*"))]
    if r.next_step:
        blocks.append(_context(f":point_right: {esc_clip(r.next_step, 500)}"))
    return blocks


def _rollback_blocks(r: RollbackResult) -> list[Block]:
    lines = [f"*Action:* `{r.action}` (marker mode {r.marker_mode})"]
    if r.backup:
        lines.append(f"*Backup taken first:* {code(r.backup, 150)} · sha256 {_sha(r.backup_sha256)}")
    lines.append(
        f"*Dropped:* {_names(r.dropped)}" + (" (and its sqlite_sequence row)" if r.sequence_row_removed else "")
    )
    lines.append(f"*Marker:* {_marker(r.marker_before)} → {_marker(r.marker_after)}")
    lines.append(f"*Schema era:* {r.era_before or '?'} → {r.era_after or '?'}")
    blocks: list[Block] = [
        _section("\n".join(lines)),
        _section(_code_block(_counts_change_lines(r.counts_before, r.counts_after), head="*Row counts*")),
    ]
    if r.action != "noop":
        blocks.append(_section(_lost_rows_text(r.lost_rows)))
    if r.deletes_undone:
        head = f"*{len(r.deletes_undone)} delete(s) undone:* deleted after the migration, live again in images/docs:"
        blocks.append(_section(_list_text(head, [_lost_row_line(x) for x in r.deletes_undone], shown=5)))
    if r.missing_files:
        head = f"*{len(r.missing_files)} live images/docs row(s) have no file* (`restore_files` copies them back):"
        blocks.append(_section(_missing_text(r.missing_files, head)))
    blocks.extend(_proof_context(r.stopped_proof))
    return blocks


def _baseline_text(source: str | None) -> str:
    if not source:
        return "none"
    kind, _, name = source.partition(":")
    if kind == "newest-pre-migration":
        return f"the newest pre-migration backup {code(name, 150)}"
    if kind == "backup":
        return f"backup {code(name, 150)}"
    return esc(source)


def _verify_blocks(r: VerifyResult) -> list[Block]:
    head = f"*Checks* (baseline: {_baseline_text(r.baseline_source)})"
    blocks: list[Block] = [_section(_list_text(head, _check_lines(r.checks), shown=50))]
    if r.missing_files:
        blocks.append(_section(_missing_text(r.missing_files, f"*{len(r.missing_files)} missing file(s):*")))
    if r.sqlite3:
        lines: list[str] = []
        for cmd in r.sqlite3:
            lines.append(f"$ {cmd.command}")
            lines.extend(cmd.output.splitlines() or [""])
        blocks.append(_section(_code_block(lines, head="*What the checklist's `sqlite3` commands print*")))
    return blocks


def _proof_context(proof: StoppedProof | None) -> list[Block]:
    """How the agent knew the app was stopped, and whose word it was if nothing could prove it."""
    if proof is None:
        return []
    how = {
        "controller": "proven stopped by the controller",
        "open-files": "proven stopped: nobody holds the DB open and the API is silent",
        "asserted": f"NOT provable here: asserted stopped by {mention_or_text(proof.asserted_by)}",
    }[proof.method]
    extra = (
        f" (also asserted by {mention_or_text(proof.asserted_by)})"
        if proof.asserted_by and proof.method != "asserted"
        else ""
    )
    return [_context(f":stop_sign: App {how}{extra} · {esc_clip(proof.open_files, 600)}")]


def mention_or_text(who: str | None) -> str:
    """A Slack user id becomes a mention; anything else (``cli:ops@host``) is shown as code."""
    if who and who.isalnum() and who[:1] in "UW":
        return mention(who)
    return code(who or "?", 100)


def _backups_list_blocks(r: BackupListResult) -> list[Block]:
    newest_first = sorted(r.backups, key=lambda b: (b.time or datetime.min.replace(tzinfo=UTC), b.name), reverse=True)
    shown = newest_first[:BACKUP_ROWS_SHOWN]
    star = next((b for b in newest_first if b.newest_pre_migration), None)
    if star is not None and star not in shown:  # the one to restore must always be visible
        shown = [*shown[:-1], star]
    rows = [
        [
            "★" if b.newest_pre_migration else " ",
            clip(b.name, 64),
            _backup_time(b.time),
            _size(b.size),
            b.sha256[:12],
            "pre-migration" if b.pre_migration else ("INVALID" if not b.valid else (b.era or "?")),
        ]
        for b in shown
    ]
    table = _table(["", "name", "time", "size", "sha256", "state"], rows)
    rest = len(newest_first) - len(shown)
    head = f"*{len(r.backups)} backup(s)*, newest first · ★ newest pre-migration: " + (
        code(r.newest_pre_migration, 150) if r.newest_pre_migration else "*none*"
    )
    text = _code_block(table, head=head)
    if rest:
        text += f"\n_+{rest} more (older) not shown_"
    return [_section(text)]


def _backups_create_blocks(r: BackupCreateResult) -> list[Block]:
    c = r.source_counts
    pairs = [
        ("Backup", code(r.name, 150)),
        ("sha256", _sha(r.sha256)),
        ("Size", _size(r.size)),
        ("Integrity", esc_clip(r.integrity, 300)),
        ("Source", f"images {_live_raw(c, 'images_live', 'images_raw')}, docs {_live_raw(c, 'docs_live', 'docs_raw')}"),
        ("Marker", _marker(r.source_marker)),
    ]
    return [_fields(pairs)]


def _replace_db_blocks(r: ReplaceDbResult) -> list[Block]:
    source = f"*Source:* {code(r.source_path, 300)}" + (
        f" · copied into backups/ as {code(r.imported_as, 150)}" if r.imported_as else ""
    )
    return [_section(source), *_restore_blocks(r)]


def _restore_blocks(r: RestoreResult) -> list[Block]:
    lines = [
        f"*Restored:* {code(r.backup, 150)} · sha256 {_sha(r.backup_sha256)} (backup integrity "
        f"{esc_clip(r.backup_integrity, 200)})",
        "*Pre-restore backup:* "
        + (
            f"{code(r.pre_restore_backup, 150)} · sha256 {_sha(r.pre_restore_sha256)}"
            if r.pre_restore_backup
            else "none"
        ),
        f"*Integrity after:* {esc_clip(r.integrity_after, 300)} · sha256 now {_sha(r.restored_sha256)}",
        f"*Schema era:* {r.era_before or '?'} → {r.era_after or '?'} · marker now {_marker(r.marker_after)}",
    ]
    if r.removed_journal:
        lines.append(f"*Removed stale journal:* {code(r.removed_journal)}")
    if r.quarantine is not None:
        lines.append(
            f"*Broken main.db ({esc(r.db_state_before)}) kept in:* {code(r.quarantine.folder, 300)} "
            f"({_names(r.quarantine.files)})"
        )
    if r.row_check is not None and r.row_check.override_reason:
        lines.append(f"*Fewer-rows override:* {esc_clip(r.row_check.override_reason, 300)}")
    return [
        _section("\n".join(lines)),
        _section(_code_block(_counts_change_lines(r.counts_before, r.counts_after), head="*Row counts*")),
        *_proof_context(r.stopped_proof),
    ]


def _recover_journal_blocks(r: RecoverJournalResult) -> list[Block]:
    def files(side: Any) -> str:
        return ", ".join(f"{f.name} {_size(f.size)}" for f in side.files) or "none"

    lines = [
        f"*Before:* {esc(files(r.before))} (journal {r.before.journal_state})",
        f"*After:* {esc(files(r.after))} (journal {r.after.journal_state})",
    ]
    if r.integrity_after:
        lines.append(f"*Integrity after:* {esc_clip(r.integrity_after, 300)} · era {r.era_after or '?'}")
    if r.copied_to:
        lines.append(f"*Copies taken first:* {code(r.copied_to, 300)}")
    return [_section("\n".join(lines))]


def _restore_files_blocks(r: RestoreFilesResult) -> list[Block]:
    copied = _list_text(
        f"*Copied back from uploads/media ({len(r.copied)}):*", [f"• {code(p)}" for p in r.copied], shown=NAMES_SHOWN
    )
    blocks: list[Block] = [_section(copied)]
    if r.still_missing:
        blocks.append(_section(_missing_text(r.still_missing, f"*Still missing ({len(r.still_missing)}):*")))
    return blocks


def _check_api_blocks(r: CheckApiResult) -> list[Block]:
    blocks: list[Block] = [
        _section(_list_text(f"*Checks against {code(r.api_url, 200)}*", _check_lines(r.checks), shown=50))
    ]
    if r.uploads_will_fail:
        blocks.append(
            _section(
                ":rotating_light: *Uploads will fail*: a migration-era go-fast-cdn binary is serving; every upload "
                'writes the dropped `media` table (500 "no such table: media") until the binary is rolled back '
                "to a pre-migration build"
            )
        )
    elif r.serves_media:
        blocks.append(_context(":warning: `/api/cdn/media/all` answers: a migration-era binary is serving"))
    return blocks


def _logs_blocks(r: LogsResult) -> list[Block]:
    head = f"*{len(r.lines)} line(s)* from {code(r.source, 200)} (asked for {r.requested})"
    return [_section(_code_block(r.lines, head=head, from_end=True))]


def _app_control_blocks(r: AppControlResult) -> list[Block]:
    text = f"*{r.action.capitalize()}* via `{esc(r.controller)}`: {_app(r.before)} → {_app(r.after)}"
    text += f" · took {_duration(r.elapsed_s)}"
    if r.api_answered is not None:
        text += " · API " + ("answered" if r.api_answered else "*did not answer*")
    return [_section(text)]


def _dry_run_blocks(r: DryRunResult) -> list[Block]:
    lines = [f"*Dry run of* `{r.target_operation}`" + (f" with {code(r.backup, 150)}" if r.backup else "")]
    if r.would_refuse:
        lines.append(
            ":no_entry: *The real operation would be refused now:* "
            + "; ".join(esc_clip(x, 300) for x in r.would_refuse[:5])
        )
    lines.append(f"*Action:* {esc(r.action or '?')} · *would drop:* {_names(r.dropped)}")
    if r.added:
        lines.append(f"*Would add:* {_names(r.added)}")
    lines.append(f"*Marker:* {_marker(r.marker_before)} → {_marker(r.marker_after)}")
    lines.append(f"*Schema era:* {r.era_before or '?'} → {r.era_after or '?'}")
    if r.target_operation == "rollback":
        lost = f"*Rows lost:* {len(r.lost_rows)}"
        if r.lost_rows:
            lost += " (" + _names([x.file_name for x in r.lost_rows], shown=5) + ")"
        lines.append(lost)
        if r.deletes_undone:
            lines.append(f"*Deletes undone:* {len(r.deletes_undone)}")
    if r.missing_files:
        lines.append(f"*Live rows without a file:* {len(r.missing_files)}")
    lines.append(
        "_The live DB was not changed._" if r.live_db_unchanged else ":warning: *The live DB changed meanwhile.*"
    )
    return [
        _section(_list_text(lines[0], lines[1:], shown=20)),
        _section(_code_block(_counts_change_lines(r.counts_before, r.counts_after), head="*Row counts (would be)*")),
    ]


# The details block of each operation's result, keyed by ops/contract.py names (one per operation;
# tests/unit/ops/test_contract.py fails when an operation has none).
PRESENTERS: dict[str, Callable[[Any], list[Block]]] = {
    "status": _status_blocks,
    "stop_app": _app_control_blocks,
    "start_app": _app_control_blocks,
    "rollback": _rollback_blocks,
    "verify": _verify_blocks,
    "backups_list": _backups_list_blocks,
    "backups_create": _backups_create_blocks,
    "restore": _restore_blocks,
    "replace_db": _replace_db_blocks,
    "restore_files": _restore_files_blocks,
    "check_api": _check_api_blocks,
    "tail_logs": _logs_blocks,
    "dry_run": _dry_run_blocks,
    "recover_journal": _recover_journal_blocks,
}


def _parse(operation: str, result: dict[str, Any]) -> OpResult | None:
    """The typed result, or the common base when this bot doesn't know the agent's shape (version skew)."""
    op = OPERATIONS.get(operation) or OPERATIONS.get(str(result.get("operation", "")))
    model = op.result if op is not None else None
    for candidate in (model, OpResult):
        if candidate is None:
            continue
        try:
            return candidate.model_validate(result)
        except ValidationError:
            continue
    return None


def _details(res: OpResult) -> list[Block]:
    """The operation's own facts, when the result parsed as that operation's model."""
    op = OPERATIONS.get(res.operation)
    render = PRESENTERS.get(res.operation)
    if op is None or render is None or not isinstance(res, op.result):
        return []
    return render(res)


def _failed_checks(res: OpResult | None) -> list[str]:
    if isinstance(res, VerifyResult | CheckApiResult):
        return [c.name for c in res.checks if not c.passed]
    return []


# --- public API ----------------------------------------------------------------------------------------
def job_running_message(
    *, operation: str, environment: str, step_title: str, started_by: str, progress: list[str]
) -> SlackMessage:
    """The thread message while a job runs; it is updated in place with the newest progress lines."""
    head = (
        f":hourglass_flowing_sand: Running `{esc(operation)}` on `{esc(environment)}` "
        f"(step: {esc_clip(step_title, 200)}) — started by {mention(started_by)}"
    )
    blocks: list[Block] = [_section(head)]
    if progress:
        recent = progress[-PROGRESS_SHOWN:]
        blocks.append(_section(_code_block(recent, from_end=True, hidden=len(progress) - len(recent))))
    else:
        blocks.append(_context("_waiting for the agent to report progress…_"))
    return _finish(head, blocks)


def job_result_message(
    *,
    operation: str,
    outcome: str,
    result: dict[str, Any] | None,
    error: dict[str, Any] | None,
    environment: str,
    step_title: str,
    started_by: str,
    duration_s: float | None,
) -> SlackMessage:
    """The thread message a finished (or failed-to-run) job leaves: a one-line verdict, then the facts
    of that operation, so the channel never has to ask someone to paste terminal output."""
    raw = result if isinstance(result, dict) else {}
    res = _parse(operation, raw) if raw else None
    summary = res.summary if res is not None else str(raw.get("summary", "") or "")
    err = error if isinstance(error, dict) else {}
    err_msg, err_code = str(err.get("message", "") or ""), str(err.get("code", "") or "")
    headline = _headline(operation, outcome, environment, summary, err_msg, err_code, _failed_checks(res))
    blocks: list[Block] = [_section(headline)]
    meta = [f"step: {esc_clip(step_title, 200)}", f"started by {mention(started_by)}"]
    if duration_s is not None:
        meta.append(f"took {_duration(duration_s)}")
    if outcome == "unauthorized" and err_msg:
        meta.append(f"agent said: {esc_clip(err_msg, 300)}")
    blocks.append(_context(" · ".join(meta)))
    if res is not None:
        blocks.extend(_details(res))
    warnings = res.warnings if res is not None else []
    if warnings:
        lines = [f"• {esc_clip(w, 400)}" for w in warnings]
        blocks.append(_section(_list_text(":warning: *Warnings*", lines, shown=WARNINGS_SHOWN)))
    return _finish(headline, blocks)


def _headline(
    operation: str,
    outcome: str,
    environment: str,
    summary: str,
    err_msg: str,
    err_code: str,
    failed_checks: list[str],
) -> str:
    op, env = f"`{esc(operation)}`", f"`{esc(environment)}`"
    summary_t = esc_clip(summary, 1500)
    err_t = esc_clip(err_msg, 1500)
    code_t = f" ({code(err_code, 60)})" if err_code else ""
    if outcome == "ok":
        return f":white_check_mark: {op} succeeded on {env}: {summary_t}"
    if outcome == "failed":
        if failed_checks:
            return f":x: {op} failed on {env}: {len(failed_checks)} check(s) failed: {_names(failed_checks)}"
        return f":x: {op} failed on {env}: {summary_t or err_t or 'no details'}"
    if outcome == "noop":
        return f":information_source: {op} on {env}: nothing to do: {summary_t}"
    if outcome == "inconclusive":
        return f":grey_question: {op} on {env} inconclusive: {summary_t}"
    if outcome == "refused":
        return f":no_entry: {op} on {env} refused as unsafe: {err_t or summary_t}{code_t}"
    if outcome == "invalid":
        return f":warning: {op} on {env}: rejected input: {err_t or summary_t}{code_t}"
    if outcome == "unreachable":
        return f":electric_plug: {op} on {env}: agent unreachable: {err_t or 'no answer'}"
    if outcome == "timeout":
        return f":hourglass: {op} on {env} timed out: {err_t or 'no result in time'}"
    if outcome == "unauthorized":
        return f":closed_lock_with_key: {op} on {env}: agent rejected the bot's signature (check the shared secret)"
    if outcome == "protocol":
        return f":interrobang: {op} on {env}: unexpected answer from the agent: {err_t or 'protocol error'}"
    if outcome == "error":
        return f":boom: {op} on {env}: agent error: {err_t or summary_t or 'no details'}{code_t}"
    return f":grey_question: {op} on {env} ended with outcome {code(outcome, 40)}: {summary_t or err_t}"


def selectable_backups(backups: list[dict[str, Any]]) -> list[BackupInfo]:
    """Valid backups whose name fits an option value, newest first (what ``backup_select`` offers)."""
    out: list[BackupInfo] = []
    for raw in backups:
        try:
            b = BackupInfo.model_validate(raw)
        except ValidationError:
            continue
        if b.valid and len(b.name) <= MAX_OPTION_VALUE:
            out.append(b)
    out.sort(key=lambda b: (b.time or datetime.min.replace(tzinfo=UTC), b.name), reverse=True)
    return out


def unselectable_backups(backups: list[dict[str, Any]]) -> list[str]:
    """Valid backups a select can't offer (name longer than an option value), for the caller to mention."""
    ok = {b.name for b in selectable_backups(backups)}
    return [str(b.get("name")) for b in backups if b.get("valid") and b.get("name") not in ok]


def _mid(text: str, limit: int) -> str:
    """Shorten in the middle: backup names differ at both ends (timestamp, label)."""
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return text[:head] + "…" + text[len(text) - (limit - 1 - head) :]


def _option(b: BackupInfo) -> Option:
    if b.newest_pre_migration:
        tag = "★ newest pre-migration"
    elif b.pre_migration:
        tag = "pre-migration"
    else:  # say what it is, so a migrated DB is never mistaken for a safe restore point
        tag = f"era {b.era}" if b.era else "not pre-migration"
    suffix = f" · {_backup_time(b.time)} · {tag}"
    if len(b.name) + len(suffix) > MAX_OPTION_TEXT and (b.kind != "other" or len(suffix) > MAX_OPTION_TEXT - 24):
        suffix = f" · {tag}"  # agent and go-fast-cdn names spell their time: keep the name whole instead
    label = _mid(b.name, MAX_OPTION_TEXT - len(suffix)) + suffix
    return Option(value=b.name, text=PlainTextObject(text=clip(label, MAX_OPTION_TEXT)))


def backup_select(
    *, backups: list[dict[str, Any]], chosen: str | None, action_id: str, block_id_hint: str = ""
) -> StaticSelectElement | None:
    """A picker of valid backups, newest first, preselecting the newest pre-migration one (the safe
    default for a restore) unless ``chosen`` names another offered backup. None when nothing is valid.

    ``block_id_hint`` is not used by the element itself (elements have no block_id): the caller puts it
    on the containing block; varying it with ``chosen`` makes Slack clients re-render ``initial_option``.
    """
    offered = selectable_backups(backups)
    if not offered:
        return None
    star = next((b for b in offered if b.newest_pre_migration), None)
    if star is None:  # an older agent that doesn't flag it: same rule as ops.backups.list_backups
        star = next((b for b in offered if b.pre_migration), None)
        if star is not None:
            star = star.model_copy(update={"newest_pre_migration": True})
            offered = [star if b.name == star.name else b for b in offered]
    pick = next((b for b in offered if chosen is not None and b.name == chosen), star)
    must = {b.name for b in (star, pick) if b is not None}
    keep = offered[:MAX_OPTIONS]
    late = [b for b in offered[MAX_OPTIONS:] if b.name in must]
    if late:  # never let the default or the current choice fall off the end
        droppable = [b.name for b in keep if b.name not in must]
        gone = set(droppable[len(droppable) - len(late) :])
        keep = [b for b in keep if b.name not in gone] + late
    keep.sort(key=lambda b: (b.time or datetime.min.replace(tzinfo=UTC), b.name), reverse=True)
    options = [_option(b) for b in keep]
    initial = next((o for o, b in zip(options, keep, strict=True) if pick is not None and b.name == pick.name), None)
    return StaticSelectElement(
        placeholder=PlainTextObject(text="Choose a backup"),
        action_id=action_id,
        options=options,
        initial_option=initial,
    )
