"""Every message the bot builds for the default runbook stays within Block Kit limits, in every state."""

from datetime import UTC, datetime, timedelta

import pytest

from bot.incidents import Incident, StepState
from bot.runbook import load_runbook
from handlers.actions_ids import ActionId, StepRef
from handlers.blocks import incident_parent, section_message
from handlers.limits import BlockLimitError, check_limits, limit_violations

RUNBOOK = load_runbook()
T0 = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


def _incident(**kw: object) -> Incident:
    base = dict(
        id="RB-12",
        environment="production",
        severity="critical",
        target_minutes=15,
        summary="media listing returns 500",
        channel="C1",
        thread_ts="1.0",
        state="open",
        opened_by="U1",
        opened_at=T0,
    )
    base.update(kw)
    return Incident.model_validate(base)


def _steps(state: str, note: str | None = None) -> dict[str, StepState]:
    return {
        step.id: StepState(
            incident_id="RB-12",
            step_id=step.id,
            state=state,
            actor=None if state == "pending" else "U0LONGUSERID",
            at=None if state == "pending" else T0,
            note=note,
        )
        for _, step, _ in RUNBOOK.iter_steps()
    }


def _buttons(blocks: list[dict]) -> list[dict]:
    out = []
    for b in blocks:
        out += [e for e in b.get("elements", []) if e.get("type") == "button"]
        if b.get("accessory", {}).get("type") == "button":
            out.append(b["accessory"])
    return out


@pytest.mark.parametrize("state", ["pending", "running", "done", "skipped", "failed"])
def test_every_section_fits_block_kit_limits(state: str) -> None:
    incident = _incident(summary="x" * 500)
    for section in RUNBOOK.sections:
        msg = section_message(incident, section, _steps(state, note="n" * 1500))
        assert limit_violations(msg.blocks) == []
        assert len(msg.blocks) <= 50


def test_pending_steps_have_done_and_skip_with_decodable_values() -> None:
    section = RUNBOOK.section("immediate")
    msg = section_message(_incident(), section, _steps("pending"))
    buttons = _buttons(msg.blocks)
    step_ids = [s.id for s, _ in section.iter_steps()]
    assert [b["action_id"] for b in buttons] == [ActionId.STEP_DONE, ActionId.STEP_SKIP] * len(step_ids)
    assert [StepRef.decode(b["value"]).step_id for b in buttons[::2]] == step_ids
    assert all(StepRef.decode(b["value"]).incident_id == "RB-12" for b in buttons)


def test_done_step_shows_who_and_when_and_offers_undo() -> None:
    msg = section_message(_incident(), RUNBOOK.section("immediate"), _steps("done"))
    text = msg.blocks[1]["text"]["text"]
    assert "Done by <@U0LONGUSERID> at <!date^" in text and "{date_short_pretty} {time}|" in text
    assert "03:00 UTC>" in text
    assert {b["action_id"] for b in _buttons(msg.blocks)} == {ActionId.STEP_UNDO}


def test_option_sections_offer_an_explicit_choice_until_chosen() -> None:
    opt2 = RUNBOOK.section("opt2")
    msg = section_message(_incident(), opt2, _steps("pending"))
    assert "if option 1 fails" in msg.blocks[0]["text"]["text"]
    choose = [b for b in _buttons(msg.blocks) if b["action_id"] == ActionId.OPTION_CHOOSE]
    assert len(choose) == 1 and choose[0]["text"]["text"] == "Choose option 2"
    chosen = section_message(_incident(chosen_option=2), opt2, _steps("pending"))
    assert not [b for b in _buttons(chosen.blocks) if b["action_id"] == ActionId.OPTION_CHOOSE]
    assert "if both fail" in section_message(_incident(), RUNBOOK.section("opt3"), _steps("pending")).text + str(
        section_message(_incident(), RUNBOOK.section("opt3"), _steps("pending")).blocks[0]
    )


def test_closed_incident_has_no_buttons() -> None:
    msg = section_message(_incident(state="resolved"), RUNBOOK.section("immediate"), _steps("pending"))
    assert _buttons(msg.blocks) == []


