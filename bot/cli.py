"""``rollback-bot serve | demo | check-config | record | incidents | stats | record-schema``.

Exit codes: 0 ok, 1 runtime failure, 2 bad configuration or usage (one line naming the variable),
or an unknown incident or record version.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from bot.incidents import IncidentService
from bot.settings import ConfigError, Settings, load_settings


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        print(f"rollback-bot: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings_or_exit()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from bot.app import create_app

    try:
        bot = create_app(settings)
    except Exception as exc:  # bad token, Slack unreachable, unreadable store
        print(f"rollback-bot: cannot start: {exc}", file=sys.stderr)
        return 1
    if settings.socket_mode:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        assert settings.slack_app_token is not None
        logging.getLogger(__name__).info("starting in Socket Mode")
        SocketModeHandler(bot.app, settings.slack_app_token.get_secret_value()).start()
        return 0
    from bot.server import create_asgi
    from bot.serving import serve_forever

    serve_forever(create_asgi(bot), settings.host, args.port if args.port is not None else settings.port)
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    s = _settings_or_exit()
    mode = "Socket Mode" if s.socket_mode else f"HTTP on {s.host}:{s.port}"
    print(f"config ok: {mode}; store {s.rollback_store_path}; environments {', '.join(s.environments)}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    return run_demo(out_dir=args.out)


def _store_path(args: argparse.Namespace) -> Path:
    path = Path(args.store or os.environ.get("ROLLBACK_STORE_PATH") or "rollback-bot.db")
    if not path.is_file():
        # Opening it would create an empty store and report "no incidents": say what is wrong instead.
        raise CliError(f"no store at {path} (set ROLLBACK_STORE_PATH or pass --store)")
    return path


class CliError(Exception):
    """A usage problem or an unknown incident/version: one line on stderr, exit 2."""


def _service(args: argparse.Namespace) -> IncidentService:
    from bot.runbook import load_runbook
    from bot.store import Store

    runbook_path = os.environ.get("ROLLBACK_RUNBOOK_PATH") or None
    return IncidentService(Store(_store_path(args)), load_runbook(runbook_path))


def cmd_record(args: argparse.Namespace) -> int:
    from bot.incidents import UnknownIncident
    from bot.record.versions import RecordArchive, UnknownRecordVersion

    service = _service(args)
    try:
        service.get(args.incident)
        stored = RecordArchive(service).get(args.incident, args.version)
    except (UnknownIncident, UnknownRecordVersion) as exc:
        versions = [s.version for s in RecordArchive(service).versions(args.incident)]
        hint = f" (stored versions: {', '.join(map(str, versions))})" if versions else ""
        raise CliError(f"{exc}{hint}".replace("'", "")) from None
    sys.stdout.write(stored.json_text + "\n" if args.format == "json" else stored.markdown)
    return 0


def _minutes(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _met(value: bool | None) -> str:
    return {True: "met", False: "MISSED", None: "-"}[value]


def cmd_incidents(args: argparse.Namespace) -> int:
    from bot.record.stats import incident_metrics

    rows = incident_metrics(_service(args))
    header = f"{'incident':<9} {'environment':<12} {'severity':<8} {'state':<9} {'opened (UTC)':<17} "
    header += "ack min      rollback min  resolved min"
    print(header)
    for r in rows:
        i = r.incident
        cols = [f"{_minutes(m.minutes):>6} {_met(m.met):<6}" for m in r.metrics]
        opened = i.opened_at.strftime("%Y-%m-%d %H:%M")
        print(f"{i.id:<9} {i.environment:<12} {i.severity.value:<8} {i.state.value:<9} {opened:<17} " + " ".join(cols))
    if not rows:
        print("(no incidents)")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from bot.record.stats import incident_metrics, metric_stats

    rows = incident_metrics(_service(args))
    print(f"{len(rows)} incident(s)")
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rollback-bot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve Slack requests (HTTP, or Socket Mode when SLACK_APP_TOKEN is set)")
    serve.add_argument("--port", type=int, default=None, help="overrides PORT")
    serve.set_defaults(func=cmd_serve)
    check = sub.add_parser("check-config", help="validate the environment and exit")
    check.set_defaults(func=cmd_check_config)
    demo = sub.add_parser("demo", help="scripted drill against the local Slack sandbox and a sandbox host")
    demo.add_argument("--out", default="demo-out", help="folder for the drill's files (default: demo-out)")
    demo.set_defaults(func=cmd_demo)
    store_help = "the bot's SQLite file (default: $ROLLBACK_STORE_PATH, else rollback-bot.db)"
    record = sub.add_parser("record", help="print a stored incident record")
    record.add_argument("incident", help="incident id, e.g. RB-7")
    record.add_argument("--format", choices=("md", "json"), default="md")
    record.add_argument("--version", type=int, default=None, help="record version (default: the latest)")
    record.add_argument("--store", default=None, help=store_help)
    record.set_defaults(func=cmd_record)
    incidents = sub.add_parser("incidents", help="list incidents with state, severity and metrics")
    incidents.add_argument("--store", default=None, help=store_help)
    incidents.set_defaults(func=cmd_incidents)
    stats = sub.add_parser("stats", help="metrics across incidents: median, worst, targets met")
    stats.add_argument("--store", default=None, help=store_help)
    stats.set_defaults(func=cmd_stats)
    schema = sub.add_parser("record-schema", help="print the incident record's JSON schema")
    schema.set_defaults(func=cmd_record_schema)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except CliError as exc:
        print(f"rollback-bot: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
