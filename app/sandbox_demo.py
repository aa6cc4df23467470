"""``make demo``: the Slack sandbox page, the bot and two sandbox go-fast-cdn hosts, until Ctrl-C.

Everything runs on 127.0.0.1: the fake Slack serves the page, the bot is served over real HTTP as in
production, and every click on the page reaches it as the signed request Slack would send. Each
sandbox host is a migrated deployment with the stand-in app and a real ``rollback-agent``. The
scripted, exiting drill is ``rollback-bot demo --drill`` (app/demo.py).
"""

from __future__ import annotations

import secrets
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType

from pydantic import SecretStr

from app.factory import RollbackBot, create_app
from app.server import SLACK_PATH, create_asgi
from app.serving import ThreadedServer
from app.settings import AgentTarget, Settings
from bot.contacts import Contacts, example_contacts_text, parse_contacts
from sandbox.fake_slack import FakeSlack, seed_demo_workspace
from sandbox.fake_slack.seed import OPS_CHANNEL
from sandbox.page.backend import PageBackend
from sandbox.page.routes import PageRoutes
from sandbox.sandbox_host import SandboxHost

SIGNING_SECRET = "sandbox-signing-secret"
ENVIRONMENTS = ("production", "staging")
OPERATORS = ("U0ALICE", "U0BOB")
# The packaged example contacts file's stakeholder channels, so a sent notice lands somewhere visible.
STAKEHOLDER_CHANNELS = (("C0DEV", "dev"), ("C0QA", "qa"), ("C0SUPPORT", "support"), ("C0STATUS", "status"))


def people_labels(contacts: Contacts, operators: tuple[str, ...]) -> dict[str, str]:
    """What the page's user switcher says about each person: operator or not, and their contact roles."""
    roles: dict[str, list[str]] = {}
    for role_id, role in contacts.roles.items():
        for user in [*role.users, *role.backups]:
            roles.setdefault(user, []).append((role.name or role_id) + (" (backup)" if user in role.backups else ""))
    people = set(roles) | set(operators)
    return {
        u: ", ".join(["operator" if u in operators else "not an operator", *roles.get(u, [])]) for u in sorted(people)
    }


class LiveSandbox:
    """The page, the bot and the hosts as one unit; `make demo` and the browser tests both use it."""

    def __init__(self, workdir: Path, *, environments: tuple[str, ...] = ENVIRONMENTS, port: int = 0) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.environments = environments
        self.port = port
        self.fake = seed_demo_workspace(FakeSlack())
        self.contacts_path = self.workdir / "contacts.yaml"
        self.contacts_path.write_text(example_contacts_text())
        contacts = parse_contacts(self.contacts_path.read_text())
        for channel, name in STAKEHOLDER_CHANNELS:
            self.fake.add_channel(channel, name, members=list(people_labels(contacts, OPERATORS)))
        labels = people_labels(contacts, OPERATORS)
        self.page = PageBackend(self.fake, signing_secret=SIGNING_SECRET, roles=labels, channel=OPS_CHANNEL)
        self.hosts: dict[str, SandboxHost] = {}
        self.bot: RollbackBot | None = None
        self.server: ThreadedServer | None = None
        self.url = ""

    def start_page(self) -> str:
        """The fake Slack and its page first, so the URL can be shown while the rest starts."""
        try:
            self.fake.start(self.port)
        except OSError:  # the preferred port is taken: any free one will do
            self.fake.start(0)
        self.fake.mount(PageRoutes(self.page))
        self.url = f"{self.fake.root_url}/"
        return self.url

    def start_hosts(self) -> None:
        for env in self.environments:
            host = SandboxHost(self.workdir / env, secret=secrets.token_hex(16), environment=env)
            self.hosts[env] = host
            host.start()
            self.page.add_host(env, host)

    def start_bot(self) -> str:
        settings = Settings(
            slack_bot_token=SecretStr(self.fake.bot_token),
            slack_signing_secret=SecretStr(SIGNING_SECRET),
            slack_api_base_url=self.fake.base_url,
            rollback_store_path=self.workdir / "rollback-bot.db",
            rollback_agents={e: AgentTarget(url=h.url, secret=SecretStr(h.secret)) for e, h in self.hosts.items()},
            rollback_operators=list(OPERATORS),
            rollback_contacts_path=self.contacts_path,
            rollback_default_environment=(self.environments or ENVIRONMENTS)[0],
        )
        self.bot = create_app(settings)
        self.server = ThreadedServer(create_asgi(self.bot)).start()
        self.page.bot_url = self.server.url + SLACK_PATH
        return self.page.bot_url

    def start(self) -> LiveSandbox:
        self.start_page()
        self.start_hosts()
        self.start_bot()
        return self

    def stop(self) -> None:
        """Stop everything this sandbox started; safe to call at any point of a partial start."""
        self.page.close()  # first: the shell's lock and the SIGTERM refusal must not outlive the demo
        if self.server is not None:
            self.server.stop()
        if self.bot is not None:
            self.bot.close()
        for host in self.hosts.values():
            host.stop()
        self.fake.stop()


def run_sandbox(port: int = 8787, keep: bool = False) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="rollback-sandbox-"))
    box = LiveSandbox(workdir, port=port)
    done = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        done.set()

    # SIGINT too: a shell starting the demo in the background (``make demo &``, CI) leaves SIGINT
    # ignored, and Python then never raises KeyboardInterrupt: "Ctrl-C stops everything" must hold.
    previous = {sig: signal.signal(sig, on_term) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        url = box.start_page()
        print(f"Slack sandbox: {url}", flush=True)
        print("starting two sandbox go-fast-cdn hosts and the bot…", flush=True)
        box.start_hosts()
        for env, host in box.hosts.items():
            print(f"  {env}: go-fast-cdn stand-in {host.api_url}, rollback-agent {host.url}", flush=True)
        print(f"  bot: {box.start_bot()}", flush=True)
        print(f"  files: {workdir} (removed on exit)", flush=True)
        print(f"ready: open {url} (Ctrl-C stops everything)", flush=True)
        while not done.wait(0.5):
            pass
        return 0
    except KeyboardInterrupt:
        return 0
    except Exception as exc:
        print(f"sandbox failed: {exc}", file=sys.stderr)
        return 1
    finally:
        print("stopping the bot, the agents, the apps and the fake Slack…", flush=True)
        box.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if keep:
            print(f"kept {workdir}", flush=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
