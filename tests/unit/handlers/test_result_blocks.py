"""Job result messages rendered from REAL op results on fixture deployments: the facts an on-call
engineer needs are there, agent text can't ping anyone, and nothing breaks Block Kit limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from handlers.limits import MAX_OPTION_TEXT, MAX_OPTION_VALUE, limit_violations
from handlers.message import SlackMessage
from handlers.results import (
    backup_select,
    job_result_message,
    job_running_message,
    unselectable_backups,
)
from ops.app_ops import check_api, start_app, stop_app, tail_logs
from ops.backups import create_backup, list_backups, restore_backup
from ops.dry_run import dry_run
from ops.errors import OpError, OpInputError, OpRefused
from ops.files import restore_files
from ops.host import Host
from ops.models import OpResult
from ops.rollback import rollback
from ops.status import status
from ops.verify import verify
from sandbox.gofastcdn_fixture import (
    FixedStateController,
    FixtureInfo,
    build_migrated_deployment,
    build_pre_migration_deployment,
    leave_journal,
    make_gofastcdn_backup,
    migrate,
    remove_file,
    write_garbage_backup,
)

EVIL = "<!channel>.png"


@pytest.fixture
def migrated(tmp_path: Path) -> FixtureInfo:
    return build_migrated_deployment(tmp_path / "gfc", uploads_after=("after-migration.png", EVIL))


def render(res: OpResult, **kw: Any) -> SlackMessage:
    args: dict[str, Any] = dict(
        operation=res.operation,
        outcome=res.outcome,
        result=res.model_dump(mode="json"),
        error=None,
        environment="production",
        step_title="Run rollback script",
        started_by="U1",
        duration_s=3.25,
    )
    args.update(kw)
    return job_result_message(**args)


def render_error(exc: OpError, operation: str) -> SlackMessage:
    return job_result_message(
        operation=operation,
        outcome=exc.kind,
        result=None,
        error=exc.to_dict(),
        environment="production",
        step_title="Run rollback script",
        started_by="U1",
        duration_s=0.1,
    )


def everything(msg: SlackMessage) -> str:
    """All text Slack would parse: the blocks (JSON-decoded strings) plus the fallback text."""
    out: list[str] = [msg.text]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, str):
            out.append(node)

    walk(msg.blocks)
    return "\n".join(out)


def headline(msg: SlackMessage) -> str:
    return str(msg.blocks[0]["text"]["text"])


def assert_fits(msg: SlackMessage) -> None:
    assert limit_violations(msg.blocks) == []
    assert len(msg.text) <= 3000
    json.dumps(msg.blocks)  # what chat.postMessage sends


# --- rollback ---------------------------------------------------------------------------------------
def test_rollback_shows_backup_sha_marker_counts_and_lost_rows(migrated: FixtureInfo) -> None:
    res = rollback(migrated.host(running=False))
    assert res.backup and res.backup_sha256
    msg = render(res)
    text = everything(msg)
    assert headline(msg).startswith(":white_check_mark: `rollback` succeeded on `production`:")
    assert res.backup in text and res.backup_sha256[:12] in text
    assert res.backup_sha256[:13] not in text  # only the prefix
    assert "after-migration.png" in text and "LOSES" in text
    assert "2 media row(s)" in text
    assert "`after-migration.png` · image · created " in text and "uploaded after the migration" in text
    assert "on disk in uploads/media" in text
    assert "live (created" in text and "→ absent" in text
    assert "`media`" in text  # dropped objects
    # counts before -> after: images 3 live / 4 raw stay, media 7/7 -> no table
    assert "images    3/4     →  3/4" in text
    assert "media     7/7     →  -" in text
    assert "<@U1>" in text and "Run rollback script" in text and "3.2 s" in text
    assert_fits(msg)


def test_agent_values_cannot_ping_or_link(migrated: FixtureInfo) -> None:
    msg = render(rollback(migrated.host(running=False)))
    text = everything(msg)
    assert "<!channel>" not in text
    assert "&lt;!channel&gt;.png" in text
    assert "<@U1>" in text  # our own mention survives


def test_rollback_noop_is_not_shown_as_success(tmp_path: Path) -> None:
    info = build_pre_migration_deployment(tmp_path / "gfc")
    res = rollback(info.host(running=False))
    msg = render(res)
    assert res.outcome == "noop"
    assert headline(msg).startswith(":information_source: `rollback` on `production`: nothing to do:")
    assert "LOSES" not in everything(msg)


def test_huge_rollback_result_fits_and_says_how_many_more(migrated: FixtureInfo) -> None:
    data = rollback(migrated.host(running=False)).model_dump(mode="json")
    template = data["lost_rows"][0]
    data["lost_rows"] = [
        {**template, "id": 1000 + i, "file_name": f"lost-{i:04d}-" + "x" * 200 + ".png", "reason": "r" * 3000}
        for i in range(1000)
    ]
    data["deletes_undone"] = data["lost_rows"][:300]
    data["missing_files"] = [
        {
            "table": "images",
            "id": i,
            "file_name": "m" * 3000,
            "expected_path": "uploads/images/" + "m" * 3000,
            "copy_in_media": True,
        }
        for i in range(500)
    ]
    data["dropped"] = ["idx_" + "d" * 2000] * 200
    data["summary"] = "s&<" * 1000
    data["warnings"] = ["w" * 3000] * 40
    msg = job_result_message(
        operation="rollback",
        outcome="ok",
        result=data,
        error=None,
        environment="production",
        step_title="t" * 3000,
        started_by="U1",
        duration_s=12345.0,
    )
    text = everything(msg)
    assert "1000 media row(s) the rollback LOSES" in text
    shown = len({line[:12] for line in text.splitlines() if line.startswith("• #1")})  # lost and undone rows
    assert 5 <= shown <= 10
    assert "lost-0000-" in text and f"+{1000 - shown} more" in text
    assert "lost-0999-" not in text
    assert "&am…" not in text and "&l…" not in text  # no entity cut in half
    assert "+35 more" in text  # warnings: 5 shown of 40
    assert_fits(msg)


def test_lost_rows_list_stops_at_ten(migrated: FixtureInfo) -> None:
    data = rollback(migrated.host()).model_dump(mode="json")
    data["lost_rows"] = [{**data["lost_rows"][0], "id": i, "file_name": f"f{i:02d}.png"} for i in range(30)]
    msg = job_result_message(
        operation="rollback",
        outcome="ok",
        result=data,
        error=None,
        environment="production",
        step_title="Run rollback script",
        started_by="U1",
        duration_s=None,
    )
    text = everything(msg)
    assert "30 media row(s) the rollback LOSES" in text
    assert "`f09.png`" in text and "`f10.png`" not in text and "\n+20 more" in text


# --- verify -----------------------------------------------------------------------------------------
def test_verify_before_rollback_names_failed_checks_in_headline(migrated: FixtureInfo) -> None:
    res = verify(migrated.host())
    msg = render(res, step_title="Verify")
    head = headline(msg)
    assert head.startswith(":x: `verify` failed on `production`:")
    for name in ("media_absent", "no_live_marker"):
        assert name in head
    assert "kept_tables_present" not in head  # passed
    assert "counts_match_baseline" not in head  # the go-fast-cdn db_backup_*.db is the baseline
    text = everything(msg)
    assert "✗ `media_absent` media present (7 rows)" in text
    assert "✓ `kept_tables_present`" in text
    assert_fits(msg)


def test_verify_after_rollback_passes_every_check(migrated: FixtureInfo) -> None:
    host = migrated.host()
    rollback(host)
    msg = render(verify(host))
    text = everything(msg)
    assert headline(msg).startswith(":white_check_mark: `verify` succeeded")
    assert "✗" not in text
    assert text.count("✓") == 6
    assert "baseline.json" in text


# --- backups ----------------------------------------------------------------------------------------
def _two_pre_migration_backups(tmp_path: Path) -> tuple[FixtureInfo, Host, str, str]:
    """Two go-fast-cdn backups before the migration, then migration and two agent backups after it."""
    info = build_pre_migration_deployment(tmp_path / "gfc")
    older = make_gofastcdn_backup(info.root, datetime(2025, 7, 29, 8, 0, 0)).name
    newer = make_gofastcdn_backup(info.root, datetime(2025, 7, 30, 20, 33, 39)).name
    migrate(info.root)
    host = info.host()
    create_backup(host, label="pre-rollback")
    write_garbage_backup(info.root, "db_backup_20250801-000000.db")
    return info, host, older, newer


def test_backups_list_table_stars_the_newest_pre_migration(tmp_path: Path) -> None:
    _, host, older, newer = _two_pre_migration_backups(tmp_path)
    res = list_backups(host)
    msg = render(res)
    text = everything(msg)
    starred = [line for line in text.splitlines() if line.startswith("★")]
    assert len(starred) == 1 and newer in starred[0]
    assert "2025-07-30 20:33" in starred[0] and "pre-migration" in starred[0]
    sha = next(b.sha256 for b in res.backups if b.name == newer)
    assert sha[:12] in starred[0]
    assert older in text
    assert any("db_backup_20250801-000000.db" in line and "INVALID" in line for line in text.splitlines())
    # newest first: the agent backup (taken now) comes before 2025's go-fast-cdn ones
    table = text.split("```")[1].splitlines()
    order = [next(i for i, x in enumerate(table) if name in x) for name in ("rollback-agent_", newer, older)]
    assert order == sorted(order)
    assert_fits(msg)


def test_backups_list_500_backups_keeps_the_starred_row(tmp_path: Path) -> None:
    _, host, _, newer = _two_pre_migration_backups(tmp_path)
    data = list_backups(host).model_dump(mode="json")
    template = next(b for b in data["backups"] if b["name"].startswith("rollback-agent_"))
    data["backups"] += [
        {**template, "name": f"rollback-agent_20990101-000000-{i:06d}_bulk.db", "time": f"2099-01-01T00:00:00.{i:06d}Z"}
        for i in range(500)
    ]
    msg = job_result_message(
        operation="backups_list",
        outcome="ok",
        result=data,
        error=None,
        environment="production",
        step_title="List backups",
        started_by="U1",
        duration_s=1.0,
    )
    text = everything(msg)
    assert "504 backup(s)" in text
    assert any(line.startswith("★") and newer in line for line in text.splitlines())
    assert "+489 more (older) not shown" in text
    assert_fits(msg)


def test_backups_create_shows_name_sha_and_integrity(migrated: FixtureInfo) -> None:
    res = create_backup(migrated.host(), label="manual")
    text = everything(render(res))
    assert res.name in text and res.sha256[:12] in text
    assert "*Integrity*\nok" in text


def test_restore_shows_backup_pre_restore_backup_and_era_change(migrated: FixtureInfo) -> None:
    assert migrated.pre_migration_backup
    res = restore_backup(migrated.host(), migrated.pre_migration_backup)
    msg = render(res)
    text = everything(msg)
    assert res.pre_restore_backup and res.pre_restore_backup in text
    assert migrated.pre_migration_backup in text and res.backup_sha256[:12] in text
    assert "a7396e9-media → pre-migration" in text
    assert "media     7/7     →  -" in text
    assert_fits(msg)


# --- backup_select ----------------------------------------------------------------------------------
def test_backup_select_preselects_newest_pre_migration(tmp_path: Path) -> None:
    _, host, older, newer = _two_pre_migration_backups(tmp_path)
    backups = list_backups(host).backups
    sel = backup_select(backups=backups, chosen=None, action_id="pick_backup")
    assert sel is not None
    d = sel.to_dict()
    values = [o["value"] for o in d["options"]]
    assert "db_backup_20250801-000000.db" not in values  # invalid
    assert values[1:] == [newer, older] and values[0].startswith("rollback-agent_")  # newest first
    assert d["initial_option"]["value"] == newer
    labels = {o["value"]: o["text"]["text"] for o in d["options"]}
    assert labels[newer] == f"{newer} · 2025-07-30 20:33 · ★ newest pre-migration"
    assert labels[older] == f"{older} · 2025-07-29 08:00 · pre-migration"
    assert "★" not in labels[values[0]]
    # an agent name (time in the name) drops the separate time rather than lose part of the name
    assert labels[values[0]] == f"{values[0]} · era a7396e9-media"
    assert all(len(x) <= MAX_OPTION_TEXT for x in labels.values())
    assert d["action_id"] == "pick_backup"


def test_backup_select_keeps_a_valid_choice_and_ignores_an_invalid_one(tmp_path: Path) -> None:
    _, host, older, newer = _two_pre_migration_backups(tmp_path)
    backups = list_backups(host).backups
    sel = backup_select(backups=backups, chosen=older, action_id="a")
    assert sel is not None and sel.to_dict()["initial_option"]["value"] == older
    for bad in ("db_backup_20250801-000000.db", "no-such.db"):
        sel = backup_select(backups=backups, chosen=bad, action_id="a")
        assert sel is not None and sel.to_dict()["initial_option"]["value"] == newer


def test_backup_select_none_without_valid_backups(tmp_path: Path) -> None:
    info = build_pre_migration_deployment(tmp_path / "gfc")
    write_garbage_backup(info.root)
    backups = list_backups(info.host()).backups
    assert len(backups) == 1
    assert backup_select(backups=backups, chosen=None, action_id="a") is None
    assert backup_select(backups=[], chosen=None, action_id="a") is None


def test_backup_select_500_backups_long_names(tmp_path: Path) -> None:
    _, host, _, newer = _two_pre_migration_backups(tmp_path)
    backups = list_backups(host).backups
    template = next(b for b in backups if b.name.startswith("rollback-agent_"))
    bulk = [
        template.model_copy(
            update={
                "name": f"zz-{i:04d}-" + "n" * 60 + ".db",
                "kind": "other",  # time from mtime, not in the name: the label keeps it
                "time": datetime(2099, 2, 1, 0, 0, 0, i, tzinfo=UTC),
            }
        )
        for i in range(500)
    ]
    too_long = template.model_copy(update={"name": "l" * 151 + ".db"})
    sel = backup_select(backups=[*backups, *bulk, too_long], chosen=None, action_id="a")
    assert sel is not None
    d = sel.to_dict()
    assert len(d["options"]) == 100
    assert d["initial_option"]["value"] == newer  # older than all 500, still offered and preselected
    assert all(len(o["text"]["text"]) <= MAX_OPTION_TEXT for o in d["options"])
    assert all(len(o["value"]) <= MAX_OPTION_VALUE for o in d["options"])
    assert too_long.name not in [o["value"] for o in d["options"]]
    assert unselectable_backups([*backups, too_long]) == [too_long.name]
    assert d["options"][0]["text"]["text"].endswith(" · 2099-02-01 00:00 · era a7396e9-media")
    assert limit_violations([{"type": "actions", "elements": [d]}]) == []


# --- refusals, bad input, and outcomes decided by the bot -------------------------------------------
def test_journal_refusal_says_unsafe_with_code(migrated: FixtureInfo) -> None:
    leave_journal(migrated.root)
    with pytest.raises(OpRefused) as exc:
        rollback(migrated.host(running=False))
    msg = render_error(exc.value, "rollback")
    head = headline(msg)
    assert head.startswith(":no_entry: `rollback` on `production` refused as unsafe: refusing to roll back:")
    assert "main.db-journal" in head and "(`journal_present`)" in head
    assert_fits(msg)


def test_running_app_refusal(migrated: FixtureInfo) -> None:
    with pytest.raises(OpRefused) as exc:
        rollback(migrated.host(running=True))
    assert "(`app_running`)" in headline(render_error(exc.value, "rollback"))


def test_bad_backup_name_is_rejected_input(migrated: FixtureInfo) -> None:
    with pytest.raises(OpInputError) as exc:
        restore_backup(migrated.host(), "../../etc/<!here>")
    head = headline(render_error(exc.value, "restore"))
    assert head.startswith(":warning: `restore` on `production`: rejected input:")
    assert "(`backup_path_outside`)" in head and "<!here>" not in head and "&lt;!here&gt;" in head


@pytest.mark.parametrize(
    ("outcome", "start"),
    [
        ("unreachable", ":electric_plug: `rollback` on `production`: agent unreachable: "),
        ("timeout", ":hourglass: `rollback` on `production` timed out: "),
        ("protocol", ":interrobang: `rollback` on `production`: unexpected answer from the agent: "),
        ("error", ":boom: `rollback` on `production`: agent error: "),
        ("unauthorized", ":closed_lock_with_key: `rollback` on `production`: agent rejected the bot's signature"),
    ],
)
def test_bot_side_outcomes_with_3000_char_messages(outcome: str, start: str) -> None:
    message = "<!channel> " + "e" * 3000
    msg = job_result_message(
        operation="rollback",
        outcome=outcome,
        result=None,
        error={"kind": outcome, "code": "c" * 300, "message": message},
        environment="production",
        step_title="Run rollback script",
        started_by="U1",
        duration_s=None,
    )
    assert headline(msg).startswith(start)
    assert "<!channel>" not in everything(msg)
    assert_fits(msg)


def test_failed_status_with_no_database(tmp_path: Path) -> None:
    host = Host(
        deployment=build_pre_migration_deployment(tmp_path / "gfc").deployment, controller=FixedStateController()
    )
    host.deployment.db_path.unlink()
    msg = render(status(host))
    assert headline(msg).startswith(":x: `status` failed on `production`: app stopped; no database at")
    assert "database file missing" in everything(msg)


# --- the other operations ---------------------------------------------------------------------------
def test_status_shows_era_marker_journal_and_counts(
    migrated: FixtureInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROLLBACK_AGENT_PROC_ROOT", str(tmp_path))  # no process list: the state is unknown
    leave_journal(migrated.root, "empty")
    res = status(migrated.host(running=None))
    text = everything(render(res))
    assert "`a7396e9-media`" in text and "media schema a7396e9" in text
    assert "live (created " in text
    assert "`main.db-journal`" in text
    assert "unknown" in text
    assert "images  3/4" in text and "docs    2/2" in text and "media   7/7" in text
    assert "main.db-journal present next to the DB" in text  # the warning


def test_restore_files_lists_copied_and_missing(migrated: FixtureInfo) -> None:
    remove_file(migrated.root, "images", "cat.png")
    remove_file(migrated.root, "docs", "notes.txt")
    remove_file(migrated.root, "media", "notes.txt")
    res = restore_files(migrated.host())
    msg = render(res)
    text = everything(msg)
    assert res.outcome == "failed"
    assert "`uploads/images/cat.png`" in text
    assert "*Still missing (1):*" in text and "`uploads/docs/notes.txt` (no copy)" in text


def test_check_api_unreachable_lists_each_check(migrated: FixtureInfo) -> None:
    host = Host(deployment=migrated.deployment, controller=FixedStateController(), api_url="http://127.0.0.1:9")
    res = check_api(host, timeout_s=1)
    msg = render(res)
    head = headline(msg)
    assert head.startswith(":x: `check_api` failed") and "`ping`" in head and "db_read" not in head
    text = everything(msg)
    assert "✓ `db_read`" in text and "✗ `ping`" in text and "✗ `image_listing` not run" in text


class LoudController(FixedStateController):
    def logs(self, lines: int) -> list[str]:
        return [f"line {i:04d} <!here> & `````` done" for i in range(5000)][-lines:]


def test_tail_logs_keeps_the_end_and_escapes(migrated: FixtureInfo) -> None:
    res = tail_logs(Host(deployment=migrated.deployment, controller=LoudController()), lines=5000)
    msg = render(res)
    text = everything(msg)
    assert "line 4999" in text and "line 0000" not in text
    assert "earlier line(s) not shown" in text
    assert "<!here>" not in text and "&lt;!here&gt; &amp;" in text
    body = msg.blocks[2]["text"]["text"]
    assert body.count("```") == 2 and body.endswith("```")
    assert_fits(msg)


def test_stop_and_start_show_before_and_after(migrated: FixtureInfo) -> None:
    host = migrated.host(running=True)
    stop_text = everything(render(stop_app(host)))
    assert "Stop* via `fixed`: running (pid 4242) → stopped" in stop_text
    start = start_app(host, timeout_s=1, wait_api=False)
    assert "Start* via `fixed`: stopped → running (pid 4242)" in everything(render(start))
    noop = render(start_app(host, timeout_s=1, wait_api=False))
    assert headline(noop).startswith(":information_source: `start_app` on `production`: nothing to do: already running")


def test_dry_run_shows_refusal_lost_rows_and_counts(migrated: FixtureInfo) -> None:
    res = dry_run(migrated.host(running=True), "rollback")
    text = everything(render(res))
    assert "would be refused now" in text and "running" in text
    assert "*Rows lost:* 2" in text and "`after-migration.png`" in text
    assert "live (created" in text and "→ absent" in text
    assert "media     7/7     →  -" in text
    assert "The live DB was not changed" in text


# --- unknown shapes, progress -----------------------------------------------------------------------
def test_unknown_operation_falls_back_to_summary_and_five_warnings() -> None:
    result = {
        "operation": "frobnicate",
        "outcome": "ok",
        "summary": "did <it>",
        "warnings": [f"w{i}" for i in range(7)],
    }
    msg = job_result_message(
        operation="frobnicate",
        outcome="ok",
        result=result,
        error=None,
        environment="staging",
        step_title="x",
        started_by="U1",
        duration_s=75,
    )
    text = everything(msg)
    assert headline(msg) == ":white_check_mark: `frobnicate` succeeded on `staging`: did &lt;it&gt;"
    assert "w4" in text and "w5" not in text and "+2 more" in text
    assert "1 min 15 s" in text


def test_result_from_a_different_agent_version_still_renders(migrated: FixtureInfo) -> None:
    data = rollback(migrated.host()).model_dump(mode="json")
    del data["marker_mode"]  # required by this version's model
    data["lost_rows"] = "not a list"
    msg = render(OpResult.model_validate(data), operation="rollback", result=data)
    assert headline(msg).startswith(":white_check_mark: `rollback` succeeded on `production`: dropped")
    assert "LOSES" not in everything(msg)


def test_running_message_shows_last_eight_progress_lines() -> None:
    progress = [f"step {i} <!channel>" + "p" * (400 if i == 19 else 0) for i in range(20)]
    msg = job_running_message(
        operation="rollback",
        environment="production",
        step_title="Run rollback script",
        started_by="U1",
        progress=progress,
    )
    text = everything(msg)
    assert headline(msg) == (
        ":hourglass_flowing_sand: Running `rollback` on `production` (step: Run rollback script) — started by <@U1>"
    )
    assert "step 12 " in text and "step 11 " not in text and "step 19 " in text
    assert "12 earlier line(s) not shown" in text
    assert "<!channel>" not in text
    assert_fits(msg)
    empty = job_running_message(
        operation="rollback", environment="production", step_title="s", started_by="U1", progress=[]
    )
    assert "waiting for the agent" in everything(empty)


def test_running_message_with_huge_lines_fits() -> None:
    msg = job_running_message(
        operation="rollback",
        environment="production",
        step_title="s" * 5000,
        started_by="U1",
        progress=["&" * 3000] * 50,
    )
    assert_fits(msg)


def test_verify_shows_the_checklists_sqlite3_output_and_an_assertion_is_named(
    migrated: FixtureInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ops.control.probe import ProbeController

    monkeypatch.setenv("ROLLBACK_AGENT_PROC_ROOT", str(tmp_path))  # nothing can prove "stopped" here
    url = "http://127.0.0.1:9"
    host = Host(migrated.deployment, ProbeController(url), url)
    text = everything(render(rollback(host, app_stopped_by="U0ALICE")))
    assert "NOT provable here: asserted stopped by <@U0ALICE>" in text
    text = everything(render(verify(host)))
    assert f'$ sqlite3 {migrated.deployment.db_path} ".tables"' in text
    assert "What the checklist's `sqlite3` commands print" in text


def test_inconclusive_verify_headline(tmp_path: Path) -> None:
    from sandbox.gofastcdn_fixture import build_pre_migration_deployment

    info = build_pre_migration_deployment(tmp_path / "pre")
    msg = render(verify(info.host()))
    assert headline(msg).startswith(":grey_question: `verify` on `production` inconclusive: verify INCONCLUSIVE")
