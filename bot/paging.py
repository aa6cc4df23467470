"""Paging the incident's contacts: pages, acknowledgements, escalation rounds, the channel alert.

The policy is bot/escalation.py (pure); this service applies it to the store and drives the timers:

- ``page_on_open`` pages the roles the severity names; people outside their hours get a
  ``deferred_page`` timer at their next start of hours. The runbook step that says "alert the team"
  completes itself, noting who was paged.
- Each paged role gets an ``escalate`` timer at the ack timeout. Unacknowledged, it pages the next
  round and arms the next timer; after the last round one ``channel_alert`` per role fires.
- An acknowledgement is one ``role_acks`` row (insert-or-ignore: of two clicks one wins) and cancels
  the role's timers; resolving or cancelling the incident cancels them all (``stop``).
- A page is one ``pages`` row with a unique key, inserted before the DM is sent: a crash between
  the two loses at most that DM (escalation carries on), never sends it twice.

Slack is behind the :class:`PageSender` port, so nothing here knows how a DM looks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from bot.contacts import Contacts
from bot.domain import Incident, Page, RoleAck
from bot.escalation import GroupMembers, PageTarget, ack_deadline, after_timeout, round_plan
from bot.incidents import IncidentService
from bot.store import Store
from bot.timers import Timer, TimerService
from ops.models import utcnow

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "rollback-bot"
ESCALATE, DEFERRED_PAGE, CHANNEL_ALERT = "escalate", "deferred_page", "channel_alert"
PAGING_TIMER_KINDS = (ESCALATE, DEFERRED_PAGE, CHANNEL_ALERT)


class PageDelivery(BaseModel):
    """Where a page's DM landed (so an acknowledgement can update it)."""

    channel: str
    ts: str


class PagingNote(BaseModel):
    """Something the thread should say about paging."""

    kind: Literal["paged", "escalated", "deferred_paged", "alert"]
    incident_id: str
    round: int = 0
    paged: list[PageTarget] = Field(default_factory=list)
    failed: list[PageTarget] = Field(default_factory=list)
    deferred: list[PageTarget] = Field(default_factory=list)
    skipped: list[PageTarget] = Field(default_factory=list)
    roles: list[str] = Field(default_factory=list)
    role_names: dict[str, str] = Field(default_factory=dict)
    next_page_at: datetime | None = None
    channel_alert: str = ""
    problems: list[str] = Field(default_factory=list)


class RoleStatus(BaseModel):
    role: str
    name: str
    state: Literal["acknowledged", "paged", "waiting", "not_paged"]
    paged: list[str] = Field(default_factory=list)
    round: int = 0
    acked_by: str | None = None
    acked_at: datetime | None = None
    seconds_to_ack: float | None = None
    next_page_at: datetime | None = None


class PagingView(BaseModel):
    """What the parent message says about paging."""

    configured: bool
    roles: list[RoleStatus] = Field(default_factory=list)
    nobody_reason: str | None = None


class AckOutcome(BaseModel):
    changed: bool
    ack: RoleAck | None = None
    reason: str = ""


class PageSender(Protocol):
    def deliver(self, incident: Incident, page: Page, role_name: str, ack_by: datetime) -> PageDelivery: ...

    def note(self, incident: Incident, note: PagingNote) -> None: ...

    def alert(self, incident: Incident, note: PagingNote) -> None: ...

    def acknowledged(self, incident: Incident, page: Page, ack: RoleAck, role_name: str) -> None: ...

    def closed(self, incident: Incident, page: Page) -> None: ...

    def refresh(self, incident_id: str, step_id: str | None) -> None: ...


class PhonePager(Protocol):
    """An optional phone pager (PagerDuty); Slack stays the source of truth for acknowledgements."""

    def trigger(self, routing_key: str, dedup_key: str, summary: str, severity: str) -> None: ...

    def resolve(self, routing_key: str, dedup_key: str) -> None: ...


