from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from sandbox.gofastcdn_fixture import FixtureInfo, build_migrated_deployment


def db_digest(info: FixtureInfo) -> str:
    return hashlib.sha256(info.deployment.db_path.read_bytes()).hexdigest()


@pytest.fixture(params=["a7396e9", "tip"])
def migrated(tmp_path: Path, request: pytest.FixtureRequest) -> FixtureInfo:
    return build_migrated_deployment(tmp_path / "gfc", schema=request.param)


@pytest.fixture
def migrated_a(tmp_path: Path) -> FixtureInfo:
    return build_migrated_deployment(tmp_path / "gfc", schema="a7396e9")


@pytest.fixture
def no_proc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A host where open files cannot be listed (no /proc): only a controller or an assertion proves "stopped"."""
    empty = tmp_path / "no-proc"
    empty.mkdir(exist_ok=True)
    monkeypatch.setenv("ROLLBACK_AGENT_PROC_ROOT", str(empty))
    return empty


# The app-control fixtures (a plain sqlite3 deployment, the stand-in as a real process).
from tests.unit.ops.app_helpers import deployment, process_host, reaper  # noqa: E402, F401
