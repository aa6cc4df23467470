"""The layers, enforced: which package may import which (README, "Architecture").

    app/        composition root: may import everything; nothing imports it
    handlers/   Slack edge: the domain, plus the operation contract and result models of ops/
    bot/        domain: the operation contract, result models and agent client of ops/; no Slack
    bot/store/  persistence: nothing of the domain above it
    ops/        the host agent: nothing of the bot
    sandbox/    test doubles and the demo's hosts: ops/ (to build deployments), never the product

Every import statement counts, also the ones inside functions, so a lazy import cannot sneak past.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "bot", "handlers", "ops", "sandbox")
OPS_FOR_THE_BOT = ("ops.contract", "ops.models", "ops.client")
OPS_FOR_THE_EDGE = ("ops.contract", "ops.models")

# module prefix -> what it may import from the project (prefixes); the most specific prefix wins.
ALLOWED: dict[str, tuple[str, ...]] = {
    "app": ("app", "bot", "handlers", "ops.contract", "ops.models", "ops.client", "sandbox"),
    "handlers": ("handlers", "bot", *OPS_FOR_THE_EDGE),
    "bot": ("bot", *OPS_FOR_THE_BOT),
    "bot.store": ("bot.store",),
    "ops": ("ops",),
    "sandbox": ("sandbox", "ops"),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(module: str, source: str, *, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, absolute module) for every import in ``source`` that names a project package."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                name = ".".join([*base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            # ``from ops import contract`` imports ops.contract
            found.extend((node.lineno, f"{name}.{alias.name}") for alias in node.names)
    return [(line, name) for line, name in found if name.split(".")[0] in PACKAGES]


def _file_imports(path: Path) -> list[tuple[int, str]]:
    return _imports(_module_name(path), path.read_text(encoding="utf-8"), is_package=path.name == "__init__.py")


def _matches(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _rule_for(module: str) -> tuple[str, ...]:
    best = max((p for p in ALLOWED if _matches(module, p)), key=len)
    return ALLOWED[best]


def violations(module: str, imports: list[tuple[int, str]]) -> list[str]:
    allowed = _rule_for(module)
    return [f"{line}: {module} imports {name}" for line, name in imports if not any(_matches(name, p) for p in allowed)]


def project_files() -> list[Path]:
    return sorted(f for pkg in PACKAGES for f in (ROOT / pkg).rglob("*.py"))


def test_every_import_respects_the_layers() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{v}"
        for path in project_files()
        for v in violations(_module_name(path), _file_imports(path))
    ]
    assert found == []


def test_nothing_in_the_product_imports_the_composition_root() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in project_files()
        if not _matches(_module_name(path), "app")
        for line, name in _file_imports(path)
        if _matches(name, "app")
    ]
    assert offenders == []


@pytest.mark.parametrize(
    ("module", "source", "bad"),
    [
        ("bot.x", "from handlers.blocks import section_message\n", "handlers.blocks.section_message"),
        ("bot.x", "def f():\n    import sandbox.fake_slack\n", "sandbox.fake_slack"),
        ("bot.x", "from ops.backups import list_backups\n", "ops.backups.list_backups"),
        ("bot.x", "from ops.agent.jobs import JobView\n", "ops.agent.jobs.JobView"),
        ("bot.store.x", "from bot.incidents import IncidentService\n", "bot.incidents.IncidentService"),
        ("bot.store.x", "from ..incidents import IncidentService\n", "bot.incidents.IncidentService"),
        ("handlers.x", "from ops.client import AgentClient\n", "ops.client.AgentClient"),
        ("handlers.x", "from app.factory import create_app\n", "app.factory.create_app"),
        ("ops.x", "from bot.domain import Incident\n", "bot.domain.Incident"),
        ("ops.agent.x", "import handlers.blocks\n", "handlers.blocks"),
        ("sandbox.x", "from handlers import blocks\n", "handlers.blocks"),
    ],
)
def test_a_forbidden_import_is_reported(module: str, source: str, bad: str) -> None:
    found = violations(module, _imports(module, source))
    assert len(found) == 1 and found[0].endswith(f"imports {bad}"), found


def test_allowed_imports_pass() -> None:
    source = "from ops.contract import OPERATIONS\nfrom bot.domain import Incident\nfrom .blocks import x\n"
    assert violations("handlers.x", _imports("handlers.x", source)) == []
    assert violations("bot.x", _imports("bot.x", "from ops.client import AgentClient\n")) == []
    assert violations("app.x", _imports("app.x", "from sandbox.fake_slack import FakeSlack\n")) == []
