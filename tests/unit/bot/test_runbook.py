"""The default runbook must be the checklist, item for item, plus the agent wiring."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.broken_commands import broken_command_warning
from bot.runbook import (
    STEP_KINDS,
    AgentOpStep,
    BackupChoiceStep,
    ManualStep,
    Runbook,
    RunbookError,
    load_runbook,
    parse_runbook,
)
from ops.contract import DESTRUCTIVE as DESTRUCTIVE_OPS
from ops.contract import OPERATIONS as AGENT_OPS

REPO = Path(__file__).parents[3]
CHECKLISTS = [
    p
    for p in (
        REPO / "runbooks/EMERGENCY_ROLLBACK_CHECKLIST.md",
        REPO / "shared/reference/EMERGENCY_ROLLBACK_CHECKLIST.md",
        REPO.parent / "shared/reference/EMERGENCY_ROLLBACK_CHECKLIST.md",
    )
    if p.exists()
]

ITEM_RE = re.compile(r"^(?P<indent>\s*)- \[ \] (?P<text>.*)$")
HEADING_RE = re.compile(r"^#{2,3}\s+(?P<title>.*?)\s*$")
BOLD_RE = re.compile(r"\*\*(?P<bold>.+?)\*\*")


def parse_checklist(text: str) -> dict[str, list[tuple[int, str]]]:
    """Checklist headings -> [(depth, title)] of their `- [ ]` items, in order."""
    sections: dict[str, list[tuple[int, str]]] = {}
    heading = ""
    for line in text.splitlines():
        if m := HEADING_RE.match(line):
            heading = m["title"]
        elif m := ITEM_RE.match(line):
            bold = BOLD_RE.search(m["text"])
            title = (bold["bold"] if bold else m["text"]).strip().rstrip(":").strip()
            sections.setdefault(heading, []).append((len(m["indent"]) // 2, title))
    return sections


def yaml_items(rb: Runbook) -> dict[str, list[tuple[int, str]]]:
    out: dict[str, list[tuple[int, str]]] = {}
    for section, step, depth in rb.iter_steps():
        out.setdefault(section.title, []).append((depth, step.title))
    return out


def test_checklist_files_found() -> None:
    assert CHECKLISTS, "no checklist file to compare the runbook with"


@pytest.mark.parametrize("path", CHECKLISTS, ids=lambda p: str(p.relative_to(REPO.parent)))
def test_every_checklist_item_is_a_step(path: Path, runbook: Runbook) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count("- [ ]") == 49
    assert len(list(runbook.iter_steps())) == text.count("- [ ]")

    checklist = parse_checklist(text)
    ours = yaml_items(runbook)
    assert len(checklist) == len(ours) == 7
    for (heading, items), (title, steps) in zip(checklist.items(), ours.items(), strict=True):
        assert heading.startswith(title), (heading, title)
        assert steps == items, title


def test_sections_and_option_labels(runbook: Runbook) -> None:
    assert [s.id for s in runbook.sections] == [
        "immediate",
        "opt1",
        "opt2",
        "opt3",
        "post",
        "comms",
        "followup",
    ]
    assert [(s.option, s.option_label) for s in runbook.options()] == [
        (1, "preferred"),
        (2, "if option 1 fails"),
        (3, "if both fail"),
    ]
    assert runbook.section("opt1").title == "Option 1: Built-in Rollback (Preferred)"
    assert runbook.option(2).title == "Option 2: Backup Restoration"
    assert all(s.option is None for s in runbook.sections if not s.id.startswith("opt"))


def test_ids_are_stable_slugs(runbook: Runbook) -> None:
    ids = runbook.step_ids()
    assert len(ids) == len(set(ids)) == 49
    for section, step, _ in runbook.iter_steps():
        assert len(step.id) <= 60
        assert re.fullmatch(r"[a-z0-9][a-z0-9._-]*", step.id)
        assert step.id.startswith(section.id + ".")
    assert runbook.step("opt1.check-results.media-gone").title == "Media table no longer exists"


EXPECTED_OPS = {
    "immediate.stop-app": "stop_app",
    "immediate.assess": "status",
    "opt1.run-rollback": "rollback",
    "opt1.verify": "verify",
    "opt2.list-backups": "backups_list",
    "opt2.restore": "restore",
    "opt2.verify": "verify",
    "opt3.stop-app": "stop_app",
    "opt3.emergency-backup": "backups_create",
    "opt3.replace-db": "replace_db",
    "opt3.verify-db": "verify",
    "post.restart-app": "start_app",
    "post.verify-app": "check_api",
    "post.monitor": "tail_logs",
    "post.monitor.logs": "tail_logs",
}


def test_agent_ops_mapping(runbook: Runbook) -> None:
    ops = {step.id: step.agent_op for _, step, _ in runbook.iter_steps() if isinstance(step, AgentOpStep)}
    assert ops == EXPECTED_OPS
    assert set(ops.values()) <= set(AGENT_OPS)
    assert agent(runbook, "opt3.emergency-backup").agent_args == {"label": "emergency"}
    for sid in ("opt2.restore", "opt3.replace-db"):
        assert agent(runbook, sid).agent_args_from == "chosen_backup"
    assert runbook.step("opt2.identify-backup").kind == "backup_choice"


def test_destructive_ops_carry_a_confirm_sentence(runbook: Runbook) -> None:
    agent_steps = [s for _, s, _ in runbook.iter_steps() if isinstance(s, AgentOpStep)]
    destructive = [s for s in agent_steps if s.agent_op in DESTRUCTIVE_OPS]
    assert {s.id for s in destructive} == {
        "immediate.stop-app",
        "opt1.run-rollback",
        "opt2.restore",
        "opt3.stop-app",
        "opt3.replace-db",
        "post.restart-app",
    }
    for s in destructive:
        assert s.confirm and len(s.confirm.split()) >= 8, s.id
    assert agent(runbook, "immediate.assess").confirm is None


def test_commands_kept_for_reference(runbook: Runbook) -> None:
    commands = runbook.step("opt1.run-rollback").commands
    assert [(c.run, c.where) for c in commands][0] == ("./scripts/media_migration.sh --rollback", "Linux/macOS")
    assert runbook.step("opt3.verify-db").commands[0].run == 'sqlite3 database.db ".tables"'
    assert runbook.step("immediate.alert-team").detail.startswith("Notify development lead")


def test_no_known_broken_command_is_shown_without_its_warning(runbook: Runbook) -> None:
    """The checklist's go-fast-cdn commands that lie (reference §8) each carry a one-line warning,
    and each step that has one also says what really does it by hand."""
    broken = [(s, c) for _, s, _ in runbook.iter_steps() for c in s.commands if broken_command_warning(c.run)]
    assert {c.run for _, c in broken} >= {
        "./scripts/media_migration.sh --rollback",
        "go run cmd/media_migration/main.go --rollback",
        "./scripts/verify_media_migration.sh",
        "./scripts/db_backup.sh restore -backup /path/to/backup -force",
        "go run main.go",
    }
    for step, cmd in broken:
        assert cmd.warning and "\n" not in cmd.warning.strip(), (step.id, cmd.run)
        assert step.by_hand, step.id
    # every step with a command of its own (or an agent operation) says how to do it for real
    for _, step, _ in runbook.iter_steps():
        if step.commands and not step.children:
            assert step.by_hand, step.id


def test_a_known_broken_command_without_a_warning_is_refused(tmp_path: Path) -> None:
    text = """
