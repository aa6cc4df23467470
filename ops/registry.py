"""The allowlist of operations the agent and the CLI may run, with their argument models.

Only names registered here run. ``Registry.prepare`` turns an untrusted ``(name, args)`` pair into a
validated call or raises ``OpInputError`` (nothing run). The real operations are imported lazily, so
that the registry (and the agent) load even while an operation module is broken or absent; such an
operation then fails as an ``error`` job, not as a crash of the agent.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ops.errors import OpInputError
from ops.host import Host
from ops.results import OpResult

Progress = Callable[[str], None]
OpFunc = Callable[[Host, Any, Progress], OpResult]

BACKUP_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$"
SHA256_HEX = r"^[0-9a-fA-F]{64}$"


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


class RestoreArgs(Args):
    backup: str = Field(pattern=BACKUP_NAME)
    expected_sha256: str | None = Field(None, pattern=SHA256_HEX)  # pin: refuse a backup with another hash
    app_stopped_by: AssertedBy = None


class ReplaceDbArgs(Args):
    source: str = Field(min_length=1, max_length=1000)  # a backup name, or an absolute path in a source dir
    expected_sha256: str | None = Field(None, pattern=SHA256_HEX)
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


@dataclass(frozen=True)
class OpSpec:
    """``destructive``: changes the app or its data (the CLI asks for confirmation).
    ``exclusive``: must not overlap another exclusive operation (it writes, or needs a still world).
    ``long``: may take a while and reports progress (callers poll)."""

    name: str
    args_model: type[Args]
    func: OpFunc
    destructive: bool
    long: bool
    description: str
    exclusive: bool = False

    def __post_init__(self) -> None:
        if self.destructive and not self.exclusive:
            object.__setattr__(self, "exclusive", True)


@dataclass(frozen=True)
class PreparedCall:
    spec: OpSpec
    args: Args

    def run(self, host: Host, progress: Progress) -> OpResult:
        result = self.spec.func(host, self.args, progress)
        if not isinstance(result, OpResult):
            raise TypeError(f"operation {self.spec.name} returned {type(result).__name__}, not an OpResult")
        return result


def summarise_validation(exc: ValidationError) -> str:
    """One line per problem, e.g. ``backup: field required; lines: must be <= 5000``."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"]) or "args"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


class Registry:
    def __init__(self, specs: Iterable[OpSpec] = ()) -> None:
        self._specs: dict[str, OpSpec] = {}
        for spec in specs:
            self.register(spec)

    def register(self, spec: OpSpec) -> None:
        if spec.name in self._specs:
            raise ValueError(f"operation {spec.name} registered twice")
        self._specs[spec.name] = spec

    def names(self) -> list[str]:
        return sorted(self._specs)

    def get(self, name: str) -> OpSpec:
        spec = self._specs.get(name) if isinstance(name, str) else None
        if spec is None:
            raise OpInputError("unknown_operation", f"unknown operation {name!r}; known: {', '.join(self.names())}")
        return spec

    def prepare(self, name: str, args: object) -> PreparedCall:
        spec = self.get(name)
        if args is None:
            args = {}
        if not isinstance(args, dict):
            raise OpInputError("invalid_args", f"{name}: args must be a JSON object")
        try:
            parsed = spec.args_model.model_validate(args)
        except ValidationError as exc:
            raise OpInputError("invalid_args", f"{name}: {summarise_validation(exc)}") from None
        return PreparedCall(spec, parsed)


# --- adapters from the uniform (host, args, progress) call to each operation's signature ---------


def _fn(module: str, attr: str) -> Callable[..., OpResult]:
    func: Callable[..., OpResult] = getattr(importlib.import_module(module), attr)
    return func


def _status(host: Host, args: NoArgs, progress: Progress) -> OpResult:
    return _fn("ops.status", "status")(host)


def _stop_app(host: Host, args: AppControlArgs, progress: Progress) -> OpResult:
    return _fn("ops.app_ops", "stop_app")(host, timeout_s=args.timeout_s)


