"""Choosing a rollback option is a step kind (``option_choice``) that leads its option section, but
no checklist item: it has no store row and stays out of every count."""

from __future__ import annotations

import pytest

from bot.runbook import OptionChoiceStep, Runbook, RunbookError, load_runbook, parse_runbook

SECTION_OPTION = """
sections:
  - id: a
    title: A
    steps: [{id: a.look, title: Look}]
  - id: b
    title: Option 2
    option: 2
    option_label: if option 1 fails
    steps: [{id: b.pick, title: Pick, kind: backup_choice}]
"""
OPTION_STEP = """
sections:
  - id: a
    title: A
    steps: [{id: a.look, title: Look}]
  - id: b
    title: Option 2
    option_label: if option 1 fails
    steps:
      - {id: b.choose-option, kind: option_choice, option: 2}
      - {id: b.pick, title: Pick, kind: backup_choice}
"""


@pytest.fixture(scope="module")
def runbook() -> Runbook:
    return load_runbook()


def test_each_option_section_is_led_by_its_option_choice_step(runbook: Runbook) -> None:
    for number, section in zip((1, 2, 3), runbook.options(), strict=True):
        step = section.steps[0]
        assert isinstance(step, OptionChoiceStep) and step.option == number == section.option
        assert section.option_step is step and step.title == section.option_label
    assert all(s.option_step is None for s in runbook.sections if s.option is None)


def test_the_option_choice_steps_are_no_checklist_items(runbook: Runbook) -> None:
    choices = {s.option_step.id for s in runbook.options() if s.option_step is not None}
    assert choices == {"opt1.choose-option", "opt2.choose-option", "opt3.choose-option"}
    assert not OptionChoiceStep.counts_as_checklist_item
    walked = [step.id for section in runbook.sections for step, _ in section.walk()]
    assert len(walked) == 49 + 3 and choices <= set(walked)
    assert len(runbook.step_ids()) == 49 and not choices & set(runbook.step_ids())
    assert not choices & {step.id for _, step, _ in runbook.iter_steps()}
    with pytest.raises(KeyError):
        runbook.step("opt1.choose-option")  # no state of its own to look up or change


def test_a_section_with_option_n_and_no_step_gets_the_step_implied() -> None:
    implied, written = parse_runbook(SECTION_OPTION), parse_runbook(OPTION_STEP)
    assert implied == written
    section = implied.option(2)
    assert section.id == "b" and section.option_label == "if option 1 fails"
    assert section.option_step == OptionChoiceStep(id="b.choose-option", title="if option 1 fails", option=2)
    assert implied.step_ids() == ["a.look", "b.pick"]
    assert implied.section("a").option is None


def test_the_default_runbook_written_the_old_way_is_the_same_runbook(runbook: Runbook) -> None:
    from importlib import resources

    text = resources.files("bot.runbook").joinpath("default.yaml").read_text(encoding="utf-8")
    old = text
    for n in (1, 2, 3):
        step = f"      - id: opt{n}.choose-option\n        kind: option_choice\n        option: {n}\n"
        assert step in old
        old = old.replace(step, "").replace(f"  - id: opt{n}\n", f"  - id: opt{n}\n    option: {n}\n")
    assert parse_runbook(old) == runbook


def test_an_option_choice_without_a_label_says_this_path() -> None:
    rb = parse_runbook("sections: [{id: b, title: B, option: 1, steps: [{id: b.x, title: X}]}]")
    assert rb.option(1).steps[0].title == "this path"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (
            "sections: [{id: b, title: B, option: 1, steps: [{id: b.c, kind: option_choice, option: 2}]}]",
            "option 1 differs from its option_choice step",
        ),
        (
            "sections: [{id: b, title: B, steps: [{id: b.x, title: X}, {id: b.c, kind: option_choice, option: 1}]}]",
            "one option_choice step at most, and only as its first step",
        ),
        (
            "sections: [{id: b, title: B, steps: [{id: b.c, kind: option_choice, option: 1},"
            " {id: b.d, kind: option_choice, option: 2}]}]",
            "one option_choice step at most",
        ),
        (
            "sections: [{id: b, title: B, steps: [{id: b.x, title: X,"
            " children: [{id: b.c, title: C, kind: option_choice, option: 1}]}]}]",
            "only as its first step",
        ),
        (
            "sections: [{id: b, title: B, steps: [{id: b.c, kind: option_choice, option: 1, commands: [ls]}]}]",
            "an option_choice step has no commands",
        ),
        ("sections: [{id: b, title: B, steps: [{id: b.c, kind: option_choice}]}]", "steps.0.option: Field required"),
        (
            "sections: [{id: a, title: A, option: 1}, {id: b, title: B, option: 1}]",
            "duplicate option numbers [1, 1]",
        ),
        (
            "sections: [{id: a, title: A, option: 1, steps: [{id: a.choose-option, title: X}]}]",
            "duplicate step id 'a.choose-option'",
        ),
    ],
)
def test_bad_option_choices_are_named(body: str, needle: str) -> None:
    with pytest.raises(RunbookError) as info:
        parse_runbook(body, source="custom.yaml")
    assert needle in str(info.value)
