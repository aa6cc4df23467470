"""The pre-rollback snapshot of images/docs counts that verify compares against.

rollback and restore write it to ``<deployment>/.rollback-agent/baseline.json``; images and docs
are never written by the migration, the rollback or the migration-era server, so their live and
raw counts must come out unchanged.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ops.deployment import Deployment
from ops.leftovers import temp_name
from ops.models import Baseline, Counts
from ops.schema import counts, open_ro

BASELINE_FILE = "baseline.json"


def baseline_path(dep: Deployment) -> Path:
    return dep.state_dir / BASELINE_FILE


def baseline_from_db(path: Path, *, source: str, backup: str | None = None) -> Baseline:
    """Counts of a DB file (opened read-only); a file without images/docs gives a ValueError."""
    with open_ro(path) as conn:
        c = counts(conn)
    return baseline_from_counts(c, source=source, backup=backup, what=path.name)


def baseline_from_counts(c: Counts, *, source: str, backup: str | None = None, what: str = "the DB") -> Baseline:
    """The baseline of counts already taken (e.g. by the integrity check of the same bytes)."""
    if c.images_live is None or c.images_raw is None or c.docs_live is None or c.docs_raw is None:
        raise ValueError(f"{what} has no images/docs tables")
    return Baseline(
        images_live=c.images_live,
        images_raw=c.images_raw,
        docs_live=c.docs_live,
        docs_raw=c.docs_raw,
        source=source,
        backup=backup,
    )


def write_baseline(dep: Deployment, baseline: Baseline) -> Path:
    """Atomic write (temp + replace) so verify never reads half a file."""
    p = baseline_path(dep)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(temp_name(p.name))
    try:
        tmp.write_text(baseline.model_dump_json(indent=2))
        os.replace(tmp, p)
    finally:
        tmp.unlink(missing_ok=True)
    return p


def read_baseline(dep: Deployment) -> Baseline | None:
    p = baseline_path(dep)
    if not p.is_file():
        return None
    try:
        return Baseline.model_validate(json.loads(p.read_text()))
    except (ValueError, OSError):
        return None
