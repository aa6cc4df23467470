"""What the host agent returns: every operation's result model, and the job view of the HTTP API.

The one place both sides of the bot/agent seam read these shapes from. It imports nothing but
pydantic, so the bot and its Slack edge can validate and render results without loading the
agent's implementation (SQLite surgery, app controllers, the job store).

``outcome`` is what the bot turns into a step state: ``ok`` (done), ``failed`` (a check or an
action failed; details in the result), ``noop`` (nothing to do: its own outcome, never shown as
success), ``inconclusive`` (a check could not be made, e.g. verify with no baseline anywhere:
neither a pass nor a failure, so it never moves the team to a fallback). Refusals and bad input
are exceptions on the agent (ops.errors) and job outcomes on the wire (``refused``, ``invalid``),
never results.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

Outcome = Literal["ok", "failed", "noop", "inconclusive"]
# Every outcome a job of the agent API can finish with (``JobView.outcome``).
JobOutcome = Literal["ok", "failed", "noop", "inconclusive", "refused", "invalid", "error"]
ProofMethod = Literal["controller", "open-files", "asserted"]
JobState = Literal["queued", "running", "finished"]

SchemaEra = Literal[
    "pre-migration",  # no media, no migration_records
    "a7396e9-media",  # media with a UNIQUE index on file_name alone
    "tip-media",  # media with file_name NOT NULL / unique (file_name, type) / no unique index
    "rolled-back",  # no media, migration_records present, no live marker
    "tip-empty-media",  # an EMPTY media table and no live marker (re-created by a tip binary's connect)
    "inconsistent",  # a live marker without a media table
    "unknown",  # not a go-fast-cdn DB (no images/docs)
]
MarkerState = Literal["live", "soft-deleted", "absent"]
MarkerMode = Literal["hard", "soft"]
RollbackAction = Literal["noop", "drop-empty-media", "rollback"]
# the live main.db, judged without writing it (ops.quarantine.assess)
DbState = Literal["ok", "missing", "zero-bytes", "unreadable", "not-sqlite", "corrupt"]
# what lies beside it: a -wal/-shm, a journal SQLite would replay, an empty/zero-first-byte one, or nothing
JournalState = Literal["none", "stale", "hot", "wal"]


def utcnow() -> datetime:
    """The default clock (UTC, timezone-aware) of the agent and the bot."""
    return datetime.now(UTC)


# --- common -----------------------------------------------------------------------------------------
class OpResult(BaseModel):
    operation: str
    outcome: Outcome
    summary: str
    warnings: list[str] = Field(default_factory=list)
    # temp files a crashed agent run left (writer process gone), removed before this operation ran
    leftovers_removed: list[str] = Field(default_factory=list)
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime = Field(default_factory=utcnow)


class Check(BaseModel):
    """One pass/fail line of a verification."""

    name: str
    passed: bool
    detail: str = ""
    inconclusive: bool = False  # could not be made (passed is then False, but nothing failed either)


class AppState(BaseModel):
    """``running=None`` means the controller cannot tell; callers treat that as "maybe running"."""

    running: bool | None
    detail: str
    pid: int | None = None


class DbHolder(BaseModel):
    """A process that has the DB (or its journal/WAL) open."""

    pid: int
    cmdline: str
    files: list[str]  # file names it holds: main.db, main.db-journal, main.db-wal, main.db-shm
    uid: int | None = None

    def describe(self) -> str:
        return f"pid {self.pid} ({self.cmdline or '?'}) holds {', '.join(self.files)}"


class StoppedProof(BaseModel):
    """How a destructive operation knew the app was stopped (kept in its result and the audit log)."""

    method: ProofMethod
    detail: str
    controller: str
    controller_detail: str
    api_detail: str
    open_files: str
    processes_checked: int = 0
    asserted_by: str | None = None


class MarkerInfo(BaseModel):
    state: MarkerState
    id: int | None = None
    completed: bool | None = None
    created_at: datetime | None = None
    created_at_text: str | None = None
    updated_at_text: str | None = None
    deleted_at_text: str | None = None


class Counts(BaseModel):
    """Live (``deleted_at IS NULL``, what GORM counts) and raw (``COUNT(*)``) row counts; None = no table."""

    images_live: int | None = None
    images_raw: int | None = None
    docs_live: int | None = None
    docs_raw: int | None = None
    media_live: int | None = None
    media_raw: int | None = None
    media_live_by_type: dict[str, int] = Field(default_factory=dict)
    media_raw_by_type: dict[str, int] = Field(default_factory=dict)

    def legacy(self) -> tuple[int | None, int | None, int | None, int | None]:
        return (self.images_live, self.images_raw, self.docs_live, self.docs_raw)

    def without_media(self) -> Counts:
        """These counts once the media table is gone (a rollback writes neither images nor docs)."""
        return Counts(
            images_live=self.images_live, images_raw=self.images_raw, docs_live=self.docs_live, docs_raw=self.docs_raw
        )


class IndexInfo(BaseModel):
    name: str
    table: str
    unique: bool
    columns: list[str]


class Baseline(BaseModel):
    images_live: int
    images_raw: int
    docs_live: int
    docs_raw: int
    source: str  # "rollback" | "restore" | "backup:<name>"
    backup: str | None = None  # the backup taken/restored alongside
    recorded_at: datetime = Field(default_factory=utcnow)


class MissingFile(BaseModel):
    table: str  # images | docs
    id: int
    file_name: str
    expected_path: str  # relative to the deployment, e.g. uploads/images/cat.png
    copy_in_media: bool  # uploads/media/<file_name> exists


class RestoreFilesResult(OpResult):
    operation: str = "restore_files"
    copied: list[str] = Field(default_factory=list)  # relative destination paths
    still_missing: list[MissingFile] = Field(default_factory=list)
    checked_rows_missing: int = 0


class LostRow(BaseModel):
    """A media row whose data no live images/docs row carries (gone once media is dropped)."""

    id: int
    file_name: str
    type: str
    created_at: datetime | None = None
    created_at_text: str | None = None
    after_migration: bool | None = None  # created after the marker's created_at
    reason: str
    file_on_disk: bool
    file_locations: list[str] = Field(default_factory=list)  # of media, images, docs


class RollbackResult(OpResult):
    operation: str = "rollback"
    marker_mode: MarkerMode
    action: RollbackAction
    era_before: SchemaEra | None = None
    era_after: SchemaEra | None = None
    backup: str | None = None
    backup_sha256: str | None = None
    baseline_path: str | None = None
    lost_rows: list[LostRow] = Field(default_factory=list)
    deletes_undone: list[LostRow] = Field(default_factory=list)  # soft-deleted media rows whose legacy row revives
    missing_files: list[MissingFile] = Field(default_factory=list)
    counts_before: Counts = Field(default_factory=Counts)
    counts_after: Counts = Field(default_factory=Counts)
    marker_before: MarkerInfo | None = None
    marker_after: MarkerInfo | None = None
    dropped: list[str] = Field(default_factory=list)  # indexes then the table
    sequence_row_removed: bool = False
    removed_journal: str | None = None  # a stale (empty or zero first byte) main.db-journal removed first
    stopped_proof: StoppedProof | None = None  # how the app was known to be stopped


class Leftover(BaseModel):
    """A temp file or folder the agent recognises as its own (ops.leftovers)."""

    path: str
    kind: Literal["file", "folder"]
    size: int
    writer_pid: int | None = None  # None: an older agent version's name (no pid in it)
    stale: bool  # the writer is gone (or, for old names, untouched for an hour)
    removed: bool = False
    error: str | None = None  # why a stale one could not be removed


class DbHealth(BaseModel):
    """What the live main.db is, judged without writing it (a hot journal is replayed on a scratch copy)."""

    state: DbState
    detail: str
    size: int | None = None
    journal: JournalState = "none"
    journal_files: list[str] = Field(default_factory=list)  # -journal / -wal / -shm present

    @property
    def broken(self) -> bool:
        return self.state != "ok"


class QuarantineRecord(BaseModel):
    """Where a broken main.db (and its journal/WAL) went; recorded in quarantine.json beside them."""

    folder: str
    reason: str  # a DbState, or why the copies were taken
    detail: str
    files: list[str]  # names inside the folder, as they were next to the live DB
    sizes: dict[str, int] = Field(default_factory=dict)
    operation: str
    moved_at: datetime


class RowCheck(BaseModel):
    """Live images+docs of a backup against the DB it replaces (ops.restore_gate)."""

    backup_live: int
    current_live: int | None = None  # None: the current DB is missing or unreadable
    far_fewer: bool = False
    override_reason: str | None = None  # given by the operator to restore anyway
    detail: str


class StatusResult(OpResult):
    operation: str = "status"
    app_running: bool | None
    app_detail: str
    db_holders: list[DbHolder] = Field(default_factory=list)  # processes with main.db/journal/WAL open
    db_path: str
    db_exists: bool
    db_size: int | None = None
    journal_files: list[str] = Field(default_factory=list)
    tables: list[str] = Field(default_factory=list)
    indexes: list[IndexInfo] = Field(default_factory=list)
    schema_era: SchemaEra | None = None
    media_schema: str | None = None
    migration_records_present: bool = False
    marker: MarkerInfo | None = None
    counts: Counts = Field(default_factory=Counts)
    error: str | None = None
    db_state: DbState | None = None  # ok / missing / zero-bytes / unreadable / not-sqlite / corrupt
    db_detail: str | None = None
    journal_state: JournalState = "none"  # none / stale / hot / wal
    hot_journal: bool = False  # a hot journal or WAL: recover_journal replays it (app stopped)
    leftovers: list[Leftover] = Field(default_factory=list)  # agent temp files found (stale ones removed)
    next_step: str | None = None  # what an operator should run next, when something is wrong


class SqliteCommand(BaseModel):
    """One of the checklist's ``sqlite3`` lines and what it prints on this DB."""

    command: str
    output: str


