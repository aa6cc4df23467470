from __future__ import annotations

from typing import Any

import pytest

from ops.errors import OpInputError
from ops.registry import default_registry

EXPECTED = {
    "status",
    "stop_app",
    "start_app",
    "rollback",
    "verify",
    "backups_list",
    "backups_create",
    "restore",
    "replace_db",
    "restore_files",
    "check_api",
    "tail_logs",
    "dry_run",
    "recover_journal",
}


def test_registered_names() -> None:
    assert set(default_registry().names()) == EXPECTED


def test_destructive_ops_are_exclusive() -> None:
    reg = default_registry()
    for name in reg.names():
        spec = reg.get(name)
        assert not spec.destructive or spec.exclusive
    assert reg.get("rollback").destructive and reg.get("restore").destructive
    assert not reg.get("status").destructive and not reg.get("status").exclusive
    assert reg.get("backups_create").exclusive


def test_unknown_operation_is_invalid() -> None:
    with pytest.raises(OpInputError, match="unknown operation 'drop_tables'") as exc:
        default_registry().prepare("drop_tables", {})
    assert exc.value.code == "unknown_operation"


@pytest.mark.parametrize(
    ("op", "args", "needle"),
    [
        ("restore", {}, "backup: Field required"),
        ("restore", {"backup": "../main.db"}, "backup: String should match pattern"),
        ("rollback", {"marker_mode": "gentle"}, "marker_mode: Input should be 'hard' or 'soft'"),
        ("tail_logs", {"lines": 10**6}, "lines: Input should be less than or equal to 5000"),
        ("status", {"force": True}, "force: Extra inputs are not permitted"),
        ("dry_run", {"operation": "drop"}, "operation: Input should be 'rollback' or 'restore'"),
        ("restore", {"backup": "b.db", "expected_sha256": "xyz"}, "expected_sha256: String should match pattern"),
        ("restore", {"backup": "b.db", "sha256": "ab" * 32}, "sha256: Extra inputs are not permitted"),
        (
            "dry_run",
            {"operation": "restore", "backup": "b.db", "expected_sha256": "a" * 63},
            "expected_sha256: String should match pattern",
        ),
    ],
)
def test_bad_args_are_summarised(op: str, args: dict[str, object], needle: str) -> None:
    with pytest.raises(OpInputError) as exc:
        default_registry().prepare(op, args)
    assert exc.value.code == "invalid_args"
    assert needle in exc.value.message


def test_args_must_be_an_object() -> None:
    with pytest.raises(OpInputError, match="must be a JSON object"):
        default_registry().prepare("status", ["x"])


def test_good_args_are_parsed_with_defaults() -> None:
    call = default_registry().prepare("rollback", None)
    assert call.args.model_dump() == {"marker_mode": "hard", "app_stopped_by": None}
    call = default_registry().prepare("dry_run", {"operation": "restore", "backup": "db_backup_20240101-000000.db"})
    assert call.args.model_dump()["backup"] == "db_backup_20240101-000000.db"


def test_restore_args_schema() -> None:
    reg = default_registry()
    none = {"expected_sha256": None, "accept_fewer_rows": None, "app_stopped_by": None}
    assert reg.prepare("restore", {"backup": "b.db"}).args.model_dump() == {"backup": "b.db", **none}
    pinned = reg.prepare("restore", {"backup": "b.db", "expected_sha256": "AB" * 32}).args.model_dump()
    assert pinned == {"backup": "b.db", **none, "expected_sha256": "AB" * 32}
    schema = reg.get("restore").args_model.model_json_schema()
    assert set(schema["properties"]) == {"backup", "expected_sha256", "accept_fewer_rows", "app_stopped_by"}
    assert schema["required"] == ["backup"]
    with pytest.raises(OpInputError, match="accept_fewer_rows"):
        reg.prepare("restore", {"backup": "b.db", "accept_fewer_rows": ""})  # an override needs a reason
    with pytest.raises(OpInputError, match="app_stopped_by"):
        reg.prepare("rollback", {"app_stopped_by": ""})  # an assertion names somebody
    dry = reg.prepare("dry_run", {"operation": "restore", "backup": "b.db", "expected_sha256": "0" * 64})
    assert dry.args.model_dump()["expected_sha256"] == "0" * 64


def test_restore_adapter_passes_the_pin(monkeypatch: pytest.MonkeyPatch) -> None:
    import ops.registry as registry_module
    from ops.models import OpResult

    seen: dict[str, object] = {}

    def fake(*args: object, **kwargs: object) -> OpResult:
        seen.update(kwargs)
        return OpResult(operation="restore", outcome="ok", summary="fake")

    monkeypatch.setattr(registry_module, "_fn", lambda module, attr: fake)
    host: Any = object()
    default_registry().prepare("restore", {"backup": "b.db", "expected_sha256": "ab" * 32}).run(host, print)
    assert seen["expected_sha256"] == "ab" * 32
    seen.clear()
    args = {"operation": "restore", "backup": "b.db", "expected_sha256": "cd" * 32}
    default_registry().prepare("dry_run", args).run(host, print)
    assert seen["expected_sha256"] == "cd" * 32
    seen.clear()
    default_registry().prepare("restore", {"backup": "b.db", "accept_fewer_rows": "empty on purpose"}).run(host, print)
    assert seen["accept_fewer_rows"] == "empty on purpose"


def test_adapters_match_the_real_operation_signatures(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each adapter's call must bind to the real function (catches drift in the ops modules)."""
    import importlib
    import inspect
    from collections.abc import Callable

    import ops.registry as registry_module
    from ops.models import OpResult

    calls: list[str] = []

    def checked(module: str, attr: str) -> Callable[..., OpResult]:
        real = getattr(importlib.import_module(module), attr)

        def fake(*args: object, **kwargs: object) -> OpResult:
            inspect.signature(real).bind(*args, **kwargs)
            calls.append(attr)
            return OpResult(operation=attr, outcome="ok", summary="fake")

        return fake

    monkeypatch.setattr(registry_module, "_fn", checked)
    pin = {"expected_sha256": "ab" * 32}
    samples = {
        "restore": {"backup": "b.db", **pin, "accept_fewer_rows": "why", "app_stopped_by": "U1"},
        "dry_run": {"operation": "restore", "backup": "b.db", **pin, "accept_fewer_rows": "why"},
        "replace_db": {"source": "/srv/old/pre.db", "app_stopped_by": "U1", "accept_fewer_rows": "why", **pin},
        "rollback": {"app_stopped_by": "cli:ops@host"},
    }
    reg = default_registry()
    for name in reg.names():
        reg.prepare(name, samples.get(name, {})).run(object(), lambda line: None)  # type: ignore[arg-type]
    assert len(calls) == len(EXPECTED)
