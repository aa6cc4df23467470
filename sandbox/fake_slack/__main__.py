"""`python -m sandbox.fake_slack --port N`: a standalone seeded fake for manual runs of the bot."""

from __future__ import annotations

import argparse
import threading

from sandbox.fake_slack.fake import FakeSlack
from sandbox.fake_slack.seed import seed_demo_workspace


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.fake_slack", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--token", default="xoxb-sandbox", help="bot token the fake accepts")
    args = parser.parse_args(argv)
    fake = seed_demo_workspace(FakeSlack(bot_token=args.token)).start(args.port)
    print(f"fake slack base_url={fake.base_url} token={fake.bot_token} channel=C0OPS", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
