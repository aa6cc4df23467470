"""What the host agent returns: every operation's result model, and the job view of the HTTP API.

The one place both sides of the bot/agent seam read these shapes from. It imports nothing but
pydantic, so the bot and its Slack edge can validate and render results without loading the
agent's implementation (SQLite surgery, app controllers, the job store).

``outcome`` is what the bot turns into a step state: ``ok`` (done), ``failed`` (a check or an
action failed; details in the result), ``noop`` (nothing to do: its own outcome, never shown as
success). Refusals and bad input are exceptions on the agent (ops.errors) and job outcomes on the
wire (``refused``, ``invalid``), never results.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

Outcome = Literal["ok", "failed", "noop"]
# Every outcome a job of the agent API can finish with (``JobView.outcome``).
JobOutcome = Literal["ok", "failed", "noop", "refused", "invalid", "error"]
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


def utcnow() -> datetime:
    """The default clock (UTC, timezone-aware) of the agent and the bot."""
    return datetime.now(UTC)


# --- common -----------------------------------------------------------------------------------------
class OpResult(BaseModel):
    operation: str
    outcome: Outcome
    summary: str
    warnings: list[str] = Field(default_factory=list)
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime = Field(default_factory=utcnow)


class Check(BaseModel):
    """One pass/fail line of a verification."""

    name: str
    passed: bool
    detail: str = ""


class AppState(BaseModel):
    """``running=None`` means the controller cannot tell; callers treat that as "maybe running"."""

    running: bool | None
    detail: str
    pid: int | None = None


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
    removed_journal: str | None = None  # a stale (empty/zeroed-header) main.db-journal removed first


class StatusResult(OpResult):
    operation: str = "status"
    app_running: bool | None
    app_detail: str
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


class VerifyResult(OpResult):
    operation: str = "verify"
    checks: list[Check] = Field(default_factory=list)
    failed_checks: list[str] = Field(default_factory=list)
    baseline: Baseline | None = None
    baseline_source: str | None = None  # "baseline.json" or "backup:<name>"
    counts: Counts = Field(default_factory=Counts)
    missing_files: list[MissingFile] = Field(default_factory=list)


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
