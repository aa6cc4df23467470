"""A rollback rehearsed by hand on the sandbox page, as a person does it: by visible text and roles.

The bot runs over real HTTP, the agent is a real process on a migrated go-fast-cdn deployment, and
the faults are real changes to that deployment. What is checked is what a person sees on the page.
"""

from __future__ import annotations

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

    page.screenshot(path=str(ARTIFACTS / "drill-thread.png"), full_page=True)
    incident = sandbox.bot.deps.service.open_for("production") if sandbox.bot else None
    assert incident is not None
    said = [e.data.get("text") for e in sandbox.bot.deps.service.events(incident.id) if e.kind == "thread.message"]  # type: ignore[union-attr]
    assert said == ["app is down, rolling back now"]


def image_count(box: LiveSandbox) -> int:
    db = box.hosts["production"].root / "db_data" / "main.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT count(*) FROM images WHERE deleted_at IS NULL").fetchone()[0])