class VerifyResult(OpResult):
    operation: str = "verify"
    checks: list[Check] = Field(default_factory=list)
    failed_checks: list[str] = Field(default_factory=list)
    inconclusive_checks: list[str] = Field(default_factory=list)
    baseline: Baseline | None = None
    # "baseline.json", "backup:<name>" (asked for) or "newest-pre-migration:<name>" (found in backups/)
    baseline_source: str | None = None
    counts: Counts = Field(default_factory=Counts)
    missing_files: list[MissingFile] = Field(default_factory=list)
    # option 3's "Verify database state": the checklist's three sqlite3 commands and their output
    sqlite3: list[SqliteCommand] = Field(default_factory=list)


class BackupInfo(BaseModel):
    name: str
    kind: Literal["agent", "go-fast-cdn", "other"]
    label: str | None = None
    time: datetime | None = None
    size: int
    sha256: str
    valid: bool
    integrity: str
    era: SchemaEra | None = None
    marker_state: str | None = None
    migration_records_present: bool | None = None
    # taken before the migration: no migration_records table, no (non-empty) media, not named later than
    # the current marker's created_at, and not one of the agent's own pre-rollback/pre-restore copies
    pre_migration: bool = False
    newest_pre_migration: bool = False  # the newest pre_migration one: the default for a restore
    # no live marker and no non-empty media (pre-migration OR rolled back): restoring it drops media,
    # but a rolled-back DB is not the pre-migration state (see pre_migration_note)
    restorable_without_media: bool = False
    pre_migration_note: str | None = None  # why a restorable_without_media backup is not pre_migration
    sidecar_sha256: str | None = None
    images_live: int | None = None
    docs_live: int | None = None


