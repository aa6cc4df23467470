import pytest

from handlers.command_grammar import CommandUsageError, RollbackCommand, parse_rollback_args, usage

ENVS = ["production", "staging"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", RollbackCommand(environment="production", severity="critical", summary="")),
        ("staging", RollbackCommand(environment="staging", severity="critical", summary="")),
        ("major", RollbackCommand(environment="production", severity="major", summary="")),
        ("Staging MINOR", RollbackCommand(environment="staging", severity="minor", summary="")),
        (
            "production critical media listing 500s",
            RollbackCommand(environment="production", severity="critical", summary="media listing 500s"),
        ),
        (
            "minor  slow   thumbnails",
            RollbackCommand(environment="production", severity="minor", summary="slow thumbnails"),
        ),
    ],
)
def test_valid_commands(text: str, expected: RollbackCommand) -> None:
    assert parse_rollback_args(text, ENVS, "production") == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("urgent", "`urgent` is neither a known environment nor a severity"),
        ("prod critical", "`prod` is neither"),
        ("staging sev1 db broken", "`sev1` is not a severity"),
        ("production media table broken", "`media` is not a severity"),
        ("critical " + "x" * 501, "keep it under 500"),
        ("critical a\x07b", "control characters"),
    ],
)
def test_garbage_is_a_usage_error(text: str, message: str) -> None:
    with pytest.raises(CommandUsageError, match=message.replace("(", r"\(")):
        parse_rollback_args(text, ENVS, "production")


def test_usage_lists_severities_targets_and_environments() -> None:
    text = usage(ENVS, "production")
    for needle in ("critical", "15 min", "major", "1 h", "minor", "4 h", "`production`", "`staging`"):
        assert needle in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("drill", RollbackCommand(environment="production", drill=True)),
        (
            "DRILL staging minor dry run",
            RollbackCommand(environment="staging", severity="minor", summary="dry run", drill=True),
        ),
        ("production critical drill tomorrow", RollbackCommand(environment="production", summary="drill tomorrow")),
    ],
)
def test_drill_is_the_first_word_only(text: str, expected: RollbackCommand) -> None:
    assert parse_rollback_args(text, ["production", "staging"], "production") == expected


def test_drill_then_garbage_is_still_a_usage_error() -> None:
    with pytest.raises(CommandUsageError, match="neither a known environment"):
        parse_rollback_args("drill prodution", ["production"], "production")
