"""What a person types reaches Slack as text: the stakeholder notice modal's input, echoed in the
channels and the thread, and the /rollback summary in the parent message."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from bot.domain import Incident, Severity
from bot.notice import NoticeDelivery
from handlers.blocks import incident_parent
from handlers.notice_actions import _thread_line, notice_post
from handlers.text import code, esc, esc_clip, esc_keep_mentions

INJECTIONS = ("<!channel>", "<!here>", "<!everyone>", "<!subteam^S0ONCALL>", "<@U0BOB>", "<https://evil.example|docs>")
TYPED = "URGENT " + " ".join(INJECTIONS) + " & more"


def _incident(summary: str = "") -> Incident:
    return Incident(
        id="RB-1",
        environment="production",
        severity=Severity.critical,
        target_minutes=15,
        summary=summary,
        channel="C0OPS",
        opened_by="U0ALICE",
        opened_at=datetime(2026, 11, 25, 3, 0, tzinfo=UTC),
    )


def _assert_shown_as_text(posted: str) -> None:
    for raw in INJECTIONS:
        assert raw not in posted, raw
        assert esc(raw) in posted
    assert "&amp; more" in posted


def test_the_notice_text_is_posted_as_typed() -> None:
    text, blocks = notice_post(_incident(), TYPED, "U0ALICE", datetime(2026, 11, 25, 3, 5, tzinfo=UTC))
    _assert_shown_as_text(text)
    _assert_shown_as_text(json.dumps(blocks[0]))


def test_the_thread_line_quotes_the_notice_as_typed() -> None:
    line = _thread_line(_incident(), "U0ALICE", TYPED, [NoticeDelivery(audience="qa", channel="C0QA")])
    _assert_shown_as_text(line)
    assert "<#C0QA>" in line  # the bot's own channel link stays a link


def test_the_thread_line_links_each_notice_with_a_plain_label() -> None:
    link = "https://sandbox.slack.com/archives/C0QA/p1795635475959494"
    delivery = NoticeDelivery(audience="qa", channel="C0QA", ts="1795635475.959494", permalink=link)
    line = _thread_line(_incident(), "U0ALICE", "URGENT", [delivery])
    # mrkdwn has no mention inside a link's label: Slack would show "<#C0QA" and a stray ">"
    assert f"<{link}|Quality assurance team> (<#C0QA>)" in line
    assert not re.search(r"<[^<>]*\|[^>]*<", line)


def test_the_summary_is_shown_as_typed() -> None:
    msg = incident_parent(_incident(TYPED), done=0, total=49, agent_url=None)
    _assert_shown_as_text(json.dumps(msg.blocks))


def test_escaping_never_cuts_an_entity_and_code_neutralises_backticks() -> None:
    assert esc_clip("a" * 8 + "<b", 10) == "a" * 8 + "…"  # "&lt;" would not fit whole
    assert code("`<!here>`") == "`'&lt;!here&gt;'`"


def test_step_notes_keep_bare_mentions_and_nothing_else() -> None:
    note = "paged Development lead: <@U0ALICE>; notice sent to <#C0DEV> by <!here> <https://x|<#C1>> & <@U0BOB|bob>"
    shown = esc_keep_mentions(note)
    assert "<@U0ALICE>" in shown and "<#C0DEV>" in shown
    assert "&lt;!here&gt;" in shown and "&lt;https://x|" in shown and "&amp;" in shown and "&lt;@U0BOB|bob&gt;" in shown