class BackupListResult(OpResult):
    operation: str = "backups_list"
    backups_dir: str
    backups: list[BackupInfo] = Field(default_factory=list)
    newest_pre_migration: str | None = None
    current_marker_created_at: datetime | None = None  # the live DB's marker (live or soft-deleted), if any


class BackupCreateResult(OpResult):
    operation: str = "backups_create"
    name: str
    path: str
    sha256: str
    size: int
    integrity: str
    sidecar: str
    source_counts: Counts
    source_marker: MarkerInfo | None = None
    source_era: SchemaEra | None = None


class RestoreResult(OpResult):
    operation: str = "restore"
    backup: str
    backup_sha256: str
    expected_sha256: str | None = None  # the pinned hash the backup was checked against (lowercase)
    backup_integrity: str
    pre_restore_backup: str | None = None
    pre_restore_sha256: str | None = None
    restored_sha256: str
    integrity_after: str
    counts_before: Counts
    counts_after: Counts
    era_before: SchemaEra | None = None
    era_after: SchemaEra | None = None
    marker_after: MarkerInfo | None = None
    removed_journal: str | None = None
    baseline_path: str | None = None
    db_state_before: DbState = "ok"
    quarantine: QuarantineRecord | None = None  # where a broken main.db (and its journal) was moved
    row_check: RowCheck | None = None  # live images+docs of the backup vs the DB it replaced
    stopped_proof: StoppedProof | None = None  # how the app was known to be stopped


