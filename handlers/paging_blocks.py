"""Block Kit for paging: the page DM, its acknowledged form, thread notes, the channel alert and
the parent message's role states. Pure builders; every time is a Slack date token."""

from __future__ import annotations

from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.domain import Incident, RoleAck
from bot.escalation import PageTarget
from bot.paging import PagingNote, PagingView, RoleStatus
from handlers.actions_ids import ActionId, RoleRef
from handlers.limits import MAX_HEADER, check_limits, clip
from handlers.message import SlackMessage
from handlers.text import fmt_due, fmt_duration, fmt_local, fmt_time, mention


def _message(text: str, blocks: list[Block]) -> SlackMessage:
    return SlackMessage(text=clip(text, 3000), blocks=check_limits([b.to_dict() for b in blocks]))


def ack_button(incident_id: str, role: str, label: str = "Acknowledge") -> ButtonElement:
    return ButtonElement(
        text=clip(label, 75),
        action_id=ActionId.PAGE_ACK,
        value=RoleRef(incident_id=incident_id, role=role).encode(),
        style="primary",
    )


def _page_fields(incident: Incident, now: datetime) -> SectionBlock:
    return SectionBlock(
        fields=[
            MarkdownTextObject(text=f"*Severity*\n{incident.severity} (target {incident.target_minutes} min)"),
            MarkdownTextObject(text=f"*Environment*\n`{incident.environment}`"),
            MarkdownTextObject(text=f"*Opened*\n{fmt_time(incident.opened_at)} by {mention(incident.opened_by)}"),
            MarkdownTextObject(text=f"*Due by*\n{fmt_due(incident.due_at, now)}"),
        ]
    )


def page_dm(
    incident: Incident,
    role: str,
    role_name: str,
    round_no: int,
    ack_by: datetime,
    now: datetime,
    permalink: str | None,
) -> SlackMessage:
    """The DM that pages one person: what, how bad, how long, where to go, and Acknowledge."""
    again = f" (escalation round {round_no})" if round_no else ""
    title = clip(f":rotating_light: {incident.id}: you are paged as {role_name}{again}", MAX_HEADER)
    where = f"<{permalink}|the incident thread>" if permalink else f"the incident thread in <#{incident.channel}>"
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=title))]
    if incident.summary:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(f"*Summary:* {incident.summary}"))))
    blocks.append(_page_fields(incident, now))
    blocks.append(
        SectionBlock(
            text=MarkdownTextObject(text=f"Join {where}. Acknowledge by {fmt_time(ack_by)}, or the page escalates.")
        )
    )
    elements = [ack_button(incident.id, role)]
    if permalink:
        elements.append(ButtonElement(text="Open the thread", url=permalink, action_id="page_open_thread"))
    blocks.append(ActionsBlock(block_id=f"page|{incident.id}|{role}", elements=elements))
    text = f"{incident.id} ({incident.severity}) on {incident.environment}: you are paged as {role_name}"
    return _message(text, blocks)


def page_dm_acknowledged(
    incident: Incident, role_name: str, ack: RoleAck, recipient: str, now: datetime, permalink: str | None
) -> SlackMessage:
    """What a page DM becomes once the role is acknowledged (by this person or someone else)."""
    who = "you" if ack.acked_by == recipient else mention(ack.acked_by)
    title = clip(f":white_check_mark: {incident.id}: {role_name} acknowledged", MAX_HEADER)
    line = f"Acknowledged by {who} at {fmt_time(ack.acked_at)}."
    if permalink:
        line += f" <{permalink}|Open the incident thread>."
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=title)),
        _page_fields(incident, now),
        SectionBlock(text=MarkdownTextObject(text=line)),
    ]
    return _message(f"{incident.id}: {role_name} acknowledged by {who} at {fmt_time(ack.acked_at)}", blocks)


def page_dm_closed(incident: Incident, now: datetime, permalink: str | None) -> SlackMessage:
    """What an unacknowledged page DM becomes when the incident is resolved or cancelled."""
    title = clip(f":white_circle: {incident.id} is {incident.state}: no acknowledgement needed", MAX_HEADER)
    line = f"{incident.id} was {incident.state} by {mention(incident.closed_by)} at {fmt_time(incident.closed_at)}."
    if permalink:
        line += f" <{permalink}|Open the incident thread>."
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=title)),
        _page_fields(incident, now),
        SectionBlock(text=MarkdownTextObject(text=line)),
    ]
    return _message(f"{incident.id} is {incident.state}: no acknowledgement needed", blocks)


def _people(targets: list[PageTarget]) -> str:
    return ", ".join(mention(t.user) for t in targets)


def _by_role(note: PagingNote, targets: list[PageTarget]) -> list[tuple[str, list[PageTarget]]]:
    roles = list(dict.fromkeys([*note.roles, *(t.role for t in targets)]))
    return [(r, [t for t in targets if t.role == r]) for r in roles if any(t.role == r for t in targets)]


