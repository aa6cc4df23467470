"""A rollback rehearsed by hand on the sandbox page, as a person does it: by visible text and roles.

The bot runs over real HTTP, the agent is a real process on a migrated go-fast-cdn deployment, and
the faults are real changes to that deployment. What is checked is what a person sees on the page.
"""

from __future__ import annotations

import html
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from app.sandbox_demo import LiveSandbox
from tests.browser.conftest import ARTIFACTS, ConsoleWatch

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[LiveSandbox]:
    box = LiveSandbox(tmp_path, environments=("production",))
    try:
        yield box.start()
    finally:
        box.stop()


def act_as(page: Any, label: str) -> None:
    page.get_by_label("Acting as").select_option(label=label)
    expect(page.get_by_role("status")).to_have_text("live")


def step(thread: Any, title: str) -> Any:
    """The buttons of one checklist step, found by the step's visible title."""
    return thread.get_by_role("group", name=re.compile("^" + re.escape(title))).first


def run_step(
    page: Any, thread: Any, title: str, *, button: str = "Run", confirm: str | None = None, succeeds: bool = True
) -> None:
    """Press Run/Retry (and the confirm dialog's button), then wait for the step to show the result."""
    step(thread, title).get_by_role("button", name=button, exact=True).click()
    if confirm:
        dialog = page.get_by_role("alertdialog")
        expect(dialog).to_be_visible()
        dialog.get_by_role("button", name=confirm).click()
        expect(dialog).to_be_hidden()
    group = step(thread, title)
    if succeeds:  # done: only Undo is left (a failed step shows Retry, Done, Skip and Undo)
        expect(group.get_by_role("button", name=re.compile("^(Run|Retry)$"))).to_have_count(0)
        expect(group.get_by_role("button", name="Undo", exact=True)).to_be_visible()
    else:
        expect(group.get_by_role("button", name="Retry", exact=True)).to_be_visible()


