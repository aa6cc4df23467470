"""``rollback-agent``: run an operation on this host directly, or ``serve`` the agent API.

Local commands call the same registry functions as the agent, under the same per-deployment lock,
and append to the same audit log, so an operator on the host and the bot see one history.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import shlex
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from ops.agent.audit import AuditLog
from ops.agent.config import AgentSettings, ConfigError, build_host
from ops.agent.jobs import JobError, is_busy, run_call, stopped_note
from ops.contract import OPERATIONS
from ops.errors import OpError, OpInputError
from ops.registry import Registry, default_registry, summarise_validation

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3
EXIT_INCONCLUSIVE = 4
EXIT_BY_OUTCOME = {"ok": 0, "noop": 0, "failed": 1, "error": 1, "invalid": 2, "refused": 3, "inconclusive": 4}

EPILOG = """\
exit codes:
  0  done (outcome ok) -- also "noop": nothing needed doing; the output then starts with NOTHING TO DO
  1  failed: the operation ran and a check or action failed, or it crashed (see the message)
  2  usage: bad arguments, bad input (e.g. unknown backup), bad configuration, or no confirmation
  3  refused as unsafe right now (e.g. the app is running); nothing was changed
  4  inconclusive: nothing failed, but a check could not be made (verify without any baseline)
  (answering anything but "yes" at a confirmation prompt exits 1 with CANCELLED; nothing was changed)

