"""Option 3 of the checklist, "Replace database file", with restore's safety.

The checklist says ``cp /path/to/pre_migration_backup.db /path/to/current/database.db``. A plain
``cp`` over a live SQLite file can tear it, leaves a stale journal beside it and keeps nothing of
what it overwrote. Here the source may be a backup in ``backups/`` or a file in a folder the agent
was told it may read (``--source-dir``, repeatable); a file from outside is first checked
(integrity, go-fast-cdn tables) and copied byte for byte into ``backups/`` under its own name, so
the copy that replaces ``main.db`` is kept, listed and pinned by SHA-256. Then it is exactly a
restore: app proven stopped, pre-restore backup, atomic replace, check after, baseline recorded.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ops.backups import check_db, install_db_file, normalise_sha256, restore_backup, sha256_file
from ops.errors import OpInputError
from ops.host import Host
from ops.models import ReplaceDbResult
from ops.status import require_stopped


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def resolve_source(host: Host, source: str) -> tuple[Path, bool]:
    """(file, is_in_backups). A bare name is a backup in backups/; a path must be absolute and lie,
    after resolving symlinks, inside backups/ or an allow-listed folder, and never be the live DB."""
    dep = host.deployment
    if "/" not in source and "\\" not in source:
        return dep.backups_dir / source, True  # restore_backup checks the name itself
    p = Path(source)
    if not p.is_absolute():
        raise OpInputError("source_not_absolute", f"{source!r}: give a backup name or an absolute path")
    real = Path(os.path.realpath(p))
    if not real.is_file():
        raise OpInputError("source_missing", f"{source} does not exist or is not a file")
    if _inside(real, Path(os.path.realpath(dep.db_dir))):
        raise OpInputError("source_is_live_db", f"{source} is inside db_data/: not a backup")
    backups = Path(os.path.realpath(dep.backups_dir))
    if real.parent == backups:
        return real, True
    allowed = [Path(os.path.realpath(d)) for d in host.source_dirs]
    if not any(_inside(real, d) for d in allowed):
        shown = ", ".join(str(d) for d in allowed) or "none configured"
        raise OpInputError(
            "source_not_allowed",
            f"{source} is outside backups/ and the folders the agent may read ({shown}); "
            "add its folder with --source-dir (ROLLBACK_AGENT_SOURCE_DIRS)",
        )
    return real, False


def _import(host: Host, src: Path, digest: str) -> str:
    """Copy an outside file into backups/ byte for byte (its own name if free, else prefixed)."""
    bdir = host.deployment.backups_dir
    bdir.mkdir(parents=True, exist_ok=True)
    name = src.name if src.name.endswith(".db") else src.name + ".db"
    dst = bdir / name
    if dst.exists():
        if dst.is_file() and sha256_file(dst) == digest:
            return name  # the same bytes are already there
        name = f"imported-{digest[:12]}-{name}"
        dst = bdir / name
        if dst.exists() and sha256_file(dst) == digest:
            return name
    install_db_file(src, dst, expect_sha256=digest)
    return name


def replace_db(
    host: Host,
    source: str,
    *,
    expected_sha256: str | None = None,
    accept_fewer_rows: str | None = None,
    app_stopped_by: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> ReplaceDbResult:
    """Replace main.db with ``source`` (a backup name, or an absolute path in an allowed folder)."""
    expected = normalise_sha256(expected_sha256)
    require_stopped(host, "replace the database file", asserted_by=app_stopped_by)
    path, in_backups = resolve_source(host, source)
    imported: str | None = None
    if in_backups:
        name = path.name
    else:
        digest = sha256_file(path)
        if expected is not None and digest != expected:
            raise OpInputError(
                "backup_checksum_mismatch", f"{source}: sha256 {digest} is not the expected {expected}; nothing changed"
            )
        chk = check_db(path)
        if not chk.valid:
            raise OpInputError("backup_invalid", f"{source} is not a valid SQLite DB: {chk.integrity}")
        if chk.era in (None, "unknown"):
            raise OpInputError("backup_not_gofastcdn", f"{source} has no images/docs tables: not a go-fast-cdn DB")
        if progress:
            progress(f"copying {source} into backups/ (sha256 {digest[:12]}…)")
        name = imported = _import(host, path, digest)
        expected = digest  # pin the copy to the bytes just checked
    res = restore_backup(
        host,
        name,
        expected_sha256=expected,
        accept_fewer_rows=accept_fewer_rows,
        app_stopped_by=app_stopped_by,
        progress=progress,
    )
    data = res.model_dump()
    data.update(operation="replace_db", source_path=source, imported_as=imported)
    out = ReplaceDbResult.model_validate(data)
    if imported:
        out.summary = f"{source} copied into backups/ as {imported}; " + out.summary
    return out
