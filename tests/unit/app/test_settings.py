import subprocess
import sys

import pytest

from app.settings import BotConfigError, load_settings

BASE = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for k in list(os.environ):
        if k.startswith(("SLACK_", "ROLLBACK_")) or k in ("PORT", "HOST"):
            monkeypatch.delenv(k)


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in BASE.items():
        monkeypatch.setenv(k, v)
    s = load_settings()
    assert s.slack_api_base_url == "https://slack.com/api/"
    assert str(s.rollback_store_path) == "rollback-bot.db"
    assert s.socket_mode is False
    assert s.environments == ["production"]


def test_agents_operators_and_app_token(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in BASE.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("ROLLBACK_AGENTS", '{"staging": {"url": "http://127.0.0.1:9/", "secret": "x"}}')
    monkeypatch.setenv("ROLLBACK_OPERATORS", "U1, U2,")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1")
    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    s = load_settings()
    assert s.signing_secret is None
    assert s.rollback_agents["staging"].url == "http://127.0.0.1:9"
    assert s.rollback_operators == ["U1", "U2"]
    assert s.socket_mode
    assert s.environments == ["production", "staging"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "SLACK_BOT_TOKEN is missing"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET is missing"),
        ({"SLACK_BOT_TOKEN": "xoxp-user"}, "SLACK_BOT_TOKEN"),
        ({**BASE, "SLACK_APP_TOKEN": "xoxb-wrong"}, "SLACK_APP_TOKEN"),
        ({**BASE, "PORT": "http"}, "PORT"),
        ({**BASE, "ROLLBACK_AGENTS": "{not json"}, "ROLLBACK_AGENTS"),
        ({**BASE, "ROLLBACK_AGENTS": '{"p": {"url": "ftp://x", "secret": "s"}}'}, "ROLLBACK_AGENTS"),
        ({**BASE, "ROLLBACK_RUNBOOK_PATH": "/nonexistent/runbook.yaml"}, "ROLLBACK_RUNBOOK_PATH"),
        ({**BASE, "SLACK_API_BASE_URL": "localhost:1"}, "SLACK_API_BASE_URL"),
        ({**BASE, "ROLLBACK_STORE_PATH": ""}, "ROLLBACK_STORE_PATH must name a SQLite file"),
        ({**BASE, "ROLLBACK_STORE_PATH": "/tmp"}, "ROLLBACK_STORE_PATH.*is a folder"),
        ({**BASE, "ROLLBACK_TIME_ZONE": "Mars/Olympus"}, "ROLLBACK_TIME_ZONE unknown time zone 'Mars/Olympus'"),
        ({**BASE, "ROLLBACK_TIME_ZONE": "../etc/passwd"}, "ROLLBACK_TIME_ZONE unknown time zone"),
    ],
)
def test_bad_config_names_the_variable(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(BotConfigError, match=message):
        load_settings()


def test_cli_exits_2_with_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {"PATH": "/usr/bin:/bin", "SLACK_BOT_TOKEN": "xoxb-1"}
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli", "check-config"], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "rollback-bot: config error: SLACK_SIGNING_SECRET is missing (required unless SLACK_APP_TOKEN is set)"
    ]


def test_exported_env_example_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every line of .env.example, exported as is, gives a working config (empty means unset)."""
    from pathlib import Path

    for line in (Path(__file__).parents[3] / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            monkeypatch.setenv(key, value)
    s = load_settings()
    assert s.rollback_runbook_path is None and s.slack_app_token is None and s.rollback_operator_group is None
    assert s.rollback_operators == ["U0123ABCD", "U0456EFGH"]
