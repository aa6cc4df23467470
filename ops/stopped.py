"""Is go-fast-cdn running? Three witnesses, and the proof every destructive operation needs.

- the controller (systemd, compose, process) speaks only for the process it started;
- the API probe (``GET /api/`` -> "pong"): an answer means running, whatever the controller says;
  silence proves nothing on its own (wrong port, hung process);
- the open-file scan (ops.openfiles): any process holding ``main.db``, its journal or WAL is using
  the DB, be it the server run from a terminal or a teammate's ``sqlite3 main.db`` shell.

Running = the controller says so, or the API answers, or someone holds the DB. Stopped = none of
those, and either the controller says stopped or the scan is conclusive. Where neither can tell
(no controller and no readable ``/proc``), an operator may assert it (``--app-stopped``, a Slack
confirm); the assertion is recorded in the result, the audit log and the thread, and never
overrides evidence: an answering API or a holder still refuses.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from ops.control.probe import ping
from ops.errors import OpRefused
from ops.host import Host
from ops.models import AppState, ProofMethod, StoppedProof
from ops.openfiles import OpenFileScan, scan_db_holders


class AppObservation(BaseModel):
    """What each witness said, read once."""

    controller_kind: str
    controller: AppState
    api_answered: bool
    api_detail: str
    scan: OpenFileScan

    @property
    def running(self) -> bool | None:
        if self.api_answered or self.scan.holders or self.controller.running is True:
            return True
        if self.scan.suspicious:
            return None
        if self.controller.running is False or self.scan.conclusive:
            return False
        return None

    def why_running(self) -> str:
        parts = []
        if self.scan.holders:
            parts.append("the DB is open in " + "; ".join(h.describe() for h in self.scan.holders))
        if self.api_answered:
            parts.append(f"its API answers ({self.api_detail})")
        if self.controller.running is True:
            parts.append(f"the {self.controller_kind} controller says running ({self.controller.detail})")
        return "; ".join(parts)

    def state(self) -> AppState:
        """The combined verdict as an AppState (what status and stop/start show)."""
        running = self.running
        if running is True and not (self.api_answered or self.scan.holders):
            return self.controller  # the controller alone says so: its own words
        if running is True:
            detail = self.why_running()
            if self.controller.running is False:
                detail += f" although the {self.controller_kind} controller says stopped ({self.controller.detail})"
            pid = self.controller.pid or (self.scan.holders[0].pid if self.scan.holders else None)
            return AppState(running=True, detail=detail, pid=pid)
        if running is False:
            return AppState(running=False, detail=self.stopped_detail())
        return AppState(running=None, detail=self.unknown_detail())

    def stopped_detail(self) -> str:
        parts = []
        if self.controller.running is False:
            parts.append(f"{self.controller_kind} controller: {self.controller.detail}")
        parts.append(f"API silent ({self.api_detail})")
        parts.append(self.scan.detail if self.scan.available or self.scan.detail else "open files not checked")
        return "; ".join(parts)

    def unknown_detail(self) -> str:
        return (
            f"cannot prove go-fast-cdn is stopped: {self.controller_kind} controller: {self.controller.detail}; "
            f"API silent ({self.api_detail}); open files: {self.scan.detail}"
        )


def controller_state(host: Host) -> AppState:
    try:
        return host.controller.state()
    except Exception as exc:  # a broken controller means "unknown", never "stopped"
        return AppState(running=None, detail=f"state check failed: {exc}")


def observe(host: Host, *, api_timeout_s: float = 2.0, controller: AppState | None = None) -> AppObservation:
    """Ask all three witnesses; ``controller`` is a state the controller just reported (after a stop)."""
    ctl = controller if controller is not None else controller_state(host)
    answered, api_detail = ping(host.api_url, timeout_s=api_timeout_s)
    return AppObservation(
        controller_kind=host.controller.kind,
        controller=ctl,
        api_answered=answered,
        api_detail=api_detail,
        scan=scan_db_holders(host.deployment),
    )


def server_state(host: Host) -> AppState:
    """Is the *server* up (controller or API), ignoring who else holds the DB: what start_app asks."""
    ctl = controller_state(host)
    if ctl.running is True:
        return ctl
    answered, api_detail = ping(host.api_url)
    if answered:
        extra = f" although the {host.controller.kind} controller says: {ctl.detail}" if ctl.running is False else ""
        return AppState(running=True, detail=f"its API answers ({api_detail}){extra}", pid=ctl.pid)
    return ctl


def effective_state(host: Host, controller: AppState | None = None) -> AppState:
    """The app's state judged by all three witnesses."""
    return observe(host, controller=controller).state()


def prove_stopped(host: Host, action: str, *, asserted_by: str | None = None) -> StoppedProof:
    """Refuse (OpRefused, nothing touched) unless the app is proven stopped, or the operator
    asserted it where nothing can be proven. Evidence of running always wins over an assertion."""
    obs = observe(host)
    common: dict[str, Any] = {
        "controller": obs.controller_kind,
        "controller_detail": obs.controller.detail,
        "api_detail": obs.api_detail,
        "open_files": obs.scan.detail,
        "processes_checked": obs.scan.inspected,
    }
    if obs.scan.holders:
        raise OpRefused(
            "db_in_use",
            f"refusing to {action}: {obs.why_running()}; stop it (or close that shell) and retry",
        )
    if obs.running is True:
        raise OpRefused(
            "app_running", f"refusing to {action}: go-fast-cdn is running: {obs.why_running()}; stop it first"
        )
    method: ProofMethod
    if obs.running is False and obs.controller.running is False:
        method = "controller"
        detail = obs.stopped_detail()
    elif obs.running is False:
        method = "open-files"
        detail = f"nobody holds the DB and the API is silent: {obs.scan.detail}; {obs.api_detail}"
    elif asserted_by:
        method = "asserted"
        detail = f"asserted stopped by {asserted_by}; not provable here: {obs.unknown_detail()}"
    else:
        raise OpRefused(
            "app_state_unknown",
            f"refusing to {action}: {obs.unknown_detail()}. Stop it, and if it is stopped say so explicitly "
            "(CLI: --app-stopped; Slack: the 'app is stopped' confirm)",
        )
    if asserted_by and method != "asserted":
        detail += f" (also asserted by {asserted_by})"
    return StoppedProof(method=method, detail=detail, asserted_by=asserted_by, **common)
