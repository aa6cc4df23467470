"""The agent's operations, one entry each: the single definition everything else is derived from.

An entry names the operation, its argument model, its result model, whether it changes the host
(``destructive``: the CLI asks first, the runbook needs a ``confirm`` sentence, the agent runs it
alone), whether it must not overlap another writer (``exclusive``), whether it takes long enough to
report progress (``long``), and one line saying what it does.

Derived from :data:`OPERATIONS`: the agent's registry (``ops/registry.py`` binds each name to its
implementation), the agent CLI (``ops/cli.py`` has one command per name), the bot's runbook
validation (``bot/runbook``), and the Slack presenters (``PRESENTERS`` in ``handlers/results/presenters.py``).
``tests/unit/ops/test_contract.py`` fails when any of them misses an operation.

This module imports only pydantic and :mod:`ops.models`, so the bot can read it without loading the
agent. To add an operation: an args model here (if it takes arguments), a result model in
``ops/models.py``, an entry in :data:`OPERATIONS`, then the implementation, CLI command and presenter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ops.models import (
    AppControlResult,
    BackupCreateResult,
    BackupListResult,
    CheckApiResult,
    DryRunResult,
    LogsResult,
    OpResult,
    RecoverJournalResult,
    ReplaceDbResult,
    RestoreFilesResult,
    RestoreResult,
    RollbackResult,
    StatusResult,
    VerifyResult,
)

BACKUP_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$"
SHA256_HEX = r"^[0-9a-fA-F]{64}$"


# --- argument models -------------------------------------------------------------------------------
class Args(BaseModel):
    """Base for argument models: unknown keys are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoArgs(Args):
    pass


class AppControlArgs(Args):
    timeout_s: float = Field(30.0, gt=0, le=600)


# Who asserted, where nothing can prove it, that go-fast-cdn is stopped (CLI --app-stopped, Slack
# confirm); recorded in the result and the audit log, never stronger than evidence of running.
AssertedBy = Annotated[str | None, Field(min_length=1, max_length=200)]


class RollbackArgs(Args):
    marker_mode: Literal["hard", "soft"] = "hard"
    app_stopped_by: AssertedBy = None


class VerifyArgs(Args):
    baseline_backup: str | None = Field(None, pattern=BACKUP_NAME)


class BackupCreateArgs(Args):
    label: str = Field("manual", pattern=r"^[A-Za-z0-9_-]{1,40}$")


# the reason an operator gives to restore a backup with far fewer live images/docs than main.db (recorded)
OverrideReason = Annotated[str | None, Field(min_length=3, max_length=300)]


class RestoreArgs(Args):
    backup: str = Field(pattern=BACKUP_NAME)
    expected_sha256: str | None = Field(None, pattern=SHA256_HEX)  # pin: refuse a backup with another hash
    accept_fewer_rows: OverrideReason = None
    app_stopped_by: AssertedBy = None


class ReplaceDbArgs(Args):
    source: str = Field(min_length=1, max_length=1000)  # a backup name, or an absolute path in a source dir
    expected_sha256: str | None = Field(None, pattern=SHA256_HEX)
    accept_fewer_rows: OverrideReason = None
    app_stopped_by: AssertedBy = None


class RecoverJournalArgs(Args):
    app_stopped_by: AssertedBy = None


class CheckApiArgs(Args):
    timeout_s: float = Field(5.0, gt=0, le=60)


class TailLogsArgs(Args):
    lines: int = Field(100, ge=1, le=5000)


class DryRunArgs(Args):
    operation: Literal["rollback", "restore"]
    backup: str | None = Field(None, pattern=BACKUP_NAME)
    marker_mode: Literal["hard", "soft"] = "hard"
    expected_sha256: str | None = Field(None, pattern=SHA256_HEX)  # restore only
    accept_fewer_rows: OverrideReason = None  # restore only


# --- the contract ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class OperationContract:
    """One agent operation as both sides of the seam see it. A destructive one is always exclusive."""

    name: str
    args: type[Args]
    result: type[OpResult]
    destructive: bool
    long: bool
    description: str
    exclusive: bool = False

    def __post_init__(self) -> None:
        if self.destructive and not self.exclusive:
            object.__setattr__(self, "exclusive", True)


_ENTRIES = (
    OperationContract("status", NoArgs, StatusResult, False, False, "DB, files, app and backups at a glance"),
    OperationContract("stop_app", AppControlArgs, AppControlResult, True, True, "stop go-fast-cdn"),
    OperationContract("start_app", AppControlArgs, AppControlResult, True, True, "start go-fast-cdn"),
    OperationContract("rollback", RollbackArgs, RollbackResult, True, True, "roll the media migration back"),
    OperationContract("verify", VerifyArgs, VerifyResult, False, True, "post-rollback checks against the baseline"),
    OperationContract("backups_list", NoArgs, BackupListResult, False, False, "list DB backups"),
    OperationContract(
        "backups_create", BackupCreateArgs, BackupCreateResult, False, True, "back up main.db", exclusive=True
    ),
    OperationContract("restore", RestoreArgs, RestoreResult, True, True, "restore main.db from a backup"),
    OperationContract(
        "replace_db",
        ReplaceDbArgs,
        ReplaceDbResult,
        True,
        True,
        "option 3: replace main.db with a backup or a file from an allowed folder (restore's safety)",
    ),
    OperationContract(
        "restore_files",
        NoArgs,
        RestoreFilesResult,
        False,
        True,
        "copy missing images/docs back from uploads/media",
        exclusive=True,
    ),
    OperationContract("check_api", CheckApiArgs, CheckApiResult, False, False, "probe the go-fast-cdn HTTP API"),
    OperationContract("tail_logs", TailLogsArgs, LogsResult, False, False, "last lines of the app's log"),
    OperationContract("dry_run", DryRunArgs, DryRunResult, False, True, "rehearse rollback/restore on a copy"),
    OperationContract(
        "recover_journal",
        RecoverJournalArgs,
        RecoverJournalResult,
        True,
        True,
        "let SQLite replay a hot journal into main.db (copies kept first)",
    ),
)

OPERATIONS: dict[str, OperationContract] = {op.name: op for op in _ENTRIES}
if len(OPERATIONS) != len(_ENTRIES):  # pragma: no cover - a typo in the table above
    raise RuntimeError("an operation is declared twice in ops/contract.py")

DESTRUCTIVE: frozenset[str] = frozenset(name for name, op in OPERATIONS.items() if op.destructive)

# The named checks an operation's result carries (``result.checks[].name``), so a runbook step can
# declare which of them satisfy it (``satisfied_by: [verify:media_absent]``) and be validated at load.
RESULT_CHECKS: dict[str, tuple[str, ...]] = {
    "verify": (
        "media_absent",
        "media_indexes_absent",
        "kept_tables_present",
        "no_live_marker",
        "counts_match_baseline",
        "legacy_files_present",
    ),
    "check_api": (
        "db_read",
        "ping",
        "pre_migration_binary",
        "image_listing",
        "images_download",
        "doc_listing",
        "docs_download",
    ),
}


def operation(name: str) -> OperationContract:
    """The contract entry for ``name``; KeyError names the known operations."""
    try:
        return OPERATIONS[name]
    except KeyError:
        raise KeyError(f"unknown agent operation {name!r}; known: {', '.join(OPERATIONS)}") from None