rollback, restore and replace-db (and stop-app/start-app) ask for confirmation on a terminal; pass --yes
in scripts. They refuse unless go-fast-cdn is proven stopped: by the controller, or by nobody holding
db_data/main.db (or its journal/WAL) open and the API not answering. Where open files cannot be read
(no /proc), --app-stopped asserts it in your name (recorded in the audit log); it never overrides a
process that holds the DB or an API that answers.
Settings may come from the environment: ROLLBACK_AGENT_DEPLOYMENT, ROLLBACK_AGENT_STATE_DIR,
ROLLBACK_AGENT_CONTROLLER (JSON, e.g. '{"kind":"systemd","unit":"go-fast-cdn"}'), ROLLBACK_AGENT_API_URL,
ROLLBACK_AGENT_HOST, ROLLBACK_AGENT_PORT, ROLLBACK_AGENT_SECRET (serve only), ROLLBACK_AGENT_SOURCE_DIRS
(JSON list of folders replace-db may copy from), ROLLBACK_AGENT_PROC_ROOT (where /proc is, default /proc).
"""

CONFIRM = {
    "rollback": "roll back the media migration (drops `media`; rows created after the migration are lost)",
    "restore": "overwrite main.db with backup {backup}",
    "recover_journal": "let SQLite replay the hot journal into main.db (copies of both are kept first)",
    "replace_db": "overwrite main.db with {source}",
    "stop_app": "stop go-fast-cdn",
    "start_app": "start go-fast-cdn",
}


class CliUsageError(Exception):
    pass


# --- parser -------------------------------------------------------------------------------------


def _common(destructive: bool = False) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("deployment")
    g.add_argument("--deployment", metavar="PATH", help="folder of the go-fast-cdn executable (holds db_data/)")
    g.add_argument("--state-dir", metavar="DIR", help="agent state (default <deployment>/.rollback-agent)")
    g.add_argument("--api-url", metavar="URL", help="go-fast-cdn base URL (default http://127.0.0.1:8080)")
    c = p.add_argument_group("app controller (how go-fast-cdn is run)")
    c.add_argument("--controller", choices=["systemd", "compose", "process", "none"])
    c.add_argument("--unit", help="systemd unit")
    c.add_argument("--use-sudo", action="store_true", default=None, help="systemd: run systemctl via sudo")
    c.add_argument("--project-dir", help="compose project folder")
    c.add_argument("--service", help="compose service")
    c.add_argument("--compose-file", help="compose file")
    c.add_argument("--app-command", metavar="CMD", help="process: command line that starts the app")
    c.add_argument("--pidfile", help="process: pid file")
    c.add_argument("--app-cwd", help="process: working directory")
    c.add_argument("--app-log", help="process: log file")
    g.add_argument(
        "--source-dir",
        action="append",
        metavar="DIR",
        help="a folder replace-db may copy a DB from, besides backups/ (repeatable)",
    )
    if destructive:
        p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    return p


def _soft_marker(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--soft-marker",
        action="store_true",
        help="soft-delete the migration marker instead of hard-deleting it (blocks re-migration)",
    )


def _marker(ns: argparse.Namespace) -> dict[str, Any]:
    return {"marker_mode": "soft"} if getattr(ns, "soft_marker", False) else {}


def _timeout(p: argparse.ArgumentParser) -> None:
    p.add_argument("--timeout", type=float, default=30.0)


def _verify_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--baseline", metavar="BACKUP", help="compare with this backup instead of baseline.json")


def _restore_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("backup", metavar="BACKUP", help="file name inside <deployment>/backups/")
    p.add_argument(
        "--sha256", metavar="HEX", help="refuse unless the backup's SHA-256 is this (as shown by `backups list`)"
    )
    _accept_fewer_rows(p)
    _app_stopped(p)


def _accept_fewer_rows(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--accept-fewer-rows",
        metavar="REASON",
        help="restore even though the backup has far fewer live images/docs than main.db (the reason is recorded)",
    )


def _accepted(ns: argparse.Namespace) -> dict[str, Any]:
    return {"accept_fewer_rows": ns.accept_fewer_rows} if ns.accept_fewer_rows is not None else {}


def _restore_call(ns: argparse.Namespace) -> dict[str, Any]:
    return {"backup": ns.backup, **_sha(ns), **_accepted(ns), **_asserted(ns)}


def _app_stopped(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--app-stopped",
        action="store_true",
        help="assert that go-fast-cdn is stopped where the agent cannot prove it (recorded in the audit log); "
        "never overrides a process holding the DB or an API that answers",
    )


def _asserted(ns: argparse.Namespace) -> dict[str, Any]:
    return {"app_stopped_by": operator_name()} if getattr(ns, "app_stopped", False) else {}


def _sha(ns: argparse.Namespace) -> dict[str, Any]:
    return {"expected_sha256": ns.sha256} if ns.sha256 else {}


def _rollback_args(p: argparse.ArgumentParser) -> None:
    _soft_marker(p)
    _app_stopped(p)


def _replace_db_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="SOURCE", help="a backup name in backups/, or an absolute path in a --source-dir")
    p.add_argument("--sha256", metavar="HEX", help="refuse unless the file's SHA-256 is this")
    _accept_fewer_rows(p)
    _app_stopped(p)


def _dry_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", choices=["rollback", "restore"])
    p.add_argument("backup", nargs="?", metavar="BACKUP")
    p.add_argument("--soft-marker", action="store_true")
    p.add_argument("--sha256", metavar="HEX", help="restore: refuse unless the backup's SHA-256 is this")
    _accept_fewer_rows(p)


def _dry_run_call(ns: argparse.Namespace) -> dict[str, Any]:
    args: dict[str, Any] = {"operation": ns.target, **_marker(ns)}
    if ns.backup:
        args["backup"] = ns.backup
    return {**args, **_sha(ns), **_accepted(ns)}


def _label(p: argparse.ArgumentParser) -> None:
    p.add_argument("--label", default="manual")


def _lines(p: argparse.ArgumentParser) -> None:
    p.add_argument("-n", "--lines", type=int, default=100)


def _nothing(p: argparse.ArgumentParser) -> None:
    return None


def _no_args(ns: argparse.Namespace) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class CliCommand:
    """How one contract operation is spelled on the command line: its words (``backups list``), its
    flags, and how the parsed flags become the operation's args. ``--yes`` comes from the contract."""

    words: tuple[str, ...]
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None] = _nothing
    to_args: Callable[[argparse.Namespace], dict[str, Any]] = _no_args