def test_parent_message_says_id_severity_target_who_and_when() -> None:
    incident = _incident()
    now = incident.opened_at + timedelta(minutes=3)
    msg = incident_parent(incident, done=3, total=49, agent_url="http://127.0.0.1:8787", now=now)
    flat = str(msg.blocks)
    opened, due = int(incident.opened_at.timestamp()), int(incident.due_at.timestamp())
    for needle in ("RB-12", "critical", "target 15 min", "<@U1>", "Due by", "3/49", "(12 min left)"):
        assert needle in flat
    assert f"<!date^{opened}^{{date_short_pretty}} {{time}}|" in flat and f"<!date^{due}^" in flat
    assert "03:15 UTC>" in flat
    late = incident_parent(incident, done=3, total=49, agent_url=None, now=now + timedelta(minutes=20))
    assert "(8 min overdue)" in str(late.blocks)
    assert "RB-12" in msg.text and "critical" in msg.text
    assert limit_violations(msg.blocks) == []


def test_limit_checker_catches_each_limit() -> None:
    too_many = [{"type": "divider"}] * 51
    long_text = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    long_id = [{"type": "section", "block_id": "b" * 256, "text": {"type": "mrkdwn", "text": "x"}}]
    long_value = [
        {
            "type": "actions",
            "elements": [{"type": "button", "text": {"type": "plain_text", "text": "x"}, "value": "v" * 2001}],
        }
    ]
    for blocks in (too_many, long_text, long_id, long_value):
        with pytest.raises(BlockLimitError):
            check_limits(blocks)


def test_step_ref_rejects_garbage() -> None:
    for bad in ("", "no-separator", "|step", "RB-1|"):
        with pytest.raises(ValueError):
            StepRef.decode(bad)


def _texts(msg: object) -> str:
    return "\n".join(str(b.get("text", {}).get("text", "")) for b in msg.blocks)  # type: ignore[attr-defined]


def test_no_known_broken_command_is_drawn_without_its_warning() -> None:
    """In the thread, each command that lies is followed by its warning, and the real command by hand
    names the environment's deployment folder."""
    from bot.broken_commands import broken_command_warning
    from handlers.blocks import SectionContext

    ctx = SectionContext(agent_url="http://127.0.0.1:1", deployment="/opt/go-fast-cdn")
    shown = 0
    for section in RUNBOOK.sections:
        text = _texts(section_message(_incident(chosen_backup="db_backup_1.db"), section, _steps("pending"), ctx))
        lines = text.splitlines()
        for i, line in enumerate(lines):
            cmd = line.strip("\u2003 ").split("`")[1] if line.strip("\u2003 ").startswith("`") else None
            if cmd and broken_command_warning(cmd):
                shown += 1
                assert ":warning:" in lines[i + 1], (cmd, lines[i + 1])
    assert shown >= 9
    opt1 = _texts(section_message(_incident(), RUNBOOK.section("opt1"), _steps("pending"), ctx))
    assert "`rollback-agent rollback --deployment /opt/go-fast-cdn --yes`" in opt1
    opt3 = _texts(
        section_message(_incident(chosen_backup="db_backup_1.db"), RUNBOOK.section("opt3"), _steps("pending"), ctx)
    )
    assert "`rollback-agent replace-db db_backup_1.db --deployment /opt/go-fast-cdn --yes" in opt3


def test_an_unprovable_stop_offers_a_retry_that_asserts_it() -> None:
    from bot.incidents import UNPROVABLE_NOTE
    from handlers.blocks import SectionContext

    steps = _steps("pending")
    steps["opt1.run-rollback"] = StepState(
        incident_id="RB-12", step_id="opt1.run-rollback", state="failed", actor="U1", at=T0,
        note=f"{UNPROVABLE_NOTE}: refusing to roll back: cannot prove go-fast-cdn is stopped",
    )  # fmt: skip
    msg = section_message(_incident(), RUNBOOK.section("opt1"), steps, SectionContext(agent_url="http://127.0.0.1:1"))
    buttons = [b for b in _buttons(msg.blocks) if b["action_id"] == ActionId.STEP_RETRY_ASSERT_STOPPED]
    assert len(buttons) == 1 and "recorded" in buttons[0]["confirm"]["text"]["text"]
    # not offered for an ordinary failure
    steps["opt1.run-rollback"] = steps["opt1.run-rollback"].model_copy(update={"note": "failed: media still there"})
    msg = section_message(_incident(), RUNBOOK.section("opt1"), steps, SectionContext(agent_url="http://127.0.0.1:1"))
    assert not [b for b in _buttons(msg.blocks) if b["action_id"] == ActionId.STEP_RETRY_ASSERT_STOPPED]
