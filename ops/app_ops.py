"""Operations on the running app: stop, start, check its API against the DB, tail its logs.

Stop/start always read the state before and after, so "already stopped" is a ``noop`` and a
command that returned 0 without effect is a ``failed``, never a silent success.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections import Counter
from typing import Any
from urllib.parse import quote

import httpx

from ops.control.config import ControllerError
from ops.control.probe import local_client, wait_for_api
from ops.errors import OpInputError
from ops.host import Host
from ops.models import AppControlResult, Check, CheckApiResult, LogsResult, Outcome, utcnow
from ops.stopped import effective_state, server_state

MAX_LOG_LINES = 5000
_KINDS = (("images", "image", "images"), ("docs", "doc", "docs"))  # (table, listing, download dir)


UPLOADS_FAIL = (
    "a migration-era go-fast-cdn binary is running (GET /api/cdn/media/all answers): every upload, on the "
    "image and doc routes too, writes the media table, which the rollback dropped, so uploads fail with "
    '500 "no such table: media" until the binary is rolled back to a pre-migration build; the '
    'checklist\'s "upload ... works" cannot pass'
)
UPLOADS_TO_MEDIA = (
    "a migration-era go-fast-cdn binary is running (GET /api/cdn/media/all answers): uploads go to the "
    "media table, which a pre-migration build never reads; roll the binary back to a pre-migration build"
)


def _describe(host: Host) -> str:
    return f"{host.controller.kind} controller"


def stop_app(host: Host, timeout_s: float = 30) -> AppControlResult:
    """Stop go-fast-cdn and confirm it stopped (required before any DB rollback or restore).

    Before and after are judged by the controller, the API probe and the open-file scan together,
    so a server started by hand (no controller) that is gone counts as stopped, and one the
    controller does not know about but that still answers or holds the DB does not."""
    ctl, started, t0 = host.controller, utcnow(), time.monotonic()
    before = effective_state(host)
    common: dict[str, Any] = {"operation": "stop_app", "action": "stop", "controller": ctl.kind}
    if before.running is False:
        return AppControlResult(
            **common,
            outcome="noop",
            summary=f"already stopped: {before.detail}",
            before=before,
            after=before,
            started_at=started,
        )
    stopped = ctl.stop(timeout_s)
    after = effective_state(host, stopped) if stopped.running is False else stopped
    ok = after.running is False
    summary = f"stopped ({_describe(host)}): {stopped.detail}" if ok else f"stop failed: {after.detail}"
    return AppControlResult(
        **common,
        outcome="ok" if ok else "failed",
        summary=summary,
        before=before,
        after=after,
        elapsed_s=round(time.monotonic() - t0, 3),
        started_at=started,
        finished_at=utcnow(),
    )


def start_app(host: Host, timeout_s: float = 30, *, wait_api: bool = True) -> AppControlResult:
    """Start go-fast-cdn; ok only when it runs and (with ``wait_api``) its API answers "pong".
    An API that already answers means running, whatever the controller says."""
    ctl, started, t0 = host.controller, utcnow(), time.monotonic()
    before = server_state(host)
    common: dict[str, Any] = {"operation": "start_app", "action": "start", "controller": ctl.kind}
    if before.running is True:
        return AppControlResult(
            **common,
            outcome="noop",
            summary=f"already running: {before.detail}",
            before=before,
            after=before,
            started_at=started,
        )
    after = ctl.start(timeout_s)
    warnings: list[str] = []
    api_answered: bool | None = None
    outcome: Outcome
    if after.running is not True:
        outcome, summary = "failed", f"start failed: {after.detail}"
    elif not wait_api:
        outcome, summary = "ok", f"started ({_describe(host)}): {after.detail}"
    else:
        left = max(timeout_s - (time.monotonic() - t0), 1.0)
        api_answered, api_detail = wait_for_api(host.api_url, left)
        if api_answered:
            outcome, summary = "ok", f"started ({_describe(host)}): {after.detail}; {api_detail}"
        else:
            outcome = "failed"
            summary = f"started ({after.detail}) but the API did not answer within {left:.0f}s: {api_detail}"
            warnings.append("the process runs but does not serve; check tail_logs")
    return AppControlResult(
        **common,
        outcome=outcome,
        summary=summary,
        before=before,
        after=after,
        warnings=warnings,
        api_answered=api_answered,
        elapsed_s=round(time.monotonic() - t0, 3),
        started_at=started,
        finished_at=utcnow(),
    )


# -- check_api ------------------------------------------------------------------------------


def _live_rows(host: Host) -> dict[str, list[tuple[int, str]]]:
    """(id, file_name) of live images/docs, read-only so a running app is never blocked."""
    db = host.deployment.db_path
    if not db.is_file():
        raise FileNotFoundError(f"{db} does not exist")
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return {
            table: [
                (int(i), n or "")
                for i, n in con.execute(f"SELECT id, file_name FROM {table} WHERE deleted_at IS NULL ORDER BY id")
            ]
            for table, _, _ in _KINDS
        }
    finally:
        con.close()


def _fmt_names(names: Counter[str], limit: int = 5) -> str:
    items = sorted(names.elements())
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(repr(n) for n in items[:limit]) + more


def _check_listing(client: httpx.Client, base: str, table: str, kind: str, rows: list[tuple[int, str]] | None) -> Check:
    name = f"{kind}_listing"
    url = f"{base}/api/cdn/{kind}/all"
    try:
        resp = client.get(url)
    except httpx.HTTPError as exc:
        return Check(name=name, passed=False, detail=f"GET {url}: {type(exc).__name__}: {exc}")
    if resp.status_code != 200:
        return Check(name=name, passed=False, detail=f"GET {url}: HTTP {resp.status_code}")
    try:
        data = resp.json()
    except ValueError:
        data = None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        detail = f"GET {url}: not a JSON array of rows: {resp.text[:80]!r}"
        return Check(name=name, passed=False, detail=detail)
    if rows is None:
        return Check(name=name, passed=False, detail=f"API lists {len(data)} rows; DB unreadable to compare")
    api_names = Counter(str(r.get("file_name", "")) for r in data)
    db_names = Counter(n for _, n in rows)
    if api_names != db_names:
        parts = [f"API lists {len(data)}, DB has {len(rows)} live {table}"]
        if db_names - api_names:
            parts.append(f"missing from API: {_fmt_names(db_names - api_names)}")
        if api_names - db_names:
            parts.append(f"only in API: {_fmt_names(api_names - db_names)}")
        return Check(name=name, passed=False, detail="; ".join(parts))
    api_ids = sorted(r["ID"] for r in data if isinstance(r.get("ID"), int))
    if len(api_ids) == len(data) and api_ids != sorted(i for i, _ in rows):
        return Check(
            name=name,
            passed=False,
            detail=f"names match the {len(rows)} live {table} rows but IDs differ: the API is not "
            f"serving the {table} table (a migration-era binary serving media?)",
        )
    return Check(name=name, passed=True, detail=f"{len(data)} rows, matching the live {table} rows in the DB")


def _check_download(
    client: httpx.Client, host: Host, table: str, folder: str, rows: list[tuple[int, str]] | None
) -> Check:
    name = f"{folder}_download"
    if rows is None:
        return Check(name=name, passed=False, detail="DB not readable: no file to pick")
    if not rows:
        return Check(name=name, passed=True, detail=f"no live {table} rows: nothing to download")
    _, fname = rows[-1]  # the newest live row: the most likely one to be broken
    disk = host.deployment.uploads_dir / folder / fname
    url = f"{host.api_url.rstrip('/')}/api/cdn/download/{folder}/{quote(fname, safe='')}"
    try:
        resp = client.get(url)
    except httpx.HTTPError as exc:
        return Check(name=name, passed=False, detail=f"GET {url}: {type(exc).__name__}: {exc}")
    try:
        want = hashlib.sha256(disk.read_bytes()).hexdigest()
    except FileNotFoundError:
        return Check(
            name=name,
            passed=False,
            detail=f"{fname!r} is a live {table} row but {disk} is missing (API: HTTP {resp.status_code})",
        )
    if resp.status_code != 200:
        detail = f"GET {url}: HTTP {resp.status_code} ({fname!r} is on disk)"
        return Check(name=name, passed=False, detail=detail)
    got = hashlib.sha256(resp.content).hexdigest()
    if got != want:
        return Check(
            name=name,
            passed=False,
            detail=f"{fname!r}: API sent {len(resp.content)} bytes sha256 {got[:12]}, disk has sha256 {want[:12]}",
        )
    detail = f"{fname!r}: {len(resp.content)} bytes, sha256 {got[:12]} matches disk"
    return Check(name=name, passed=True, detail=detail)


def check_api(host: Host, *, timeout_s: float = 5) -> CheckApiResult:
    """Does the running app answer, list exactly the DB's live rows, and serve the right bytes?"""
    started = utcnow()
    base = host.api_url.rstrip("/")
    checks: list[Check] = []
    warnings: list[str] = []
    serves_media: bool | None = None
    try:
        live_rows = _live_rows(host)
        rows: dict[str, list[tuple[int, str]]] | None = live_rows
        counts = ", ".join(f"{len(v)} live {k}" for k, v in live_rows.items())
        checks.append(Check(name="db_read", passed=True, detail=counts))
    except (sqlite3.Error, OSError) as exc:
        rows = None
        detail = f"cannot read {host.deployment.db_path}: {exc}"
        checks.append(Check(name="db_read", passed=False, detail=detail))
    with local_client(timeout_s, base) as client:
        ping, reachable = _ping(client, base)
        checks.append(ping)
        if not reachable:  # each further request would only wait for the same timeout
            for _table, kind, folder in _KINDS:
                for cname in (f"{kind}_listing", f"{folder}_download"):
                    checks.append(Check(name=cname, passed=False, detail=f"not run: API unreachable at {base}"))
        else:
            for table, kind, folder in _KINDS:
                live = rows[table] if rows is not None else None
                checks.append(_check_listing(client, base, table, kind, live))
                checks.append(_check_download(client, host, table, folder, live))
            serves_media = _serves_media(client, base)
    binary = _binary_check(serves_media, reachable, host, base)
    checks.insert(2, binary)
    uploads_will_fail = None if serves_media is None else bool(serves_media and not _media_table(host))
    if serves_media:
        warnings.insert(0, UPLOADS_FAIL if uploads_will_fail else UPLOADS_TO_MEDIA)
    failed = [c for c in checks if not c.passed]
    summary = (
        f"API at {base}: all {len(checks)} checks passed"
        if not failed
        else f"API at {base}: {len(failed)} of {len(checks)} checks failed: "
        + "; ".join(f"{c.name}: {c.detail}" for c in failed[:2])
    )
    return CheckApiResult(
        operation="check_api",
        outcome="failed" if failed else "ok",
        summary=summary,
        api_url=base,
        checks=checks,
        serves_media=serves_media,
        uploads_will_fail=uploads_will_fail,
        warnings=warnings,
        started_at=started,
        finished_at=utcnow(),
    )