class FileFacts(BaseModel):
    name: str
    size: int
    sha256: str


class DbFiles(BaseModel):
    """The live files at one moment: main.db and whatever lies beside it."""

    files: list[FileFacts] = Field(default_factory=list)
    journal_state: JournalState


class RecoverJournalResult(OpResult):
    operation: str = "recover_journal"
    before: DbFiles
    after: DbFiles
    copied_to: str | None = None  # the untouched copies of main.db + journal, made first
    removed_stale_journal: bool = False
    integrity_after: str | None = None
    era_after: SchemaEra | None = None
    marker_after: MarkerInfo | None = None
    counts_after: Counts = Field(default_factory=Counts)
    stopped_proof: StoppedProof | None = None  # how the app was known to be stopped


class ReplaceDbResult(RestoreResult):
    """Option 3's "Replace database file": a restore whose source may come from an allowed folder."""

    operation: str = "replace_db"
    source_path: str  # what the operator named
    imported_as: str | None = None  # the name of its copy in backups/ (None: it was already there)


class AppControlResult(OpResult):
    action: Literal["stop", "start"]
    controller: str
    before: AppState
    after: AppState
    elapsed_s: float = 0.0
    api_answered: bool | None = None  # start only: did GET /api/ answer "pong" afterwards


class CheckApiResult(OpResult):
    api_url: str
    checks: list[Check] = Field(default_factory=list)
    serves_media: bool | None = None  # /api/cdn/media/all answers: a migration-era binary runs
    uploads_will_fail: bool | None = None  # a migration-era binary over a DB without media


class LogsResult(OpResult):
    controller: str
    source: str
    requested: int
    lines: list[str] = Field(default_factory=list)


class DryRunResult(OpResult):
    operation: str = "dry_run"
    target_operation: Literal["rollback", "restore"]
    backup: str | None = None
    backup_sha256: str | None = None  # restore: the backup's SHA-256 (checked against expected_sha256 if given)
    expected_sha256: str | None = None
    marker_mode: MarkerMode = "hard"
    would_refuse: list[str] = Field(default_factory=list)  # why the real operation would be refused now
    action: str | None = None
    dropped: list[str] = Field(default_factory=list)  # tables/indexes that would disappear
    added: list[str] = Field(default_factory=list)  # tables/indexes that would appear (restore)
    marker_before: MarkerInfo | None = None
    marker_after: MarkerInfo | None = None
    lost_rows: list[LostRow] = Field(default_factory=list)
    deletes_undone: list[LostRow] = Field(default_factory=list)
    missing_files: list[MissingFile] = Field(default_factory=list)
    counts_before: Counts = Field(default_factory=Counts)
    counts_after: Counts = Field(default_factory=Counts)
    era_before: SchemaEra | None = None
    era_after: SchemaEra | None = None
    live_db_sha256: str
    live_db_unchanged: bool


class ProgressLine(BaseModel):
    at: datetime
    message: str


class JobError(BaseModel):
    kind: str
    code: str
    message: str


class JobView(BaseModel):
    """The wire shape of a job (``GET /v1/jobs/{id}``), also what ``ops.client`` returns."""

    job_id: str
    request_id: str
    operation: str
    args: dict[str, Any]
    caller: str
    state: JobState
    outcome: JobOutcome | None = None
    progress: list[ProgressLine] = []
    result: dict[str, Any] | None = None
    error: JobError | None = None
    created_at: datetime
    finished_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.state == "finished"
