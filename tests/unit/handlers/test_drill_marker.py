"""A drill's messages say DRILL in the fallback text and in the first block a person reads, within limits."""

from __future__ import annotations

from handlers.drill_marker import DRILL, mark_drill, mark_text
from handlers.limits import MAX_BLOCKS, MAX_HEADER, limit_violations
from handlers.message import SlackMessage


def test_header_gets_the_word_and_stays_within_its_limit() -> None:
    msg = SlackMessage(text="RB", blocks=[{"type": "header", "text": {"type": "plain_text", "text": "x" * MAX_HEADER}}])
    marked = mark_drill(msg)
    assert marked.text.startswith(DRILL) and marked.blocks[0]["text"]["text"].startswith("🧪 DRILL")
    assert len(marked.blocks[0]["text"]["text"]) == MAX_HEADER
    assert msg.blocks[0]["text"]["text"] == "x" * MAX_HEADER  # the original is not changed
    assert mark_drill(marked) == marked  # marking twice changes nothing


def test_first_mrkdwn_section_or_a_context_line() -> None:
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "*Immediate actions*"}}
    assert DRILL in mark_drill(SlackMessage(text="t", blocks=[section])).blocks[0]["text"]["text"]
    divider_only = mark_drill(SlackMessage(text="t", blocks=[{"type": "divider"}]))
    assert divider_only.blocks[0]["type"] == "context" and len(divider_only.blocks) == 2
    full = [{"type": "divider"}] * MAX_BLOCKS
    assert len(mark_drill(SlackMessage(text="t", blocks=full)).blocks) == MAX_BLOCKS  # text still says it
    assert mark_text("hello") == f"{DRILL} · hello" and mark_text(mark_text("x")) == mark_text("x")


def test_marked_messages_pass_the_block_kit_limits() -> None:
    msg = SlackMessage(text="t", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 3000}}])
    assert limit_violations(mark_drill(msg).blocks) == []