def _start_app(host: Host, args: AppControlArgs, progress: Progress) -> OpResult:
    return _fn("ops.app_ops", "start_app")(host, timeout_s=args.timeout_s)


def _rollback(host: Host, args: RollbackArgs, progress: Progress) -> OpResult:
    return _fn("ops.rollback", "rollback")(
        host, marker_mode=args.marker_mode, app_stopped_by=args.app_stopped_by, progress=progress
    )


def _verify(host: Host, args: VerifyArgs, progress: Progress) -> OpResult:
    return _fn("ops.verify", "verify")(host, baseline_backup=args.baseline_backup)


def _backups_list(host: Host, args: NoArgs, progress: Progress) -> OpResult:
    return _fn("ops.backups", "list_backups")(host)


def _backups_create(host: Host, args: BackupCreateArgs, progress: Progress) -> OpResult:
    return _fn("ops.backups", "create_backup")(host, label=args.label, progress=progress)


def _restore(host: Host, args: RestoreArgs, progress: Progress) -> OpResult:
    return _fn("ops.backups", "restore_backup")(
        host, args.backup, expected_sha256=args.expected_sha256, app_stopped_by=args.app_stopped_by, progress=progress
    )


def _replace_db(host: Host, args: ReplaceDbArgs, progress: Progress) -> OpResult:
    return _fn("ops.replace_db", "replace_db")(
        host, args.source, expected_sha256=args.expected_sha256, app_stopped_by=args.app_stopped_by, progress=progress
    )


def _restore_files(host: Host, args: NoArgs, progress: Progress) -> OpResult:
    return _fn("ops.files", "restore_files")(host)


def _check_api(host: Host, args: CheckApiArgs, progress: Progress) -> OpResult:
    return _fn("ops.app_ops", "check_api")(host, timeout_s=args.timeout_s)


def _tail_logs(host: Host, args: TailLogsArgs, progress: Progress) -> OpResult:
    return _fn("ops.app_ops", "tail_logs")(host, lines=args.lines)


def _dry_run(host: Host, args: DryRunArgs, progress: Progress) -> OpResult:
    return _fn("ops.dry_run", "dry_run")(
        host,
        args.operation,
        backup=args.backup,
        marker_mode=args.marker_mode,
        expected_sha256=args.expected_sha256,
    )


def default_specs() -> list[OpSpec]:
    return [
        OpSpec("status", NoArgs, _status, False, False, "DB, files, app and backups at a glance"),
        OpSpec("stop_app", AppControlArgs, _stop_app, True, True, "stop go-fast-cdn"),
        OpSpec("start_app", AppControlArgs, _start_app, True, True, "start go-fast-cdn"),
        OpSpec("rollback", RollbackArgs, _rollback, True, True, "roll the media migration back"),
        OpSpec("verify", VerifyArgs, _verify, False, True, "post-rollback checks against the baseline"),
        OpSpec("backups_list", NoArgs, _backups_list, False, False, "list DB backups"),
        OpSpec(
            "backups_create",
            BackupCreateArgs,
            _backups_create,
            False,
            True,
            "back up main.db",
            exclusive=True,
        ),
        OpSpec("restore", RestoreArgs, _restore, True, True, "restore main.db from a backup"),
        OpSpec(
            "replace_db",
            ReplaceDbArgs,
            _replace_db,
            True,
            True,
            "option 3: replace main.db with a backup or an allowed file (restore's safety)",
        ),
        OpSpec(
            "restore_files",
            NoArgs,
            _restore_files,
            False,
            True,
            "copy missing images/docs back from uploads/media",
            exclusive=True,
        ),
        OpSpec("check_api", CheckApiArgs, _check_api, False, False, "probe the go-fast-cdn HTTP API"),
        OpSpec("tail_logs", TailLogsArgs, _tail_logs, False, False, "last lines of the app's log"),
        OpSpec("dry_run", DryRunArgs, _dry_run, False, True, "rehearse rollback/restore on a copy"),
    ]


def default_registry() -> Registry:
    return Registry(default_specs())
