"""One presenter per agent operation: the facts of its result as Block Kit, keyed by operation name.

Each presenter gets the result validated into the operation's result model (``ops/contract.py``
says which), so it reads typed fields. ``PRESENTERS`` must have one entry per operation of the
contract (``tests/unit/ops/test_contract.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import Block

from handlers.limits import clip
from handlers.results import formatting as fmt
from handlers.text import mention
from ops.models import (
    AppControlResult,
    AppState,
    BackupCreateResult,
    BackupListResult,
    Check,
    CheckApiResult,
    Counts,
    DryRunResult,
    LogsResult,
    LostRow,
    MarkerInfo,
    MissingFile,
    RecoverJournalResult,
    ReplaceDbResult,
    RestoreFilesResult,
    RestoreResult,
    RollbackResult,
    StatusResult,
    StoppedProof,
    VerifyResult,
)

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
    return fmt.table(["", "live/raw"], [[name, _live_raw(c, lv, rv)] for name, lv, rv in _KINDS])


def _counts_change_lines(before: Counts, after: Counts) -> list[str]:
    rows = [[name, _live_raw(before, lv, rv), "→", _live_raw(after, lv, rv)] for name, lv, rv in _KINDS]
    return fmt.table(["live/raw", "before", "", "after"], rows)


def _marker(m: MarkerInfo | None) -> str:
    if m is None:
        return "?"
    return m.state + (f" (created {fmt.when(m.created_at)})" if m.created_at else "")


def _app(st: AppState) -> str:
    state = {True: "running", False: "stopped", None: "unknown"}[st.running]
    pid = f" (pid {st.pid})" if st.pid else ""
    detail = f": {fmt.esc_clip(st.detail, 300)}" if st.detail and st.detail != state else ""
    return f"{state}{pid}{detail}"


def _check_lines(checks: Sequence[Check]) -> list[str]:
    return [f"{'✓' if c.passed else '✗'} {fmt.code(c.name, 60)} {fmt.esc_clip(c.detail, 500)}" for c in checks]


def _lost_row_line(r: LostRow) -> str:
    where = "on disk in " + ", ".join(f"uploads/{x}" for x in r.file_locations) if r.file_on_disk else "*no file*"
    return (
        f"• #{r.id} {fmt.code(r.file_name)} · {fmt.esc_clip(r.type, 30)} · created {fmt.when(r.created_at)} · "
        f"{fmt.esc_clip(r.reason, 200)} · {where}"
    )


def _lost_rows_text(rows: Sequence[LostRow]) -> str:
    if not rows:
        return "*No media rows lost:* every live media row is still carried by a live images/docs row."
    head = f":warning: *{len(rows)} media row(s) the rollback LOSES* (only the `media` table has them):"
    return fmt.list_text(head, [_lost_row_line(r) for r in rows], shown=fmt.LOST_ROWS_SHOWN)


def _missing_text(missing: Sequence[MissingFile], head: str) -> str:
    lines = [
        f"• {fmt.code(m.expected_path)}" + (" (copy in uploads/media)" if m.copy_in_media else " (no copy)")
        for m in missing
    ]
    return fmt.list_text(head, lines, shown=fmt.NAMES_SHOWN)


# --- one presenter per operation --------------------------------------------------------------------------
def _status_blocks(r: StatusResult) -> list[Block]:
    era = f"`{r.schema_era}`" if r.schema_era else "?"
    if r.media_schema:
        era += f" (media schema {r.media_schema})"
    journal = ":warning: " + fmt.names(r.journal_files) if r.journal_files else "none"
    pairs = [
        ("App", _app(AppState(running=r.app_running, detail=r.app_detail))),
        ("Schema era", era),
        ("Marker", _marker(r.marker)),
        ("Journal files", journal),
        ("Database", f"{fmt.code(r.db_path, 200)} ({fmt.size(r.db_size) if r.db_exists else 'missing'})"),
    ]
    if r.error:
        pairs.append(("Error", fmt.esc_clip(r.error, 500)))
    blocks: list[Block] = [fmt.fields(pairs), fmt.section(fmt.code_block(_counts_lines(r.counts), head="*Row counts*"))]
    if r.next_step:
        blocks.append(fmt.context(f":point_right: {fmt.esc_clip(r.next_step, 500)}"))
    return blocks


def _rollback_blocks(r: RollbackResult) -> list[Block]:
    lines = [f"*Action:* `{r.action}` (marker mode {r.marker_mode})"]
    if r.backup:
        lines.append(f"*Backup taken first:* {fmt.code(r.backup, 150)} · sha256 {fmt.sha(r.backup_sha256)}")
    lines.append(
        f"*Dropped:* {fmt.names(r.dropped)}" + (" (and its sqlite_sequence row)" if r.sequence_row_removed else "")
    )
    lines.append(f"*Marker:* {_marker(r.marker_before)} → {_marker(r.marker_after)}")
    lines.append(f"*Schema era:* {r.era_before or '?'} → {r.era_after or '?'}")
    blocks: list[Block] = [
        fmt.section("\n".join(lines)),
        fmt.section(fmt.code_block(_counts_change_lines(r.counts_before, r.counts_after), head="*Row counts*")),
    ]
    if r.action != "noop":
        blocks.append(fmt.section(_lost_rows_text(r.lost_rows)))
    if r.deletes_undone:
        head = f"*{len(r.deletes_undone)} delete(s) undone:* deleted after the migration, live again in images/docs:"
        blocks.append(fmt.section(fmt.list_text(head, [_lost_row_line(x) for x in r.deletes_undone], shown=5)))
    if r.missing_files:
        head = f"*{len(r.missing_files)} live images/docs row(s) have no file* (`restore_files` copies them back):"
        blocks.append(fmt.section(_missing_text(r.missing_files, head)))
    blocks.extend(_proof_context(r.stopped_proof))
    return blocks


def _baseline_text(source: str | None) -> str:
    if not source:
        return "none"
    kind, _, name = source.partition(":")
    if kind == "newest-pre-migration":
        return f"the newest pre-migration backup {fmt.code(name, 150)}"
    if kind == "backup":
        return f"backup {fmt.code(name, 150)}"
    return fmt.esc(source)


def _verify_blocks(r: VerifyResult) -> list[Block]:
    head = f"*Checks* (baseline: {_baseline_text(r.baseline_source)})"
    blocks: list[Block] = [fmt.section(fmt.list_text(head, _check_lines(r.checks), shown=50))]
    if r.missing_files:
        blocks.append(fmt.section(_missing_text(r.missing_files, f"*{len(r.missing_files)} missing file(s):*")))
    if r.sqlite3:
        lines: list[str] = []
        for cmd in r.sqlite3:
            lines.append(f"$ {cmd.command}")
            lines.extend(cmd.output.splitlines() or [""])
        blocks.append(fmt.section(fmt.code_block(lines, head="*What the checklist's `sqlite3` commands print*")))
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
    return [fmt.context(f":stop_sign: App {how}{extra} · {fmt.esc_clip(proof.open_files, 600)}")]


def mention_or_text(who: str | None) -> str:
    """A Slack user id becomes a mention; anything else (``cli:ops@host``) is shown as code."""
    if who and who.isalnum() and who[:1] in "UW":
        return mention(who)
    return fmt.code(who or "?", 100)


def _backups_list_blocks(r: BackupListResult) -> list[Block]:
    newest_first = sorted(r.backups, key=lambda b: (b.time or datetime.min.replace(tzinfo=UTC), b.name), reverse=True)
    shown = newest_first[: fmt.BACKUP_ROWS_SHOWN]
    star = next((b for b in newest_first if b.newest_pre_migration), None)
    if star is not None and star not in shown:  # the one to restore must always be visible
        shown = [*shown[:-1], star]
    rows = [
        [
            "★" if b.newest_pre_migration else " ",
            clip(b.name, 64),
            fmt.backup_time(b.time),
            fmt.size(b.size),
            b.sha256[:12],
            "pre-migration" if b.pre_migration else ("INVALID" if not b.valid else (b.era or "?")),
        ]
        for b in shown
    ]
    table = fmt.table(["", "name", "time", "size", "sha256", "state"], rows)
    rest = len(newest_first) - len(shown)
    head = f"*{len(r.backups)} backup(s)*, newest first · ★ newest pre-migration: " + (
        fmt.code(r.newest_pre_migration, 150) if r.newest_pre_migration else "*none*"
    )
    text = fmt.code_block(table, head=head)
    if rest:
        text += f"\n_+{rest} more (older) not shown_"
    return [fmt.section(text)]


def _backups_create_blocks(r: BackupCreateResult) -> list[Block]:
    c = r.source_counts
    pairs = [
        ("Backup", fmt.code(r.name, 150)),
        ("sha256", fmt.sha(r.sha256)),
        ("Size", fmt.size(r.size)),
        ("Integrity", fmt.esc_clip(r.integrity, 300)),
        ("Source", f"images {_live_raw(c, 'images_live', 'images_raw')}, docs {_live_raw(c, 'docs_live', 'docs_raw')}"),
        ("Marker", _marker(r.source_marker)),
    ]
    return [fmt.fields(pairs)]


def _replace_db_blocks(r: ReplaceDbResult) -> list[Block]:
    source = f"*Source:* {fmt.code(r.source_path, 300)}" + (
        f" · copied into backups/ as {fmt.code(r.imported_as, 150)}" if r.imported_as else ""
    )
    return [fmt.section(source), *_restore_blocks(r)]


def _restore_blocks(r: RestoreResult) -> list[Block]:
    lines = [
        f"*Restored:* {fmt.code(r.backup, 150)} · sha256 {fmt.sha(r.backup_sha256)} (backup integrity "
        f"{fmt.esc_clip(r.backup_integrity, 200)})",
        "*Pre-restore backup:* "
        + (
            f"{fmt.code(r.pre_restore_backup, 150)} · sha256 {fmt.sha(r.pre_restore_sha256)}"
            if r.pre_restore_backup
            else "none"
        ),
        f"*Integrity after:* {fmt.esc_clip(r.integrity_after, 300)} · sha256 now {fmt.sha(r.restored_sha256)}",
        f"*Schema era:* {r.era_before or '?'} → {r.era_after or '?'} · marker now {_marker(r.marker_after)}",
    ]
    if r.removed_journal:
        lines.append(f"*Removed stale journal:* {fmt.code(r.removed_journal)}")
    if r.quarantine is not None:
        lines.append(
            f"*Broken main.db ({fmt.esc(r.db_state_before)}) kept in:* {fmt.code(r.quarantine.folder, 300)} "
            f"({fmt.names(r.quarantine.files)})"
        )
    if r.row_check is not None and r.row_check.override_reason:
        lines.append(f"*Fewer-rows override:* {fmt.esc_clip(r.row_check.override_reason, 300)}")
    return [
        fmt.section("\n".join(lines)),
        fmt.section(fmt.code_block(_counts_change_lines(r.counts_before, r.counts_after), head="*Row counts*")),
        *_proof_context(r.stopped_proof),
    ]


def _recover_journal_blocks(r: RecoverJournalResult) -> list[Block]:
    def files(side: Any) -> str:
        return ", ".join(f"{f.name} {fmt.size(f.size)}" for f in side.files) or "none"

    lines = [
        f"*Before:* {fmt.esc(files(r.before))} (journal {r.before.journal_state})",
        f"*After:* {fmt.esc(files(r.after))} (journal {r.after.journal_state})",
    ]
    if r.integrity_after:
        lines.append(f"*Integrity after:* {fmt.esc_clip(r.integrity_after, 300)} · era {r.era_after or '?'}")
    if r.copied_to:
        lines.append(f"*Copies taken first:* {fmt.code(r.copied_to, 300)}")
    return [fmt.section("\n".join(lines))]


def _restore_files_blocks(r: RestoreFilesResult) -> list[Block]:
    copied = fmt.list_text(
        f"*Copied back from uploads/media ({len(r.copied)}):*",
        [f"• {fmt.code(p)}" for p in r.copied],
        shown=fmt.NAMES_SHOWN,
    )
    blocks: list[Block] = [fmt.section(copied)]
    if r.still_missing:
        blocks.append(fmt.section(_missing_text(r.still_missing, f"*Still missing ({len(r.still_missing)}):*")))
    return blocks


def _check_api_blocks(r: CheckApiResult) -> list[Block]:
    blocks: list[Block] = [
        fmt.section(fmt.list_text(f"*Checks against {fmt.code(r.api_url, 200)}*", _check_lines(r.checks), shown=50))
    ]
    if r.uploads_will_fail:
        blocks.append(
            fmt.section(
                ":rotating_light: *Uploads will fail*: a migration-era go-fast-cdn binary is serving; every upload "
                'writes the dropped `media` table (500 "no such table: media") until the binary is rolled back '
                "to a pre-migration build"
            )
        )
    elif r.serves_media:
        blocks.append(fmt.context(":warning: `/api/cdn/media/all` answers: a migration-era binary is serving"))
    return blocks


def _logs_blocks(r: LogsResult) -> list[Block]:
    head = f"*{len(r.lines)} line(s)* from {fmt.code(r.source, 200)} (asked for {r.requested})"
    return [fmt.section(fmt.code_block(r.lines, head=head, from_end=True))]


def _app_control_blocks(r: AppControlResult) -> list[Block]:
    text = f"*{r.action.capitalize()}* via `{fmt.esc(r.controller)}`: {_app(r.before)} → {_app(r.after)}"
    text += f" · took {fmt.duration(r.elapsed_s)}"
    if r.api_answered is not None:
        text += " · API " + ("answered" if r.api_answered else "*did not answer*")
    return [fmt.section(text)]


def _dry_run_blocks(r: DryRunResult) -> list[Block]:
    lines = [f"*Dry run of* `{r.target_operation}`" + (f" with {fmt.code(r.backup, 150)}" if r.backup else "")]
    if r.would_refuse:
        lines.append(
            ":no_entry: *The real operation would be refused now:* "
            + "; ".join(fmt.esc_clip(x, 300) for x in r.would_refuse[:5])
        )
    lines.append(f"*Action:* {fmt.esc(r.action or '?')} · *would drop:* {fmt.names(r.dropped)}")
    if r.added:
        lines.append(f"*Would add:* {fmt.names(r.added)}")
    lines.append(f"*Marker:* {_marker(r.marker_before)} → {_marker(r.marker_after)}")
    lines.append(f"*Schema era:* {r.era_before or '?'} → {r.era_after or '?'}")
    if r.target_operation == "rollback":
        lost = f"*Rows lost:* {len(r.lost_rows)}"
        if r.lost_rows:
            lost += " (" + fmt.names([x.file_name for x in r.lost_rows], shown=5) + ")"
        lines.append(lost)
        if r.deletes_undone:
            lines.append(f"*Deletes undone:* {len(r.deletes_undone)}")
    if r.missing_files:
        lines.append(f"*Live rows without a file:* {len(r.missing_files)}")
    lines.append(
        "_The live DB was not changed._" if r.live_db_unchanged else ":warning: *The live DB changed meanwhile.*"
    )
    return [
        fmt.section(fmt.list_text(lines[0], lines[1:], shown=20)),
        fmt.section(
            fmt.code_block(_counts_change_lines(r.counts_before, r.counts_after), head="*Row counts (would be)*")
        ),
    ]


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