sections:
  - id: s
    title: S
    steps:
      - id: s.roll
        title: Roll back
        commands: ['./scripts/media_migration.sh --rollback']
"""
    with pytest.raises(RunbookError, match="known-broken go-fast-cdn command"):
        parse_runbook(text)
    ok = text.replace(
        "commands: ['./scripts/media_migration.sh --rollback']",
        "commands: [{run: './scripts/media_migration.sh --rollback', warning: 'acts on a temp DB'}]",
    )
    assert parse_runbook(ok).step("s.roll").commands[0].warning == "acts on a temp DB"


def test_satisfied_by_names_real_result_checks(runbook: Runbook) -> None:
    assert [str(c) for c in runbook.step("opt1.check-results.media-gone").satisfied_by] == [
        "verify:media_absent",
        "verify:media_indexes_absent",
    ]
    assert [str(c) for c in runbook.step("opt1.check-results.data-present").satisfied_by] == [
        "verify:counts_match_baseline",
        "verify:legacy_files_present",
    ]
    # "upload works" is never ticked by the agent (it does not test uploads), only failed
    for sid in ("post.verify-app.images", "post.verify-app.docs"):
        assert runbook.step(sid).satisfied_by == []
        assert "check_api:pre_migration_binary" in [str(c) for c in runbook.step(sid).failed_by]
    bad = """
sections:
  - id: s
    title: S
    steps:
      - id: s.x
        title: X
        satisfied_by: [verify:media_gone]