class PagingService:
    def __init__(
        self,
        store: Store,
        incidents: IncidentService,
        contacts: Contacts | None,
        timers: TimerService,
        sender: PageSender,
        group_members: GroupMembers,
        *,
        phone: PhonePager | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.incidents = incidents
        self.contacts = contacts
        self.timers = timers
        self.sender = sender
        self._group_members = group_members
        self.phone = phone
        self.clock = clock
        timers.register(ESCALATE, self._on_escalate)
        timers.register(DEFERRED_PAGE, self._on_deferred_page)
        timers.register(CHANNEL_ALERT, self._on_channel_alert)

    # -- opening ------------------------------------------------------------------------------------

    def page_on_open(self, incident_id: str) -> PagingNote | None:
        """Page the severity's roles (once per incident); None when there is nobody to page."""
        incident = self.incidents.get(incident_id)
        contacts = self.contacts
        if contacts is None or not incident.is_open:
            return None
        roles = contacts.roles_for(incident.severity)
        if not roles:
            return None
        if incident.drill:
            return self._page_drill_starter(incident, roles)
        now = self.clock()
        note = PagingNote(kind="paged", incident_id=incident.id, roles=roles, role_names=self._names(roles))
        for role in roles:
            plan = round_plan(contacts, role, 0, now, self._members_into(note))
            self._send_all(incident, plan.now, note)
            for target in plan.deferred:
                self.timers.schedule(
                    DEFERRED_PAGE,
                    f"{DEFERRED_PAGE}|{target.key(incident.id)}",
                    target.at,
                    incident_id=incident.id,
                    payload={"role": role, "user": target.user, "tz": target.tz},
                )
                note.deferred.append(target)
            if plan.now:
                self._arm_escalation(incident, role, 0, now)
        note.next_page_at = self._next_page_at(incident.id)
        self.incidents.record(
            incident.id,
            "paging.opened",
            SYSTEM_ACTOR,
            paged=[t.model_dump(mode="json") for t in note.paged],
            deferred=[t.model_dump(mode="json") for t in note.deferred],
            failed=[t.model_dump(mode="json") for t in note.failed],
        )
        self._safely(self.sender.note, incident, note)
        self._complete_alert_step(incident, note)
        if not self.incidents.get(incident.id).is_open:  # closed while we were paging: leave no timers
            self.stop(incident.id)
        return note

    def _page_drill_starter(self, incident: Incident, roles: list[str]) -> PagingNote:
        """A drill pages only whoever started it, once, as the first role would be paged: a rehearsal
        shows the page and its Acknowledge without waking anyone. No escalation, no phone page."""
        role = roles[0]
        note = PagingNote(kind="paged", incident_id=incident.id, roles=[role], role_names=self._names([role]))
        self._send_all(incident, [PageTarget(role=role, user=incident.opened_by, round=0, at=self.clock())], note)
        self.incidents.record(
            incident.id,
            "paging.opened",
            SYSTEM_ACTOR,
            drill=True,
            paged=[t.model_dump(mode="json") for t in note.paged],
            deferred=[],
            failed=[t.model_dump(mode="json") for t in note.failed],
        )
        self._safely(self.sender.note, incident, note)
        self._complete_alert_step(incident, note)
        return note

    def _complete_alert_step(self, incident: Incident, note: PagingNote) -> None:
        if not note.paged:
            return
        who = "; ".join(
            f"{note.role_names[r]}: {', '.join(f'<@{t.user}>' for t in note.paged if t.role == r)}"
            for r in note.roles
            if any(t.role == r for t in note.paged)
        )
        for step in self.incidents.runbook.page_contacts_steps():
            result = self.incidents.transition(incident.id, step.id, "done", SYSTEM_ACTOR, note=f"paged {who}")
            if result.changed:
                self._safely(self.sender.refresh, incident.id, step.id)

    # -- sending ------------------------------------------------------------------------------------

    def _send_all(self, incident: Incident, targets: list[PageTarget], note: PagingNote) -> None:
        for target in targets:
            page = self._send(incident, target)
            if page is None:
                continue
            (note.paged if page.state == "sent" else note.failed).append(target)

    def _send(self, incident: Incident, target: PageTarget) -> Page | None:
        """Insert the page row, then DM; None if this page was already sent (by any process)."""
        assert self.contacts is not None
        key = target.key(incident.id)
        now = self.clock()
        with self.store.transaction() as db:
            inserted = db.execute(
                "INSERT OR IGNORE INTO pages(page_key, incident_id, user_id, role, round, paged_at, via, state) "
                "VALUES (?, ?, ?, ?, ?, ?, 'slack', 'sending')",
                [key, incident.id, target.user, target.role, target.round, now.isoformat()],
            ).rowcount
        if not inserted:
            return None
        page = self._page(key)
        deadline = ack_deadline(self.contacts, incident.severity, now)
        try:
            delivery = self.sender.deliver(incident, page, self.contacts.role_name(target.role), deadline)
            self.store.cond_update(
                "pages", {"page_key": key}, {"state": "sent", "dm_channel": delivery.channel, "dm_ts": delivery.ts}
            )
            self.incidents.record(
                incident.id, "page.sent", SYSTEM_ACTOR, role=target.role, user=target.user, round=target.round
            )
        except Exception as exc:
            log.warning("page %s could not be delivered: %s", key, exc)
            self.store.cond_update("pages", {"page_key": key}, {"state": "failed", "error": str(exc)[:500]})
            self.incidents.record(
                incident.id,
                "page.failed",
                SYSTEM_ACTOR,
                role=target.role,
                user=target.user,
                round=target.round,
                error=str(exc)[:500],
            )
        self._phone_trigger(incident, target)
        return self._page(key)

    def _members_into(self, note: PagingNote) -> GroupMembers:
        """Group resolution that never aborts paging: a group Slack won't list is said in the note."""

        def members(group_id: str) -> list[str]:
            try:
                return list(self._group_members(group_id))
            except Exception as exc:
                log.warning("user group %s could not be resolved: %s", group_id, exc)
                note.problems.append(f"user group {group_id} could not be resolved ({exc})")
                return []

        return members

    @staticmethod
    def _safely(call: Callable[..., None], *args: object) -> None:
        """Thread notes and re-renders are told, not required: a Slack error there never stops paging
        (the store holds the truth and the next render shows it)."""
        try:
            call(*args)
        except Exception as exc:
            log.warning("paging: %s failed: %s", getattr(call, "__name__", call), exc)

    def _phone_trigger(self, incident: Incident, target: PageTarget) -> None:
        if incident.drill:  # a rehearsal never rings a phone
            return
        assert self.contacts is not None
        key = self.contacts.routing_key_of(target.user, target.role)
        if self.phone is None or key is None:
            return
        try:
            summary = f"{incident.id} {incident.severity} rollback on {incident.environment}: {incident.summary}"
            self.phone.trigger(key, self._dedup(incident.id, target.role), summary[:1024], incident.severity)
        except Exception as exc:
            log.warning("phone page for %s failed: %s", target.key(incident.id), exc)

    @staticmethod
    def _dedup(incident_id: str, role: str) -> str:
        return f"rollback-bot/{incident_id}/{role}"

    def _arm_escalation(self, incident: Incident, role: str, round_no: int, since: datetime) -> None:
        assert self.contacts is not None
        self.timers.schedule(
            ESCALATE,
            f"{ESCALATE}|{incident.id}|{role}|{round_no}",
            ack_deadline(self.contacts, incident.severity, since),
            incident_id=incident.id,
            payload={"role": role, "round": round_no},
        )

    # -- timers -------------------------------------------------------------------------------------

    def _on_escalate(self, timer: Timer) -> None:
        incident = self.incidents.get(str(timer.incident_id))
        role, round_no = str(timer.payload["role"]), int(timer.payload["round"])
        if self.contacts is None or not self._still_needed(incident, role):
            return
        now = self.clock()
        if after_timeout(self.contacts, round_no) == "alert":
            self.timers.schedule(
                CHANNEL_ALERT,
                f"{CHANNEL_ALERT}|{incident.id}|{role}",
                now,
                incident_id=incident.id,
                payload={"role": role},
            )
            return
        note = PagingNote(
            kind="escalated", incident_id=incident.id, round=round_no + 1, roles=[role], role_names=self._names([role])
        )
        plan = round_plan(self.contacts, role, round_no + 1, now, self._members_into(note))
        note.skipped = plan.skipped
        self._send_all(incident, plan.now, note)
        self._arm_escalation(incident, role, plan.round, now)
        note.next_page_at = self._next_page_at(incident.id, role)
        self.incidents.record(
            incident.id,
            "paging.escalated",
            SYSTEM_ACTOR,
            role=role,
            round=plan.round,
            paged=[t.user for t in note.paged],
        )
        self._safely(self.sender.note, incident, note)
        self._safely(self.sender.refresh, incident.id, None)

    def _still_needed(self, incident: Incident, role: str) -> bool:
        """A timer only acts for an open incident, an unacknowledged role, and a role the contacts
        file still has (it may have changed across a restart)."""
        if self.contacts is None or not incident.is_open or self.ack(incident.id, role) is not None:
            return False
        if role not in self.contacts.roles:
            log.warning("%s: role %r is no longer in the contacts file; its timer does nothing", incident.id, role)
            return False
        return True

    def _on_deferred_page(self, timer: Timer) -> None:
        incident = self.incidents.get(str(timer.incident_id))
        role, user = str(timer.payload["role"]), str(timer.payload["user"])
        if self.contacts is None or not self._still_needed(incident, role):
            return
        now = self.clock()
        target = PageTarget(role=role, user=user, round=0, at=now, tz=timer.payload.get("tz"))
        note = PagingNote(kind="deferred_paged", incident_id=incident.id, roles=[role], role_names=self._names([role]))
        self._send_all(incident, [target], note)
        self._arm_escalation(incident, role, 0, now)
        note.next_page_at = self._next_page_at(incident.id, role)
        self._safely(self.sender.note, incident, note)
        self._complete_alert_step(incident, note)
        self._safely(self.sender.refresh, incident.id, None)

    def _on_channel_alert(self, timer: Timer) -> None:
        incident = self.incidents.get(str(timer.incident_id))
        role = str(timer.payload["role"])
        if self.contacts is None or not self._still_needed(incident, role):
            return
        waiting = [role]
        note = PagingNote(
            kind="alert",
            incident_id=incident.id,
            roles=waiting,
            role_names=self._names(waiting),
            channel_alert=self.contacts.escalation.channel_alert,
        )
        self.incidents.record(incident.id, "paging.channel_alert", SYSTEM_ACTOR, roles=waiting)
        self.sender.alert(incident, note)

    # -- acknowledging ------------------------------------------------------------------------------

    def acknowledge(self, incident_id: str, role: str, user: str, via: str) -> AckOutcome:
        """Record ``user`` acknowledging ``role``; the first click wins, later ones change nothing."""
        incident = self.incidents.get(incident_id)
        if self.contacts is None or role not in self.contacts.roles:
            return AckOutcome(changed=False, reason=f"{role!r} is not a role in the contacts file")
        existing = self.ack(incident_id, role)
        if existing is not None:
            return AckOutcome(changed=False, ack=existing, reason=self._already(existing))
        if not incident.is_open:
            return AckOutcome(changed=False, reason=f"{incident.id} is already {incident.state}")
        now = self.clock()
        first = self.store.query(
            "SELECT MIN(paged_at) AS first FROM pages WHERE incident_id = ? AND role = ?", (incident_id, role)
        )[0]["first"]
        seconds = (now - datetime.fromisoformat(first)).total_seconds() if first else None
        with self.store.transaction() as db:
            inserted = db.execute(
                "INSERT OR IGNORE INTO role_acks(incident_id, role, acked_by, acked_at, via, seconds_to_ack) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [incident_id, role, user, now.isoformat(), via, seconds],
            ).rowcount
            if inserted:
                db.execute(
                    "UPDATE pages SET acked_by = ?, acked_at = ? WHERE incident_id = ? AND role = ? "
                    "AND acked_at IS NULL",
                    [user, now.isoformat(), incident_id, role],
                )
                self.incidents.record(incident_id, "page.acked", user, role=role, via=via, seconds_to_ack=seconds)
        ack = self.ack(incident_id, role)
        assert ack is not None
        if not inserted:
            return AckOutcome(changed=False, ack=ack, reason=self._already(ack))
        for timer in self.timers.pending(incident_id):
            if timer.kind in (ESCALATE, DEFERRED_PAGE) and timer.payload.get("role") == role:
                self.timers.cancel(timer.key)
        name = self.contacts.role_name(role)
        for page in self.pages(incident_id, role):
            if page.dm_channel and page.dm_ts:
                try:
                    self.sender.acknowledged(incident, page, ack, name)
                except Exception as exc:
                    log.warning("could not update page DM %s: %s", page.page_key, exc)
        self._phone_resolve(incident_id, role)
        self._safely(self.sender.refresh, incident_id, None)
        return AckOutcome(changed=True, ack=ack)

    @staticmethod
    def _already(ack: RoleAck) -> str:
        return f"already acknowledged by <@{ack.acked_by}>"

    def _phone_resolve(self, incident_id: str, role: str) -> None:
        if self.phone is None or self.contacts is None:
            return
        keys = {self.contacts.routing_key_of(p.user_id, p.role) for p in self.pages(incident_id, role)}
        for key in sorted(k for k in keys if k):
            try:
                self.phone.resolve(key, self._dedup(incident_id, role))
            except Exception as exc:
                log.warning("phone resolve for %s/%s failed: %s", incident_id, role, exc)

    def stop(self, incident_id: str) -> int:
        """The incident is closed: cancel its paging timers and resolve phone pages still open."""
        cancelled = self.timers.cancel_incident(incident_id, PAGING_TIMER_KINDS)
        incident = self.incidents.get(incident_id)
        for role in {p.role for p in self.pages(incident_id)}:
            if self.ack(incident_id, role) is None:
                self._phone_resolve(incident_id, role)
                for page in self.pages(incident_id, role):
                    if page.dm_channel and page.dm_ts:  # the DM stops asking for an acknowledgement
                        self._safely(self.sender.closed, incident, page)
        return cancelled

    # -- reading ------------------------------------------------------------------------------------

    def ack(self, incident_id: str, role: str) -> RoleAck | None:
        row = self.store.row("role_acks", "incident_id = ? AND role = ?", [incident_id, role])
        return RoleAck.model_validate(row) if row else None

    def pages(self, incident_id: str, role: str | None = None) -> list[Page]:
        if role is None:
            rows = self.store.rows("pages", "incident_id = ?", [incident_id], order_by="id")
        else:
            rows = self.store.rows("pages", "incident_id = ? AND role = ?", [incident_id, role], order_by="id")
        return [Page.model_validate(r) for r in rows]

    def _page(self, key: str) -> Page:
        row = self.store.row("pages", "page_key = ?", [key])
        assert row is not None
        return Page.model_validate(row)

    def _names(self, roles: list[str]) -> dict[str, str]:
        assert self.contacts is not None
        return {r: self.contacts.role_name(r) for r in roles}

    def _next_page_at(self, incident_id: str, role: str | None = None) -> datetime | None:
        due = [
            t.due_at
            for t in self.timers.pending(incident_id)
            if t.kind in (ESCALATE, DEFERRED_PAGE) and role in (None, t.payload.get("role"))
        ]
        return min(due) if due else None

    def view(self, incident_id: str) -> PagingView:
        if self.contacts is None:
            return PagingView(configured=False, nobody_reason="no contacts file is configured")
        incident = self.incidents.get(incident_id)
        states = self.role_states(incident_id)
        if not states:
            return PagingView(configured=True, nobody_reason=f"the contacts file pages no role for {incident.severity}")
        return PagingView(configured=True, roles=states)

    def role_states(self, incident_id: str) -> list[RoleStatus]:
        assert self.contacts is not None
        incident = self.incidents.get(incident_id)
        pages = self.pages(incident_id)
        roles = list(dict.fromkeys([*self.contacts.roles_for(incident.severity), *(p.role for p in pages)]))
        out: list[RoleStatus] = []
        for role in roles:
            if role not in self.contacts.roles:
                continue
            mine = [p for p in pages if p.role == role and p.state == "sent"]
            ack = self.ack(incident_id, role)
            status = RoleStatus(
                role=role,
                name=self.contacts.role_name(role),
                state="not_paged",
                paged=list(dict.fromkeys(p.user_id for p in mine)),
                round=max((p.round for p in mine), default=0),
                next_page_at=self._next_page_at(incident_id, role) if incident.is_open else None,
            )
            if ack is not None:
                status.state = "acknowledged"
                status.acked_by, status.acked_at, status.seconds_to_ack = ack.acked_by, ack.acked_at, ack.seconds_to_ack
                status.next_page_at = None
            elif mine:
                status.state = "paged"
            elif status.next_page_at is not None:
                status.state = "waiting"
            out.append(status)
        return out
