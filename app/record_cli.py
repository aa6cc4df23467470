"""``rollback-bot record | incidents | stats | record-schema``: the stored records from a shell.

They read the store file only (no Slack token needed). An unknown incident or version, or a store
file that does not exist, is one line on stderr and exit 2; nothing is created or changed.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.incidents import IncidentService, UnknownIncident

STORE_HELP = "the bot's SQLite file (default: $ROLLBACK_STORE_PATH, else rollback-bot.db)"


class CliError(Exception):
    """A usage problem or an unknown incident/version: one line on stderr, exit 2."""


def _exit_2_on_error(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    @functools.wraps(fn)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except CliError as exc:
            print(f"rollback-bot: {exc}", file=sys.stderr)
            return 2

    return wrapper


def _service(args: argparse.Namespace) -> IncidentService:
    from bot.runbook import load_runbook
    from bot.store import Store

    path = Path(args.store or os.environ.get("ROLLBACK_STORE_PATH") or "rollback-bot.db")
    if not path.is_file():
        # Opening it would create an empty store and report "no incidents": say what is wrong instead.
        raise CliError(f"no store at {path} (set ROLLBACK_STORE_PATH or pass --store)")
    runbook_path = os.environ.get("ROLLBACK_RUNBOOK_PATH") or None
    return IncidentService(Store(path), load_runbook(runbook_path))


@_exit_2_on_error
def cmd_record(args: argparse.Namespace) -> int:
    from bot.record.versions import RecordArchive, UnknownRecordVersion

    service = _service(args)
    archive = RecordArchive(service)
    try:
        service.get(args.incident)
        stored = archive.get(args.incident, args.version)
    except (UnknownIncident, UnknownRecordVersion) as exc:
        versions = [s.version for s in archive.versions(args.incident)]
        hint = f" (stored versions: {', '.join(map(str, versions))})" if versions else ""
        raise CliError(f"{exc}{hint}".replace("'", "")) from None
    sys.stdout.write(stored.json_text + "\n" if args.format == "json" else stored.markdown)
    return 0


def _minutes(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _met(value: bool | None) -> str:
    return {True: "met", False: "MISSED", None: "-"}[value]


@_exit_2_on_error
def cmd_incidents(args: argparse.Namespace) -> int:
    from bot.record.stats import incident_metrics

    rows = incident_metrics(_service(args))
    header = f"{'incident':<9} {'environment':<12} {'severity':<8} {'state':<9} {'opened (UTC)':<17} "
    print(header + "ack min      rollback min  resolved min")
    for r in rows:
        i = r.incident
        cols = [f"{_minutes(m.minutes):>6} {_met(m.met):<6}" for m in r.metrics]
        opened = i.opened_at.strftime("%Y-%m-%d %H:%M")
        line = f"{i.id:<9} {i.environment:<12} {i.severity.value:<8} {i.state.value:<9} {opened:<17} " + " ".join(cols)
        print(line + ("  (drill: not in stats)" if i.drill else ""))
    if not rows:
        print("(no incidents)")
    return 0


@_exit_2_on_error
def cmd_stats(args: argparse.Namespace) -> int:
    from bot.record.stats import incident_metrics, metric_stats

    rows = incident_metrics(_service(args))
    drills = sum(1 for r in rows if r.incident.drill)
    print(f"{len(rows) - drills} incident(s)" + (f" ({drills} drill(s) left out)" if drills else ""))
    for s in metric_stats(rows):
        worst = f"{_minutes(s.worst_minutes)} ({s.worst_incident})" if s.worst_incident else "-"
        print(
            f"{s.label}: median {_minutes(s.median_minutes)} min, worst {worst} min, "
            f"met target {s.met}/{s.measured} measured"
        )
    return 0


def cmd_record_schema(args: argparse.Namespace) -> int:
    from bot.record.schema import record_json_schema_text

    sys.stdout.write(record_json_schema_text())
    return 0


def add_record_commands(sub: Any) -> None:
    """Add the record commands to the ``rollback-bot`` subparsers."""
    record = sub.add_parser("record", help="print a stored incident record")
    record.add_argument("incident", help="incident id, e.g. RB-7")
    record.add_argument("--format", choices=("md", "json"), default="md")
    record.add_argument("--version", type=int, default=None, help="record version (default: the latest)")
    record.add_argument("--store", default=None, help=STORE_HELP)
    record.set_defaults(func=cmd_record)
    incidents = sub.add_parser("incidents", help="list incidents with state, severity and metrics")
    incidents.add_argument("--store", default=None, help=STORE_HELP)
    incidents.set_defaults(func=cmd_incidents)
    stats = sub.add_parser("stats", help="metrics across incidents: median, worst, targets met")
    stats.add_argument("--store", default=None, help=STORE_HELP)
    stats.set_defaults(func=cmd_stats)
    schema = sub.add_parser("record-schema", help="print the incident record's JSON schema")
    schema.set_defaults(func=cmd_record_schema)