# One command per operation in ops/contract.py (tests/unit/ops/test_contract.py checks it).
COMMANDS: dict[str, CliCommand] = {
    "status": CliCommand(("status",), "DB schema era, marker, counts, app state"),
    "rollback": CliCommand(
        ("rollback",),
        "roll the media migration back (app must be stopped)",
        _rollback_args,
        lambda ns: {**_marker(ns), **_asserted(ns)},
    ),
    "verify": CliCommand(
        ("verify",),
        "post-rollback checks against the baseline",
        _verify_args,
        lambda ns: {"baseline_backup": ns.baseline} if ns.baseline else {},
    ),
    "backups_list": CliCommand(("backups", "list"), "list backups"),
    "backups_create": CliCommand(("backups", "create"), "back up main.db", _label, lambda ns: {"label": ns.label}),
    "restore": CliCommand(
        ("restore",),
        "restore main.db from a backup (app must be stopped)",
        _restore_args,
        _restore_call,
    ),
    "replace_db": CliCommand(
        ("replace-db",),
        "option 3: replace main.db with a backup, or a file from a --source-dir folder (restore's safety)",
        _replace_db_args,
        lambda ns: {"source": ns.source, **_sha(ns), **_accepted(ns), **_asserted(ns)},
    ),
    "recover_journal": CliCommand(
        ("recover-journal",),
        "replay a hot main.db-journal left by a crash (app must be stopped; copies kept)",
        _app_stopped,
        _asserted,
    ),
    "restore_files": CliCommand(("restore-files",), "copy missing images/docs files back from uploads/media"),
    "check_api": CliCommand(("check-api",), "probe go-fast-cdn's HTTP API"),
    "tail_logs": CliCommand(("logs",), "last lines of the app's log", _lines, lambda ns: {"lines": ns.lines}),
    "dry_run": CliCommand(
        ("dry-run",), "rehearse a rollback or restore on a copy of main.db", _dry_run_args, _dry_run_call
    ),
    "stop_app": CliCommand(("stop-app",), "stop go-fast-cdn", _timeout, lambda ns: {"timeout_s": ns.timeout}),
    "start_app": CliCommand(("start-app",), "start go-fast-cdn", _timeout, lambda ns: {"timeout_s": ns.timeout}),
}
# Command groups (the first of several words) and their help line.
GROUPS = {"backups": "list or create DB backups"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rollback-agent",
        description="Roll back go-fast-cdn's media migration on this host, or serve the agent API.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    plain, destr = [_common()], [_common(destructive=True)]
    groups: dict[str, argparse._SubParsersAction[argparse.ArgumentParser]] = {}

    def leaf(words: tuple[str, ...], help_: str, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
        if len(words) == 1:
            return sub.add_parser(
                words[0],
                help=help_,
                parents=parents,
                epilog=EPILOG,
                formatter_class=argparse.RawDescriptionHelpFormatter,
            )
        head, tail = words
        if head not in groups:
            group = sub.add_parser(
                head,
                help=GROUPS.get(head, head),
                parents=plain,
                epilog=EPILOG,
                formatter_class=argparse.RawDescriptionHelpFormatter,
            )
            names = "{" + ",".join(c.words[1] for c in COMMANDS.values() if c.words[0] == head) + "}"
            groups[head] = group.add_subparsers(dest=f"{head}_command", required=True, metavar=names)
        return groups[head].add_parser(tail, help=help_, parents=parents)

    if missing := sorted(set(OPERATIONS) - set(COMMANDS)):
        raise RuntimeError(f"operation(s) {missing} have no command in ops/cli.py COMMANDS")
    for name, command in COMMANDS.items():
        p = leaf(command.words, command.help, destr if OPERATIONS[name].destructive else plain)
        command.add_arguments(p)
        p.set_defaults(operation=name)

    s = sub.add_parser("serve", help="serve the agent HTTP API", parents=plain)
    s.add_argument("--host", help="bind address (default 127.0.0.1)")
    s.add_argument("--port", type=int, help="port (default 8787; 0 picks a free one and prints it)")
    s.add_argument("--secret-env", metavar="NAME", help="env variable holding the secret (ROLLBACK_AGENT_SECRET)")
    return parser


def operation_of(ns: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """Map a parsed command line to (operation name, args)."""
    name = getattr(ns, "operation", None)
    if name not in COMMANDS:
        raise CliUsageError(f"unknown command {ns.command}")
    return name, COMMANDS[name].to_args(ns)


def operator_name() -> str:
    """Who runs the CLI, for the audit log (the same form as a local run's caller)."""
    return f"cli:{getpass.getuser()}@{socket.gethostname()}"


def settings_from(ns: argparse.Namespace) -> AgentSettings:
    """Environment first, then flags on top."""
    overrides: dict[str, Any] = {}
    for flag, field in [
        ("deployment", "deployment"),
        ("state_dir", "state_dir"),
        ("api_url", "api_url"),
        ("host", "host"),
        ("port", "port"),
        ("secret_env", "secret_env"),
        ("source_dir", "source_dirs"),
    ]:
        value = getattr(ns, flag, None)
        if value is not None:
            overrides[field] = value
    controller = controller_from_flags(ns)
    if controller is not None:
        overrides["controller"] = controller
    try:
        return AgentSettings(**overrides)
    except ValidationError as exc:  # includes bad JSON in ROLLBACK_AGENT_CONTROLLER
        raise ConfigError(f"bad settings (flags or ROLLBACK_AGENT_*): {summarise_validation(exc)}") from None
    except ValueError as exc:  # pydantic-settings: an env value that is not valid JSON
        raise ConfigError(f"bad settings (ROLLBACK_AGENT_*): {' '.join(str(exc).split())[:300]}") from None


def controller_from_flags(ns: argparse.Namespace) -> dict[str, Any] | None:
    fields = {
        "unit": ns.unit,
        "use_sudo": ns.use_sudo,
        "project_dir": ns.project_dir,
        "service": ns.service,
        "compose_file": ns.compose_file,
        "pidfile": ns.pidfile,
        "cwd": ns.app_cwd,
        "log_file": ns.app_log,
        "command": shlex.split(ns.app_command) if ns.app_command else None,
    }
    given = {k: v for k, v in fields.items() if v is not None}
    if ns.controller is None:
        if given:
            raise CliUsageError("controller options need --controller systemd|compose|process|none")
        return None
    return {"kind": ns.controller, **given}


# --- output -------------------------------------------------------------------------------------

COMMON_FIELDS = {"operation", "outcome", "summary", "warnings", "started_at", "finished_at"}


def _render(value: Any, indent: int, out: list[str], limit: int = 40) -> None:
    pad = "  " * indent
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, dict | list) and v:
                out.append(f"{pad}{k}:")
                _render(v, indent + 1, out, limit)
            else:
                out.append(f"{pad}{k}: {_scalar(v)}")
    elif isinstance(value, list):
        for item in value[:limit]:
            if isinstance(item, dict):
                out.append(f"{pad}- " + ", ".join(f"{k}={_scalar(v)}" for k, v in item.items()))
            else:
                out.append(f"{pad}- {_scalar(item)}")
        if len(value) > limit:
            out.append(f"{pad}... {len(value) - limit} more (use --json for all)")


def _scalar(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, dict | list):
        return json.dumps(v, default=str) if v else "none"
    return str(v)


def human(operation: str, outcome: str, result: dict[str, Any] | None, error: JobError | None) -> str:
    lines: list[str] = []
    if error is not None:
        label = {"refused": "REFUSED", "invalid": "INVALID", "failed": "FAILED"}.get(outcome, "ERROR")
        lines.append(f"{label} {operation} ({error.code}): {error.message}")
        return "\n".join(lines)
    assert result is not None
    head = {"ok": "OK", "noop": "NOTHING TO DO", "failed": "FAILED", "inconclusive": "INCONCLUSIVE"}.get(
        outcome, outcome.upper()
    )
    lines.append(f"{head}: {operation}: {result.get('summary', '')}")
    details = {k: v for k, v in result.items() if k not in COMMON_FIELDS}
    _render(details, 1, lines)
    for w in result.get("warnings") or []:
        lines.append(f"WARNING: {w}")
    return "\n".join(lines)


# --- commands -----------------------------------------------------------------------------------


def confirm(operation: str, args: dict[str, Any], where: str, yes: bool, stdin: TextIO) -> bool:
    if yes:
        return True
    if not stdin.isatty():
        raise CliUsageError(f"{operation} changes the deployment: confirm with --yes (no terminal to ask on)")
    what = CONFIRM.get(operation, operation).format(**args)
    sys.stderr.write(f"This will {what} in {where}.\nType 'yes' to continue: ")
    sys.stderr.flush()
    return stdin.readline().strip().lower() == "yes"


def run_local(ns: argparse.Namespace, registry: Registry) -> int:
    operation, args = operation_of(ns)
    settings = settings_from(ns)
    host = build_host(settings)
    state_dir = settings.resolved_state_dir(host.deployment)
    caller = operator_name()
    try:
        call = registry.prepare(operation, args)  # OpInputError -> exit 2 before touching anything
    except OpInputError as exc:
        _audit(
            state_dir,
            "local_rejected",
            caller=caller,
            operation=operation,
            args=args,
            reason=exc.code,
            outcome="invalid",
            error=exc.to_dict(),
        )
        raise
    if call.spec.destructive and not confirm(
        operation, call.args.model_dump(), str(host.deployment.root), getattr(ns, "yes", False), sys.stdin
    ):
        print(f"CANCELLED: {operation} not run; nothing changed")
        return EXIT_FAILED

    def progress(line: str) -> None:
        print(f"  ... {line}", file=sys.stderr, flush=True)

    outcome, result, error, tb = run_call(call, host, progress, state_dir=state_dir)
    asserted = getattr(call.args, "app_stopped_by", None)
    if asserted:
        note = stopped_note(result)
        _audit(state_dir, "app_stopped_asserted", by=asserted, caller=caller, operation=operation, **note)
    _audit(
        state_dir,
        "local_busy" if is_busy(outcome, error) else "local_run",
        caller=caller,
        operation=operation,
        args=call.args.model_dump(mode="json"),
        outcome=outcome,
        summary=(result or {}).get("summary"),
        result=result,
        error=error.model_dump() if error else None,
        traceback=tb,
    )
    try:  # `rollback-agent status | head` must still exit with the operation's code
        if ns.json:
            payload = {
                "operation": operation,
                "args": call.args.model_dump(mode="json"),
                "outcome": outcome,
                "result": result,
                "error": error.model_dump() if error else None,
            }
            print(json.dumps(payload, indent=2, default=str))
        else:
            print(human(operation, outcome, result, error))
            if tb and os.environ.get("ROLLBACK_AGENT_DEBUG"):
                print(tb, file=sys.stderr)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return EXIT_BY_OUTCOME[outcome]


def _audit(state_dir: Path, event: str, **fields: Any) -> None:
    try:
        AuditLog(state_dir / "audit.jsonl").write(event, **fields)
    except OSError as exc:
        print(f"warning: could not write the audit log: {exc}", file=sys.stderr)


def run_serve(ns: argparse.Namespace, registry: Registry) -> int:
    from ops.agent.server import serve

    settings = settings_from(ns)
    secret = settings.secret()
    deployment = settings.locate()
    state_dir = settings.resolved_state_dir(deployment)
    build_host(settings)  # fail now, with a clear line, on a bad controller config
    try:
        serve(
            registry=registry,
            host_factory=lambda: build_host(settings),
            secret=secret,
            state_dir=state_dir,
            bind_host=settings.host,
            port=settings.port,
            max_body_bytes=settings.max_body_bytes,
        )
    except RuntimeError as exc:  # another agent on this state dir
        print(f"rollback-agent: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"rollback-agent: cannot listen on {settings.host}:{settings.port}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def main(argv: Sequence[str] | None = None, registry: Registry | None = None) -> int:
    parser = build_parser()
    ns = parser.parse_args(argv)  # usage errors exit 2 here
    registry = registry or default_registry()
    try:
        if ns.command == "serve":
            return run_serve(ns, registry)
        return run_local(ns, registry)
    except (CliUsageError, ConfigError) as exc:
        print(f"rollback-agent: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OpError as exc:  # e.g. Deployment.locate: no db_data/main.db
        print(f"rollback-agent: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("rollback-agent: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