def _ping(client: httpx.Client, base: str) -> tuple[Check, bool]:
    """The ping check, and whether the server was reachable at all."""
    url = f"{base}/api/"
    try:
        resp = client.get(url)
    except httpx.ConnectError as exc:
        detail = f"cannot connect to {url}: {exc} (is go-fast-cdn running?)"
        return Check(name="ping", passed=False, detail=detail), False
    except httpx.HTTPError as exc:
        return Check(name="ping", passed=False, detail=f"GET {url}: {type(exc).__name__}: {exc}"), False
    try:
        body = resp.json()
    except ValueError:
        body = None
    if resp.status_code == 200 and body == "pong":
        return Check(name="ping", passed=True, detail=f'GET {url} -> "pong"'), True
    detail = f'GET {url}: HTTP {resp.status_code} {resp.text[:60]!r}, not "pong"'
    return Check(name="ping", passed=False, detail=detail), True


def _serves_media(client: httpx.Client, base: str) -> bool | None:
    """Pre-migration: no media route (404, or the UI's index.html). Migration era: 200 with a JSON
    list, or ``null`` when the media table is gone (the handler ignores GORM's error)."""
    try:
        resp = client.get(f"{base}/api/cdn/media/all")
    except httpx.HTTPError:
        return None
    try:
        body = resp.json()
    except ValueError:
        return False
    return resp.status_code == 200 and (body is None or isinstance(body, list))


