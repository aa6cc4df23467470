"""The page draws whatever Block Kit an app posts, and sends what Slack sends when a person uses it.

The app here is the bot's own bolt App with a few extra listeners registered by the test: a modal
opened with views.open from a click, a view_submission answered with field errors and then
accepted, a static select, a confirm dialog, an uploaded file. Nothing on the page knows them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from slack_sdk import WebClient

from app.sandbox_demo import LiveSandbox
from sandbox.fake_slack.seed import OPS_CHANNEL
from tests.browser.conftest import ARTIFACTS, ConsoleWatch

pytestmark = pytest.mark.timeout(120)

TOUR_BLOCKS: list[dict[str, Any]] = [
    {"type": "header", "text": {"type": "plain_text", "text": "Block Kit tour"}},
    {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": "*Paged* <@U0BOB> and <!subteam^S0ONCALL|@oncall> at <!date^1700000000^{date_num} {time}|Nov 14>; "
            "see <https://example.invalid/runbook|the runbook> and `db_data/main.db`.",
        },
        "fields": [
            {"type": "mrkdwn", "text": "*Severity*\ncritical"},
            {"type": "mrkdwn", "text": "*Environment*\n`staging`"},
        ],
    },
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "_context line_ :white_check_mark:"}]},
    {"type": "divider"},
    {
        "type": "actions",
        "block_id": "tour-actions",
        "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Open form"}, "action_id": "tour_open",
             "style": "primary", "value": "open"},
            {"type": "button", "text": {"type": "plain_text", "text": "Wipe"}, "action_id": "tour_wipe",
             "style": "danger", "value": "wipe", "confirm": {"title": {"type": "plain_text", "text": "Wipe it?"},
                                          "text": {"type": "mrkdwn", "text": "This *cannot* be undone."},
                                          "confirm": {"type": "plain_text", "text": "Wipe"},
                                          "deny": {"type": "plain_text", "text": "Keep it"}, "style": "danger"}},
            {"type": "static_select", "action_id": "tour_pick",
             "placeholder": {"type": "plain_text", "text": "Pick a backup"},
             "options": [{"text": {"type": "plain_text", "text": "backup A"}, "value": "a"},
                         {"text": {"type": "plain_text", "text": "backup B"}, "value": "b"}]},
        ],
    },
]  # fmt: skip

TOUR_MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "tour_modal",
    "title": {"type": "plain_text", "text": "Resolve the tour"},
    "submit": {"type": "plain_text", "text": "Resolve"},
    "close": {"type": "plain_text", "text": "Cancel"},
    "blocks": [
        {"type": "input", "block_id": "cause", "label": {"type": "plain_text", "text": "Root cause"},
         "element": {"type": "plain_text_input", "action_id": "text", "multiline": True}},
        {"type": "input", "block_id": "kind", "label": {"type": "plain_text", "text": "Kind"},
         "element": {"type": "static_select", "action_id": "pick",
                     "options": [{"text": {"type": "plain_text", "text": "data loss"}, "value": "loss"},
                                 {"text": {"type": "plain_text", "text": "outage"}, "value": "outage"}]}},
    ],
}  # fmt: skip


@pytest.fixture
def tour(tmp_path: Path) -> Iterator[tuple[LiveSandbox, list[dict[str, Any]]]]:
    box = LiveSandbox(tmp_path, environments=())
    box.start()
    assert box.bot is not None
    seen: list[dict[str, Any]] = []

    def open_form(ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=TOUR_MODAL)

    def wipe(ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        client.chat_postMessage(channel=OPS_CHANNEL, text=f"wiped by <@{body['user']['id']}>")

    def pick(ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        seen.append(body)
        chosen = body["actions"][0]["selected_option"]["value"]
        client.chat_postEphemeral(channel=OPS_CHANNEL, user=body["user"]["id"], text=f"you picked backup {chosen}")

    def submitted(ack: Any, body: dict[str, Any], client: WebClient) -> None:
        values = body["view"]["state"]["values"]
        seen.append(body)
        cause = values["cause"]["text"]["value"]
        if not cause:
            ack(response_action="errors", errors={"cause": "Say what happened"})
            return
        ack()
        kind = values["kind"]["pick"]["selected_option"]["value"]
        client.files_upload_v2(
            channel=OPS_CHANNEL, filename="record.md", content=f"# Record\n{cause} ({kind})\n", initial_comment="record"
        )

    # Clicks reach the app that handles what the HTTP gate acked; modal submissions reach bolt's.
    for app in (box.bot.app, box.bot.gate.app):
        app.action("tour_open")(open_form)
        app.action("tour_wipe")(wipe)
        app.action("tour_pick")(pick)
        app.view("tour_modal")(submitted)
    client = WebClient(token=box.fake.bot_token, base_url=box.fake.base_url)
    client.chat_postMessage(channel=OPS_CHANNEL, text="Block Kit tour", blocks=TOUR_BLOCKS)
    try:
        yield box, seen
    finally:
        box.stop()


def test_block_kit_renders_and_interacts_as_in_slack(
    tour: tuple[LiveSandbox, list[dict[str, Any]]], browser_page: tuple[Any, ConsoleWatch]
) -> None:
    box, seen = tour
    page, _ = browser_page
    page.goto(box.url + "?user=U0ALICE")
    channel = page.get_by_role("log", name="Channel messages")
    message = channel.locator("article", has_text="Block Kit tour")

    expect(message.get_by_role("heading", name="Block Kit tour")).to_be_visible()
    expect(message).to_contain_text("Paged @bob and @oncall at 2023-11-1")  # date token, viewer's zone
    expect(message.get_by_role("combobox", name="Pick a backup")).to_have_value("")  # nothing chosen yet
    expect(message.get_by_role("link", name="the runbook")).to_have_attribute("href", "https://example.invalid/runbook")
    expect(message.locator("strong", has_text="Severity")).to_be_visible()
    expect(message.locator("code", has_text="staging")).to_be_visible()

    # A danger button's confirm dialog: "Keep it" sends nothing, "Wipe" sends the click.
    message.get_by_role("button", name="Wipe").click()
    dialog = page.get_by_role("alertdialog", name="Wipe it?")
    expect(dialog).to_contain_text("This cannot be undone.")
    dialog.get_by_role("button", name="Keep it").click()
    expect(dialog).to_be_hidden()
    message.get_by_role("button", name="Wipe").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Wipe").click()
    expect(channel.get_by_text("wiped by @alice")).to_be_visible()

    # A static select sends block_actions with the chosen option; the answer is ephemeral.
    message.get_by_role("combobox", name="Pick a backup").select_option(label="backup B")
    expect(channel.locator("article", has_text="you picked backup b")).to_contain_text("Only visible to you")

    # A modal from views.open: field errors keep it open, a good submission closes it.
    message.get_by_role("button", name="Open form").click()
    modal = page.get_by_role("dialog", name="Resolve the tour")
    expect(modal).to_be_visible()
    modal.get_by_label("Kind").select_option(label="outage")
    modal.get_by_role("button", name="Resolve").click()
    expect(modal.get_by_role("alert")).to_have_text("Say what happened")
    modal.get_by_label("Root cause").fill("a stray DELETE on staging")
    modal.get_by_role("button", name="Resolve").click()
    expect(modal).to_be_hidden()
    submission = seen[-1]
    assert submission["type"] == "view_submission"
    assert submission["view"]["state"]["values"]["kind"]["pick"]["selected_option"]["value"] == "outage"

    # The uploaded file appears without a reload and downloads with its content.
    file_link = channel.get_by_role("link", name=re.compile("record.md"))
    expect(file_link).to_be_visible()
    with page.expect_download() as download:
        file_link.click()
    assert Path(download.value.path()).read_text() == "# Record\na stray DELETE on staging (outage)\n"

    # Slack faults are toggles on the page, backed by the fake's failure injection.
    slow = page.get_by_role("button", name="Slow API")
    slow.click()
    expect(slow).to_have_attribute("aria-pressed", "true")
    assert any(f.method == "*" and f.delay_s > 0 for f in box.fake.injections())
    slow.click()
    expect(slow).to_have_attribute("aria-pressed", "false")
    assert not box.fake.injections()

    # Another person sees the channel but not alice's ephemeral.
    page.get_by_label("Acting as").select_option(
        label="Bob Builder (@bob) — operator, Development lead (backup), Stakeholder"
    )
    expect(channel.get_by_text("wiped by @alice")).to_be_visible()
    expect(channel.get_by_text("you picked backup b")).to_have_count(0)
    expect(message.get_by_role("combobox", name="Pick a backup")).to_have_value("")  # a choice is per person
    page.screenshot(path=str(ARTIFACTS / "block-kit-tour.png"))
