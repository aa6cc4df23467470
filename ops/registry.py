"""The allowlist of operations the agent and the CLI may run: each contract entry bound to its code.

The names, argument models and flags come from :mod:`ops.contract`; this module only adds the
implementation (:data:`IMPLEMENTATIONS`, one adapter per operation). Only names registered here
run. ``Registry.prepare`` turns an untrusted ``(name, args)`` pair into a validated call or raises
``OpInputError`` (nothing run). The real operations are imported lazily, so that the registry (and
the agent) load even while an operation module is broken or absent; such an operation then fails
as an ``error`` job, not as a crash of the agent.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ops.contract import (
    OPERATIONS,
    AppControlArgs,
    Args,
    BackupCreateArgs,
    CheckApiArgs,
    DryRunArgs,
    NoArgs,
    OperationContract,
    RecoverJournalArgs,
    ReplaceDbArgs,
    RestoreArgs,
    RollbackArgs,
    TailLogsArgs,
    VerifyArgs,
)
from ops.errors import OpInputError
from ops.host import Host
from ops.models import OpResult

Progress = Callable[[str], None]
OpFunc = Callable[[Host, Any, Progress], OpResult]


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

    @classmethod
    def bind(cls, op: OperationContract, func: OpFunc) -> OpSpec:
        return cls(op.name, op.args, func, op.destructive, op.long, op.description, op.exclusive)


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
        host,
        args.backup,
        expected_sha256=args.expected_sha256,
        accept_fewer_rows=args.accept_fewer_rows,
        app_stopped_by=args.app_stopped_by,
        progress=progress,
    )


def _replace_db(host: Host, args: ReplaceDbArgs, progress: Progress) -> OpResult:
    return _fn("ops.replace_db", "replace_db")(
        host,
        args.source,
        expected_sha256=args.expected_sha256,
        accept_fewer_rows=args.accept_fewer_rows,
        app_stopped_by=args.app_stopped_by,
        progress=progress,
    )


def _recover_journal(host: Host, args: RecoverJournalArgs, progress: Progress) -> OpResult:
    return _fn("ops.journal", "recover_journal")(host, app_stopped_by=args.app_stopped_by, progress=progress)


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
        accept_fewer_rows=args.accept_fewer_rows,
    )


# One adapter per contract entry; ``default_specs`` refuses to build when one is missing.
IMPLEMENTATIONS: dict[str, OpFunc] = {
    "status": _status,
    "stop_app": _stop_app,
    "start_app": _start_app,
    "rollback": _rollback,
    "verify": _verify,
    "backups_list": _backups_list,
    "backups_create": _backups_create,
    "restore": _restore,
    "replace_db": _replace_db,
    "restore_files": _restore_files,
    "check_api": _check_api,
    "tail_logs": _tail_logs,
    "dry_run": _dry_run,
    "recover_journal": _recover_journal,
}


def default_specs() -> list[OpSpec]:
    """Every contract entry with its implementation, in contract order."""
    missing = sorted(set(OPERATIONS) - set(IMPLEMENTATIONS))
    extra = sorted(set(IMPLEMENTATIONS) - set(OPERATIONS))
    if missing or extra:
        raise RuntimeError(f"ops/registry.py out of step with ops/contract.py: missing {missing}, unknown {extra}")
    return [OpSpec.bind(op, IMPLEMENTATIONS[name]) for name, op in OPERATIONS.items()]


def default_registry() -> Registry:
    return Registry(default_specs())