def _media_table(host: Host) -> bool:
    try:
        with sqlite3.connect(f"file:{host.deployment.db_path}?mode=ro", uri=True, timeout=5) as con:
            return con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='media'").fetchone() is not None
    except sqlite3.Error:
        return False


def _binary_check(serves_media: bool | None, reachable: bool, host: Host, base: str) -> Check:
    """Which build serves: a DB rollback only helps together with a pre-migration binary."""
    name = "pre_migration_binary"
    if not reachable:
        return Check(name=name, passed=False, detail=f"not run: API unreachable at {base}")
    if serves_media is None:
        return Check(name=name, passed=False, detail=f"GET {base}/api/cdn/media/all did not answer")
    if serves_media:
        return Check(name=name, passed=False, detail=UPLOADS_FAIL if not _media_table(host) else UPLOADS_TO_MEDIA)
    return Check(
        name=name, passed=True, detail="no media routes (GET /api/cdn/media/all is 404): a pre-migration build"
    )


# -- tail_logs ------------------------------------------------------------------------------


def tail_logs(host: Host, *, lines: int = 100) -> LogsResult:
    """The app's recent log lines, from wherever its controller keeps them."""
    if isinstance(lines, bool) or not isinstance(lines, int) or not 1 <= lines <= MAX_LOG_LINES:
        raise OpInputError("bad_lines", f"lines must be an integer from 1 to {MAX_LOG_LINES}, got {lines!r}")
    ctl, started = host.controller, utcnow()
    source = str(getattr(ctl, "log_source", ctl.kind))
    common: dict[str, Any] = {
        "operation": "tail_logs",
        "controller": ctl.kind,
        "source": source,
        "requested": lines,
        "started_at": started,
    }
    try:
        got = ctl.logs(lines)
    except ControllerError as exc:
        return LogsResult(**common, outcome="failed", summary=f"no logs: {exc}", finished_at=utcnow())
    return LogsResult(
        **common,
        outcome="ok",
        summary=f"last {len(got)} log lines from {source}",
        lines=got[-lines:],
        finished_at=utcnow(),
    )
