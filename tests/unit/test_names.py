"""No two public classes share a name anywhere in the project: one name, one thing."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "bot", "handlers", "ops", "sandbox")


def public_classes() -> dict[str, list[str]]:
    where: dict[str, list[str]] = defaultdict(list)
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            for node in ast.parse(path.read_text(encoding="utf-8")).body:
                if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                    where[node.name].append(str(path.relative_to(ROOT)))
    return where


def test_public_class_names_are_unique() -> None:
    twice = {name: files for name, files in public_classes().items() if len(files) > 1}
    assert twice == {}


def test_the_scan_sees_the_classes() -> None:
    found = public_classes()
    assert found["IncidentService"] == ["bot/incidents.py"] and found["OperationContract"] == ["ops/contract.py"]
