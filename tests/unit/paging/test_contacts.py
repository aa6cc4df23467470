"""The contacts file: the packaged example, bad entries (one line naming them, exit 2), no file."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from app import cli
from bot.availability import BusinessHours
from bot.contacts import ContactsError, example_contacts_text, load_contacts, parse_contacts

GOOD = """
roles:
  dev: {users: [U0ALICE], backups: [U0BOB], escalation: [ops]}
  ops: {usergroup: S0ONCALL, availability: {start: 08:00, end: 17:00, tz: Europe/Berlin}}
severities:
  critical: {roles: [dev, ops], ack_timeout_minutes: 2}
"""


def test_the_packaged_example_has_the_checklists_four_roles_and_the_stakeholder_channels() -> None:
    contacts = parse_contacts(example_contacts_text(), "example")
    assert {"development_lead", "devops_lead", "product_manager", "stakeholder"} <= set(contacts.roles)
    assert set(contacts.stakeholders.channels) == {"development_team", "qa", "customer_support", "end_users"}
    assert contacts.roles_for("critical") == ["development_lead", "devops_lead", "product_manager"]


def test_defaults_unquoted_times_and_per_person_hours() -> None:
    contacts = parse_contacts(GOOD + "people:\n  U0ALICE: {availability: {start: '10:00', end: '12:00', tz: UTC}}\n")
    ops = contacts.roles["ops"].availability
    assert isinstance(ops, BusinessHours) and (ops.start, ops.end) == (time(8), time(17))  # YAML 1.1 sexagesimal
    assert contacts.ack_timeout_minutes("critical") == 2
    assert (contacts.ack_timeout_minutes("major"), contacts.ack_timeout_minutes("minor")) == (15, 60)
    assert contacts.roles_for("minor") == []
    assert contacts.escalation.rounds == 2 and contacts.escalation.channel_alert == "<!here>"
    alice = contacts.availability_of("U0ALICE", "dev")
    assert isinstance(alice, BusinessHours) and alice.start == time(10)
    assert contacts.availability_of("U0BOB", None) == "24/7"
    assert contacts.role_name("dev") == "Dev"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (
            "roles: {pm: {users: [U0C], availability: {start: '09:00', end: '17:00', tz: Mars/Olympus}}}",
            "roles.pm.availability.tz: unknown time zone 'Mars/Olympus'",
        ),
        (
            "roles: {pm: {users: [U0C], availability: {start: '17:00', end: '09:00', tz: UTC}}}",
            "roles.pm.availability: end 09:00 is not after start 17:00",
        ),
        ("roles: {pm: {users: []}}", "roles.pm: empty role: give it users and/or a usergroup"),
        (
            "roles: {pm: {users: [U0C]}}\nseverities: {critical: {roles: [pm, cto]}}",
            "severities.critical.roles: unknown role 'cto'",
        ),
        ("roles: {pm: {users: [alice]}}", "roles.pm.users: Value error, 'alice' is not a Slack user id"),
        ("roles: {pm: {users: [U0C], escalation: [boss]}}", "roles.pm.escalation: unknown role 'boss'"),
        ("roles: {pm: {users: [U0C], availability: weekdays}}", "roles.pm.availability: Input should be '24/7'"),
        ("roles: {pm: {users: [U0C]}}\nseverities: {sev1: {roles: [pm]}}", "severities.sev1.[key]"),
        ("roles: {pm: {users: [U0C]}}\nstakeholders: {channels: {qa: '#qa'}}", "qa: '#qa' is not a Slack channel id"),
        ("roles: [", "not valid YAML"),
        ("roles: {}", "roles: Dictionary should have at least 1 item"),
    ],
)
def test_a_bad_entry_is_one_line_naming_it(text: str, line: str, tmp_path: Path) -> None:
    path = tmp_path / "contacts.yaml"
    path.write_text(text)
    with pytest.raises(ContactsError) as err:
        load_contacts(path)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert line.replace("Value error, ", "") in message


def test_no_path_means_no_contacts_and_a_missing_file_is_an_error(tmp_path: Path) -> None:
    assert load_contacts(None) is None
    with pytest.raises(ContactsError, match="cannot read contacts file"):
        load_contacts(tmp_path / "nope.yaml")


def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, contacts: str | None) -> None:
    for var in ("ROLLBACK_CONTACTS_PATH", "SLACK_APP_TOKEN", "ROLLBACK_RUNBOOK_PATH"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    monkeypatch.setenv("ROLLBACK_STORE_PATH", str(tmp_path / "bot.db"))
    if contacts is not None:
        path = tmp_path / "contacts.yaml"
        path.write_text(contacts)
        monkeypatch.setenv("ROLLBACK_CONTACTS_PATH", str(path))


def test_check_config_reports_contacts_or_their_absence(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _env(monkeypatch, tmp_path, None)
    assert cli.main(["check-config"]) == 0
    assert "incidents will page nobody" in capsys.readouterr().out
    _env(monkeypatch, tmp_path, example_contacts_text())
    assert cli.main(["check-config"]) == 0
    out = capsys.readouterr().out
    assert "critical: development_lead, devops_lead, product_manager" in out


@pytest.mark.parametrize("command", ["check-config", "serve"])
def test_a_bad_contacts_file_stops_check_config_and_serve_with_exit_2(
    command: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _env(monkeypatch, tmp_path, "roles: {pm: {users: [U0C], availability: {start: '9:00', end: '8:00', tz: UTC}}}")
    with pytest.raises(SystemExit) as exit_:
        cli.main([command])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err.startswith("rollback-bot: contacts error: ") and "roles.pm.availability: end 08:00" in err
    assert not (tmp_path / "bot.db").exists()  # nothing was started or written