def _deferred_line(note: PagingNote, target: PageTarget) -> str:
    local = fmt_local(target.at, target.tz)
    in_zone = f" ({local}, their start of hours)" if local else ""
    return (
        f"• {note.role_names.get(target.role, target.role)}: {mention(target.user)} is outside business hours; "
        f"paged at {fmt_time(target.at)}{in_zone} if {note.incident_id} is still open"
    )


def paging_note(incident: Incident, note: PagingNote, ack_timeout_minutes: float) -> SlackMessage:
    """The thread reply saying who was paged, by role, who will be and when, and what comes next."""
    name = note.role_names.get
    if note.kind == "escalated":
        role = note.roles[0]
        head = f":loudspeaker: *Escalation round {note.round}* for {name(role, role)}: not acknowledged"
    elif note.kind == "deferred_paged":
        head = ":sunrise: *Paged at the start of business hours*"
    else:
        head = ":mega: *Paging the team*"
    lines = [head]
    for role, targets in _by_role(note, note.paged):
        lines.append(f"• {name(role, role)}: paged {_people(targets)}")
    for role, targets in _by_role(note, note.failed):
        lines.append(f"• {name(role, role)}: :warning: could not DM {_people(targets)}")
    lines.extend(_deferred_line(note, t) for t in note.deferred)
    for target in note.skipped:
        lines.append(
            f"• {mention(target.user)} is outside business hours (next at {fmt_time(target.at)}); not paged now"
        )
    lines.extend(f"• :warning: {clip(problem, 300)}" for problem in note.problems)
    if note.kind == "paged" and not (note.paged or note.failed) and not note.deferred:
        lines.append("• nobody in these roles could be found")
    if note.next_page_at is not None:
        lines.append(
            f"Unacknowledged pages escalate after {fmt_duration(ack_timeout_minutes * 60)}; "
            f"next page at {fmt_time(note.next_page_at)}."
        )
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=clip("\n".join(lines))))]
    paged_roles = [r for r, _ in _by_role(note, note.paged + note.failed)]
    if paged_roles:
        blocks.append(
            ActionsBlock(
                block_id=f"paging|{note.kind}|{note.round}",
                elements=[ack_button(incident.id, r, f"Acknowledge as {name(r, r)}") for r in paged_roles[:25]],
            )
        )
    text = f"{incident.id}: " + "; ".join(f"{name(r, r)} paged: {_people(t)}" for r, t in _by_role(note, note.paged))
    return _message(text if note.paged else f"{incident.id}: {head.strip(':* ')}", blocks)


def channel_alert(incident: Incident, note: PagingNote, permalink: str | None) -> SlackMessage:
    roles = ", ".join(note.role_names.get(r, r) for r in note.roles)
    where = f"<{permalink}|the thread>" if permalink else "the thread"
    prefix = f"{note.channel_alert} " if note.channel_alert else ""
    text = (
        f"{prefix}:sos: Nobody has acknowledged {incident.id} ({incident.severity}, {incident.environment}) after "
        f"every escalation round: {roles}. Can you help? Join {where} and press Acknowledge."
    )
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=clip(text))),
        ActionsBlock(
            block_id=f"alert|{incident.id}",
            elements=[ack_button(incident.id, r, f"Acknowledge as {note.role_names.get(r, r)}") for r in note.roles],
        ),
    ]
    return _message(text, blocks)


def _role_line(status: RoleStatus) -> str:
    if status.state == "acknowledged":
        took = f" ({fmt_duration(status.seconds_to_ack)} after the page)" if status.seconds_to_ack is not None else ""
        when = fmt_time(status.acked_at)
        return f":white_check_mark: *{status.name}*: acknowledged by {mention(status.acked_by)} at {when}{took}"
    if status.state == "paged":
        nxt = f"; next page at {fmt_time(status.next_page_at)}" if status.next_page_at else ""
        rnd = f" (round {status.round})" if status.round else ""
        return f":bell: *{status.name}*: paged {', '.join(mention(u) for u in status.paged)}{rnd}, waiting{nxt}"
    if status.state == "waiting":
        return f":zzz: *{status.name}*: waiting (next page at {fmt_time(status.next_page_at)})"
    return f":grey_question: *{status.name}*: not paged (nobody reachable)"


def paging_status_blocks(incident: Incident, view: PagingView) -> list[Block]:
    if view.nobody_reason:
        text = f":no_bell: *Nobody was paged*: {view.nobody_reason}. Alert the team by hand."
    else:
        text = "*Paged*\n" + "\n".join(_role_line(s) for s in view.roles)
    return [SectionBlock(block_id="paging", text=MarkdownTextObject(text=clip(text)))]


def ack_reply(incident: Incident, role_name: str, ack: RoleAck) -> str:
    took = f", {fmt_duration(ack.seconds_to_ack)} after the first page" if ack.seconds_to_ack is not None else ""
    who, when = mention(ack.acked_by), fmt_time(ack.acked_at)
    return f":white_check_mark: {who} acknowledged {role_name} for {incident.id} at {when}{took}."