def test_rehearse_rollback_with_faults_by_hand(sandbox: LiveSandbox, browser_page: tuple[Any, ConsoleWatch]) -> None:
    page, _ = browser_page
    host = page.get_by_role("region", name="production host")
    channel = page.get_by_role("log", name="Channel messages")
    thread = page.get_by_role("log", name="Thread messages")

    page.goto(sandbox.url + "?user=U0ALICE")
    expect(page.get_by_role("status")).to_have_text("live")
    expect(host.get_by_text("migrated", exact=True)).to_be_visible()
    expect(host).to_contain_text("app running")

    # Open the incident from the composer, as a slash command.
    composer = page.get_by_label("Message #ops-incidents")
    composer.fill("/rollback production critical media listing returns 500")
    composer.press("Enter")
    expect(channel.get_by_role("heading", name=re.compile(r"RB-1: emergency"))).to_be_visible()
    expect(channel).to_contain_text("@alice")  # the opener's mention is rendered as a name
    channel.get_by_role("button", name=re.compile(r"\d+ replies")).click()
    expect(step(thread, "Stop the application")).to_be_visible()

    # Alice is paged by DM (development lead, and devops lead through the on-call group); she acknowledges.
    page.get_by_role("navigation").get_by_role("button", name="Rollback Bot").click()
    dm_page = channel.locator("article", has_text="you are paged as Development lead")
    dm_page.get_by_role("button", name="Acknowledge").click()
    expect(channel.get_by_role("heading", name=re.compile("RB-1: Development lead acknowledged"))).to_be_visible()
    expect(channel.locator("article", has_text="Development lead acknowledged")).to_contain_text("Acknowledged by you")
    page.get_by_role("navigation").get_by_role("button", name="# ops-incidents").click()
    channel.get_by_role("button", name=re.compile(r"\d+ replies")).click()
    expect(thread).to_contain_text("acknowledged")

    # A person who is not an operator presses Run: the bot refuses, to them only.
    act_as(page, "Carol Oncall (@carol) — not an operator, Product manager")
    channel.get_by_role("button", name=re.compile(r"\d+ replies")).click()
    step(thread, "Stop the application").get_by_role("button", name="Run", exact=True).click()
    page.get_by_role("alertdialog").get_by_role("button", name="Run stop_app").click()
    refusal = thread.locator("article", has_text="Only operators can")
    expect(refusal).to_contain_text("Only visible to you")
    expect(host).to_contain_text("app running")

    # An operator stops the app, and a thread reply reaches the bot as a message event.
    act_as(page, "Alice Admin (@alice) — operator, Development lead")
    channel.get_by_role("button", name=re.compile(r"\d+ replies")).click()
    expect(thread.locator("article", has_text="Only operators can")).to_have_count(0)  # carol's, not alice's
    run_step(page, thread, "Stop the application", confirm="Run stop_app")
    expect(host).to_contain_text("app stopped")
    expect(thread).to_contain_text("stopped")
    reply = page.get_by_label("Reply in thread")
    reply.fill("app is down, rolling back now")
    reply.press("Enter")
    expect(thread.get_by_text("app is down, rolling back now")).to_be_visible()

    # A crashed writer's journal next to the DB: the agent refuses the rollback, nothing is touched.
    host.get_by_role("button", name="Hot journal").click()
    expect(host.get_by_role("button", name="Hot journal")).to_have_attribute("aria-pressed", "true")
    expect(host.get_by_role("definition").filter(has_text="main.db-journal")).to_be_visible()
    thread.get_by_role("button", name="Choose option 1").click()
    run_step(page, thread, "Run rollback script", confirm="Run rollback", succeeds=False)
    expect(thread).to_contain_text("journal")
    expect(host.get_by_text("migrated", exact=True)).to_be_visible()

    # The teammate's journal is dealt with; Retry runs the rollback for real.
    host.get_by_role("button", name="Hot journal").click()
    expect(host.get_by_role("definition").filter(has_text="main.db-journal")).to_have_count(0)
    run_step(page, thread, "Run rollback script", button="Retry", confirm="Retry rollback")
    expect(host.get_by_text("rolled back", exact=True)).to_be_visible()

    # Someone runs a stray DELETE by hand: the verify fails and option 2 is offered.
    images_before = image_count(sandbox)
    host.get_by_role("button", name="Stray DELETE").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Stray DELETE").click()
    expect(host).to_contain_text(f"images {images_before - 1}")
    run_step(page, thread, "Verify rollback success", succeeds=False)
    offer = thread.locator("article", has_text="Option 1 failed")
    expect(offer).to_be_visible()
    expect(offer.get_by_role("combobox")).to_have_value(re.compile(r"db_backup_.*\.db"))  # preselected backup
    offer.get_by_role("button", name="Choose option 2").click()
    expect(thread).to_contain_text("Option 2 is the chosen path")

    run_step(page, thread, "Restore from backup", confirm="Run restore")
    expect(host.get_by_text("pre-migration", exact=True)).to_be_visible()
    run_step(page, thread, "Verify restoration success")
    run_step(page, thread, "Restart the application", confirm="Run start_app")
    expect(host).to_contain_text("app running")
    run_step(page, thread, "Verify application functionality")

    # 📌 on the parent, added by a person.
    parent = thread.locator("article").first
    parent.get_by_role("button", name="Add reaction").click()
    parent.get_by_role("button", name="React with :pushpin:").click()
    expect(parent.get_by_role("button", name=":pushpin: 1")).to_be_visible()

    send_stakeholder_notice(page, thread)
    markdown = resolve_with_record(page, thread)
    page.screenshot(path=str(ARTIFACTS / "drill-thread.png"), full_page=True)
    screenshot_record(page, markdown)
    check_record(markdown)
    assert sandbox.bot is not None and sandbox.bot.deps.service.open_for("production") is None  # resolved
    said = [e.data.get("text") for e in sandbox.bot.deps.service.events("RB-1") if e.kind == "thread.message"]
    assert said == ["app is down, rolling back now"]


def send_stakeholder_notice(page: Any, thread: Any) -> None:
    """Communication: the prefilled notice, edited, sent to three of the four audiences."""
    channel = page.get_by_role("log", name="Channel messages")
    step(thread, "Notify stakeholders").get_by_role("button", name="Send stakeholder notice").click()
    modal = page.get_by_role("dialog", name="Stakeholder notice")
    notice = modal.get_by_role("textbox", name="Notice")
    draft = notice.input_value()
    assert draft.startswith("URGENT: Media Migration Rollback Initiated"), draft
    assert "Environment: production" in draft and "Method: Option 2" in draft, draft
    notice.fill(draft + "\nUploads are paused until 20:30 UTC; the status page has the details.")
    audiences = modal.get_by_role("group", name="Send to")
    expect(audiences.get_by_role("checkbox")).to_have_count(4)
    audiences.get_by_role("checkbox", name=re.compile("^End users")).uncheck()
    modal.get_by_role("button", name="Send notice").click()
    expect(modal).to_be_hidden()

    # The thread links the notice in each channel it reached; the reached audiences' steps are ticked.
    sent = thread.locator("article", has_text="sent the stakeholder notice")
    expect(sent).to_contain_text("URGENT: Media Migration Rollback Initiated")
    for label in ("Development team", "Quality assurance team", "Customer support team"):
        expect(sent.get_by_role("link", name=re.compile(label))).to_be_visible()
        expect(step(thread, label).get_by_role("button", name="Undo", exact=True)).to_be_visible()
    expect(sent).not_to_contain_text("End users")
    expect(step(thread, "End users").get_by_role("button", name="Done", exact=True)).to_be_visible()
    expect(thread).to_contain_text("notice sent to #dev")

    # The notice itself, as the audiences see it in their channels; #status (end users) got nothing.
    sent.get_by_role("link", name=re.compile("Quality assurance team")).click()
    expect(page.get_by_role("heading", name="# qa")).to_be_visible()
    posted = channel.locator("article", has_text="URGENT: Media Migration Rollback Initiated")
    expect(posted).to_contain_text("Uploads are paused until 20:30 UTC")
    expect(posted).to_contain_text("Sent by @alice for RB-1")
    for name in ("# dev", "# support"):
        page.get_by_role("navigation").get_by_role("button", name=name).click()
        expect(posted).to_contain_text("Uploads are paused until 20:30 UTC")
    page.get_by_role("navigation").get_by_role("button", name="# status").click()
    expect(channel.locator("article")).to_have_count(0)
    page.get_by_role("navigation").get_by_role("button", name="# ops-incidents").click()
    channel.get_by_role("button", name=re.compile(r"\d+ replies")).click()


