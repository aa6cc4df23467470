"""A full incident in the store, driven through the domain service with real agent result shapes.

open → pages (one acked) → option 1: rollback ok, verify fails → option 2: restore (pinned SHA-256)
→ verify ok → restart → tail logs → resolve. Results are dumps of the agent's own result models, so
the record reads the same fields the agent really sends.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.incidents import IncidentService
from ops.models import (
    AppControlResult,
    AppState,
    Check,
    Counts,
    LogsResult,
    LostRow,
    RestoreResult,
    RollbackResult,
    VerifyResult,
)
from tests.unit.bot.conftest import FakeClock

SHA_BACKUP = "ab12cd34" + "0" * 56
SHA_SAFETY = "ee99ff00" + "1" * 56


def _job(
    svc: IncidentService,
    clock: FakeClock,
    inc: str,
    step: str,
    op: str,
    args: dict,
    user: str,
    outcome: str,
    result: dict | None,
    error: dict | None = None,
    minutes: float = 1,
) -> str:
    request_id = f"{inc}.{step}.{op}.{clock.now.timestamp():.0f}"
    assert svc.begin_job(inc, step, op, args, user, request_id) is not None
    clock.advance(minutes=minutes)
    svc.finish_job(request_id, outcome, result, error)
    return request_id


def full_incident(svc: IncidentService, clock: FakeClock) -> str:
    now = clock.now
    inc = svc.open("production", "critical", "media listing 500s after migration", "C0OPS", "U0ALICE").id
    svc.attach_thread(inc, f"{now.timestamp():.6f}")
    svc.store.insert(
        "pages",
        {"incident_id": inc, "user_id": "U0BOB", "role": "DevOps Lead", "paged_at": now.isoformat(), "via": "dm"},
    )
    svc.store.insert(
        "pages",
        {
            "incident_id": inc,
            "user_id": "U0CAROL",
            "role": "Development Lead",
            "paged_at": now.isoformat(),
            "via": "dm",
        },
    )
    clock.advance(minutes=2)
    svc.store.cond_update(
        "pages", {"incident_id": inc, "user_id": "U0BOB"}, {"acked_by": "U0BOB", "acked_at": clock.now.isoformat()}
    )
    svc.record(inc, "page.acked", "U0BOB", user_id="U0BOB", role="DevOps Lead")
    svc.transition(inc, "immediate.alert-team", "done", "U0ALICE")
    ctl = AppControlResult(
        operation="stop_app",
        outcome="ok",
        summary="stopped (systemd)",
        action="stop",
        controller="systemd",
        before=AppState(running=True, detail="active"),
        after=AppState(running=False, detail="inactive"),
    )
    _job(svc, clock, inc, "immediate.stop-app", "stop_app", {}, "U0BOB", "ok", ctl.model_dump(mode="json"))
    svc.choose_option(inc, 1, "U0BOB")
    rb = RollbackResult(
        outcome="ok",
        summary="rolled back: media dropped, 1 row lost",
        marker_mode="hard",
        action="rollback",
        backup="pre-rollback-20250102.db",
        backup_sha256=SHA_SAFETY,
        lost_rows=[
            LostRow(
                id=17, file_name="after.png", type="image", reason="uploaded after the migration", file_on_disk=True
            )
        ],
        counts_before=Counts(images_live=10, images_raw=10, docs_live=4, docs_raw=4, media_live=15, media_raw=15),
        counts_after=Counts(images_live=10, images_raw=10, docs_live=4, docs_raw=4),
    )
    _job(svc, clock, inc, "opt1.run-rollback", "rollback", {}, "U0BOB", "ok", rb.model_dump(mode="json"))
    bad = VerifyResult(
        outcome="failed",
        summary="2 checks failed",
        failed_checks=["baseline_counts", "files_present"],
        checks=[
            Check(name="media_absent", passed=True),
            Check(name="baseline_counts", passed=False, detail="images 9 != 10"),
            Check(name="files_present", passed=False, detail="uploads/images/a.png missing"),
        ],
    )
    _job(svc, clock, inc, "opt1.verify", "verify", {}, "U0BOB", "failed", bad.model_dump(mode="json"))
    svc.record(inc, "fallback.offered", "rollback-bot", "opt1.verify", option=2)
    svc.choose_option(inc, 2, "U0BOB")
    svc.choose_backup(inc, "pre-migration-20250101.db", "U0BOB")
    restore = RestoreResult(
        outcome="ok",
        summary="restored pre-migration-20250101.db",
        backup="pre-migration-20250101.db",
        backup_sha256=SHA_BACKUP,
        expected_sha256=SHA_BACKUP,
        backup_integrity="ok",
        pre_restore_backup="pre-restore-20250102.db",
        pre_restore_sha256=SHA_SAFETY,
        restored_sha256=SHA_BACKUP,
        integrity_after="ok",
        counts_before=Counts(images_live=9, docs_live=4),
        counts_after=Counts(images_live=10, images_raw=10, docs_live=4, docs_raw=4),
    )
    _job(
        svc,
        clock,
        inc,
        "opt2.restore",
        "restore",
        {"backup": "pre-migration-20250101.db", "expected_sha256": SHA_BACKUP},
        "U0BOB",
        "ok",
        restore.model_dump(mode="json"),
    )
    good = VerifyResult(
        outcome="ok",
        summary="all checks passed",
        checks=[Check(name="media_absent", passed=True)],
        baseline_source="backup:pre-migration-20250101.db",
    )
    _job(
        svc,
        clock,
        inc,
        "opt2.verify",
        "verify",
        {"baseline_backup": "pre-migration-20250101.db"},
        "U0BOB",
        "ok",
        good.model_dump(mode="json"),
    )
    start = ctl.model_copy(update={"operation": "start_app", "action": "start", "summary": "started; API answers"})
    _job(svc, clock, inc, "post.restart-app", "start_app", {}, "U0BOB", "ok", start.model_dump(mode="json"))
    logs = LogsResult(
        operation="tail_logs",
        outcome="ok",
        summary="100 lines",
        controller="systemd",
        source="journalctl",
        requested=100,
        lines=["GET /api/cdn/image/all 200", "pipe | inside"],
    )
    _job(
        svc, clock, inc, "post.monitor.logs", "tail_logs", {"lines": 100}, "U0CAROL", "ok", logs.model_dump(mode="json")
    )
    clock.advance(minutes=1)
    svc.resolve(inc, "U0ALICE", "resolved after 12 min")
    return inc


T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
