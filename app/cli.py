"""``rollback-bot serve | demo [--drill] | check-config`` plus the record commands (app/record_cli.py).

Exit codes: 0 ok, 1 runtime failure, 2 bad configuration or usage (one line naming the variable),
or an unknown incident or record version.
"""

from __future__ import annotations

import argparse
import logging
import sys

from app.record_cli import add_record_commands
from app.settings import BotConfigError, Settings, load_settings
from bot.contacts import Contacts, ContactsError, load_contacts


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except BotConfigError as exc:
        print(f"rollback-bot: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _contacts_or_exit(settings: Settings) -> Contacts | None:
    try:
        return load_contacts(settings.rollback_contacts_path)
    except ContactsError as exc:
        print(f"rollback-bot: contacts error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings_or_exit()
    _contacts_or_exit(settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from app.factory import create_app

    try:
        bot = create_app(settings)
    except Exception as exc:  # bad token, Slack unreachable, unreadable store
        print(f"rollback-bot: cannot start: {exc}", file=sys.stderr)
        return 1
    try:
        if settings.socket_mode:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            assert settings.slack_app_token is not None
            logging.getLogger(__name__).info("starting in Socket Mode")
            SocketModeHandler(bot.app, settings.slack_app_token.get_secret_value()).start()
            return 0
        from app.server import create_asgi
        from app.serving import serve_forever

        serve_forever(create_asgi(bot), settings.host, args.port if args.port is not None else settings.port)
        return 0
    finally:  # SIGTERM/SIGINT: finish what was acked, flush the publisher, close the store
        bot.close()


def cmd_check_config(args: argparse.Namespace) -> int:
    s = _settings_or_exit()
    contacts = _contacts_or_exit(s)
    mode = "Socket Mode" if s.socket_mode else f"HTTP on {s.host}:{s.port}"
    print(f"config ok: {mode}; store {s.rollback_store_path}; environments {', '.join(s.environments)}")
    if contacts is None:
        print("contacts: none configured (ROLLBACK_CONTACTS_PATH): incidents will page nobody")
    else:
        print(f"contacts {s.rollback_contacts_path}: {contacts.summary()}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    if args.drill:
        from app.demo import run_demo

        return run_demo(out_dir=args.out)
    from app.sandbox_demo import run_sandbox

    return run_sandbox(port=args.port, keep=args.keep)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rollback-bot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve Slack requests (HTTP, or Socket Mode when SLACK_APP_TOKEN is set)")
    serve.add_argument("--port", type=int, default=None, help="overrides PORT")
    serve.set_defaults(func=cmd_serve)
    check = sub.add_parser("check-config", help="validate the environment and the contacts file, and exit")
    check.set_defaults(func=cmd_check_config)
    demo = sub.add_parser("demo", help="the Slack sandbox page with the bot and two sandbox hosts, until Ctrl-C")
    demo.add_argument("--drill", action="store_true", help="run the scripted drill instead, print it and exit")
    demo.add_argument("--out", default="demo-out", help="folder for the drill's files (default: demo-out)")
    demo.add_argument("--port", type=int, default=8787, help="port of the sandbox page (any free one if taken)")
    demo.add_argument("--keep", action="store_true", help="keep the sandbox's temp folder after Ctrl-C")
    demo.set_defaults(func=cmd_demo)
    add_record_commands(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