RECORD_HEADINGS = (
    "## Summary",
    "## Metrics",
    "## Root cause",
    "## Resolution",
    "## Lessons learned",
    "## Pages and acknowledgements",
    "## Timeline",
    "## Checklist",
    "## Agent operations",
    "## Resolution steps",
)


def resolve_with_record(page: Any, thread: Any) -> str:
    """Resolve from the parent: the prefilled dialog completed by hand; returns the record's Markdown."""
    parent = thread.locator("article").first
    parent.get_by_role("button", name="Resolve incident").click()
    modal = page.get_by_role("dialog", name="Resolve RB-1")
    root_cause = modal.get_by_role("textbox", name="Root cause", exact=True)
    resolution = modal.get_by_role("textbox", name="Resolution", exact=True)
    expect(root_cause).to_have_value(re.compile("media listing returns 500"))  # the bot's prefill
    expect(resolution).to_have_value(re.compile(r"Restored db_backup_\S+\.db"))
    root_cause.fill("The media migration broke the listing; after the rollback a stray DELETE removed an image.")
    resolution.fill(resolution.input_value() + " Uploads re-enabled after the checks.")
    lessons = modal.get_by_role("textbox", name=re.compile("^Lessons learned"))
    lessons.fill("Nobody runs SQL on main.db during a rollback.")
    modal.get_by_role("button", name="Resolve", exact=True).click()
    expect(modal).to_be_hidden()

    # The parent says resolved, offers Reopen instead of Resolve, and links the record.
    expect(parent).to_contain_text("resolved by @alice")
    expect(parent.get_by_role("button", name="Reopen incident")).to_be_visible()
    expect(parent.get_by_role("button", name="Resolve incident")).to_have_count(0)
    record_link = parent.get_by_role("link", name="incident record v1")
    expect(record_link).to_be_visible()

    # The thread has the uploaded Markdown; it downloads, from the file and from the parent's link.
    upload = thread.get_by_role("link", name=re.compile("RB-1 incident record, version 1"))
    expect(upload).to_contain_text("RB-1-record-v1.md")
    with page.expect_download() as from_thread:
        upload.click()
    with page.expect_download() as from_parent:
        record_link.click()
    assert from_thread.value.suggested_filename == "RB-1-record-v1.md"
    markdown = Path(from_thread.value.path()).read_text(encoding="utf-8")
    assert Path(from_parent.value.path()).read_text(encoding="utf-8") == markdown
    upload.scroll_into_view_if_needed()  # the thread's screenshot ends on the record file
    return markdown


def check_record(markdown: str) -> None:
    assert markdown.startswith("# RB-1: production media migration rollback — resolved"), markdown[:200]
    positions = [markdown.find("\n" + h + "\n") for h in RECORD_HEADINGS]
    assert all(p > 0 for p in positions), dict(zip(RECORD_HEADINGS, positions, strict=True))
    assert "The media migration broke the listing; after the rollback a stray DELETE" in markdown
    assert "Uploads re-enabled after the checks." in markdown
    assert "Nobody runs SQL on main.db during a rollback." in markdown
    assert "app is down, rolling back now" in markdown  # the thread reply made it into the record
    assert "URGENT: Media Migration Rollback Initiated" in markdown or "stakeholder notice" in markdown


def screenshot_record(page: Any, markdown: str) -> None:
    """The downloaded Markdown as a person opens it in a viewer: plain text, headings and tables."""
    viewer = page.context.new_page()
    viewer.set_content(f"<pre style='font: 13px monospace; white-space: pre-wrap'>{html.escape(markdown)}</pre>")
    viewer.screenshot(path=str(ARTIFACTS / "drill-record.png"), full_page=True)
    viewer.close()


def image_count(box: LiveSandbox) -> int:
    db = box.hosts["production"].root / "db_data" / "main.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT count(*) FROM images WHERE deleted_at IS NULL").fetchone()[0])