"""
    with pytest.raises(RunbookError, match="unknown result check 'verify:media_gone'"):
        parse_runbook(bad)


def test_helpers(runbook: Runbook) -> None:
    assert runbook.section_of("opt2.restore").id == "opt2"
    depths = [(s.id, d) for _, s, d in runbook.iter_steps() if s.id.startswith("opt1.")]
    assert depths[-4:] == [
        ("opt1.check-results", 0),
        ("opt1.check-results.media-gone", 1),
        ("opt1.check-results.tables-intact", 1),
        ("opt1.check-results.data-present", 1),
    ]
    with pytest.raises(KeyError):
        runbook.step("nope")
    with pytest.raises(KeyError):
        runbook.section("nope")


def test_load_from_path_equals_packaged(runbook: Runbook) -> None:
    path = REPO / "bot/runbook/default.yaml"
    assert load_runbook(path) == runbook


GOOD_STEP = "{id: a.one, title: One}"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (
            "sections: [{id: a, title: A, steps: [{id: a.one, title: One, agent_op: format_disk}]}]",
            "sections.0.steps.0.agent_op",
        ),
        (f"sections: [{{id: a, title: A, steps: [{GOOD_STEP}, {GOOD_STEP}]}}]", "duplicate step id 'a.one'"),
        (
            "sections: [{id: a, title: A, steps: [{id: a.one, title: One, agent_op: rollback}]}]",
            "needs a 'confirm' sentence",
        ),
        ("sections: [{id: a, title: A, steps: [{id: 'Bad Id', title: One}]}]", "sections.0.steps.0.id"),
        ("sections: [{id: a, title: A, steps: [{id: a.one, titel: One}]}]", "titel"),
        ("sections: [{id: a, title: A, steps: [{id: " + "x" * 61 + ", title: One}]}]", "longer than 60"),
        ("sections: [{id: a, title: A, steps: [{id: a.one, title: One, agent_args: {x: 1}}]}]", "without agent_op"),
        ("- just a list", "expected a mapping"),
        ("sections: [unclosed", "not valid YAML"),
    ],
)
def test_bad_runbook_file_gives_clear_error(tmp_path: Path, body: str, needle: str) -> None:
    path = tmp_path / "custom.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(RunbookError) as info:
        load_runbook(path)
    message = str(info.value)
    assert str(path) in message
    assert needle in message


def test_missing_runbook_file(tmp_path: Path) -> None:
    with pytest.raises(RunbookError, match="cannot read runbook"):
        load_runbook(tmp_path / "absent.yaml")


def test_parse_minimal_runbook() -> None:
    rb = parse_runbook("sections: [{id: a, title: A, steps: [{id: a.one, title: One, agent_op: status}]}]")
    assert agent(rb, "a.one").agent_op == "status"
    assert rb.options() == []


def agent(runbook: Runbook, step_id: str) -> AgentOpStep:
    step = runbook.agent_step(step_id)
    assert step is not None, step_id
    return step


LEGACY = """
sections:
  - id: a
    title: A
    steps:
      - {id: a.look, title: Look, agent_op: status}
      - {id: a.pick, title: Pick, choice: backup}
      - {id: a.restore, title: Restore, agent_op: restore, agent_args_from: chosen_backup,
         confirm: Restore it now please.}
      - {id: a.talk, title: Talk, children: [{id: a.talk.more, title: More}]}
"""
EXPLICIT = """
sections:
  - id: a
    title: A
    steps:
      - {id: a.look, title: Look, kind: agent_op, agent_op: status}
      - {id: a.pick, title: Pick, kind: backup_choice}
      - {id: a.restore, title: Restore, kind: agent_op, agent_op: restore, agent_args_from: chosen_backup,
         confirm: Restore it now please.}
      - {id: a.talk, title: Talk, kind: manual, children: [{id: a.talk.more, title: More}]}
"""


def test_runbooks_written_before_step_kinds_load_as_the_same_kinds() -> None:
    legacy, explicit = parse_runbook(LEGACY), parse_runbook(EXPLICIT)
    assert legacy == explicit
    kinds = {step.id: type(step) for _, step, _ in legacy.iter_steps()}
    assert kinds == {
        "a.look": AgentOpStep,
        "a.pick": BackupChoiceStep,
        "a.restore": AgentOpStep,
        "a.talk": ManualStep,
        "a.talk.more": ManualStep,
    }
    assert [s.id for s in legacy.backup_choice_steps()] == ["a.pick"]
    assert legacy.agent_step("a.talk") is None and agent(legacy, "a.restore").uses_chosen_backup


def test_every_step_kind_is_in_the_union_once() -> None:
    from typing import get_args

    from bot.runbook.steps import RunbookStep as Union

    members = get_args(get_args(Union)[0])
    declared = [get_args(m)[0].model_fields["kind"].default for m in members]
    assert sorted(declared) == sorted(STEP_KINDS)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("sections: [{id: a, title: A, steps: [{id: a.one, title: One, kind: page_everyone}]}]", "page_everyone"),
        (
            "sections: [{id: a, title: A, steps: [{id: a.one, title: One, kind: manual, agent_op: status}]}]",
            "sections.0.steps.0.agent_op: Extra inputs are not permitted",
        ),
        (
            "sections: [{id: a, title: A, steps: [{id: a.one, title: One, kind: agent_op}]}]",
            "sections.0.steps.0.agent_op: Field required",
        ),
    ],
)
def test_bad_step_kinds_are_named(body: str, needle: str) -> None:
    with pytest.raises(RunbookError) as info:
        parse_runbook(body, source="custom.yaml")
    assert needle in str(info.value)
