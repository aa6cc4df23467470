"""views.open / update / push with trigger and hash checks."""

from __future__ import annotations

import time
from typing import Any

from sandbox.fake_slack.models import View
from sandbox.fake_slack.registry import MethodArgs, SlackError, method
from sandbox.fake_slack.state import Workspace

TRIGGER_TTL_S = 3.0
MAX_STACK = 3


def use_trigger(ws: Workspace, trigger_id: str) -> None:
    """Triggers are single use and live 3 s; unknown ones are accepted unless `strict_triggers`."""
    issued = ws.triggers.pop(trigger_id, None)
    if issued is None:
        if ws.strict_triggers:
            raise SlackError("invalid_trigger_id")
        return
    if time.monotonic() - issued > TRIGGER_TTL_S:
        raise SlackError("expired_trigger_id")


def view_arg(args: MethodArgs) -> dict[str, Any]:
    view = args.json("view")
    if not isinstance(view, dict) or view.get("type") not in ("modal", "home"):
        raise SlackError("invalid_arguments", detail="view must be a modal or home view")
    if len(view.get("blocks") or []) > 100:
        raise SlackError("invalid_arguments", detail="at most 100 blocks in a view")
    return view


def new_view(ws: Workspace, view: dict[str, Any], trigger_id: str, previous: View | None) -> View:
    view_id = ws.new_id("V")
    stored = View(
        id=view_id,
        user=None,
        view=view,
        hash=ws.new_id("h"),
        root_view_id=previous.root_view_id if previous else view_id,
        previous_view_id=previous.id if previous else None,
        trigger_id=trigger_id,
    )
    ws.views[view_id] = stored
    return stored


@method("views.open")
def views_open(ws: Workspace, args: MethodArgs) -> dict[str, Any]:
    with ws.lock:
        trigger_id = args.req("trigger_id", "invalid_trigger_id")
        view = view_arg(args)
        use_trigger(ws, trigger_id)
        return {"view": new_view(ws, view, trigger_id, None).to_api(ws.team_id)}


@method("views.push")
def views_push(ws: Workspace, args: MethodArgs) -> dict[str, Any]:
    with ws.lock:
        trigger_id = args.req("trigger_id", "invalid_trigger_id")
        view = view_arg(args)
        use_trigger(ws, trigger_id)
        open_views = [v for v in ws.views.values() if not v.closed]
        if not open_views:
            raise SlackError("not_found")
        top = open_views[-1]
        depth = sum(1 for v in open_views if v.root_view_id == top.root_view_id)
        if depth >= MAX_STACK:
            raise SlackError("push_limit_reached")
        return {"view": new_view(ws, view, trigger_id, top).to_api(ws.team_id)}


@method("views.update")
def views_update(ws: Workspace, args: MethodArgs) -> dict[str, Any]:
    with ws.lock:
        view = view_arg(args)
        view_id, external_id = args.opt("view_id"), args.opt("external_id")
        target = ws.views.get(view_id or "")
        if target is None and external_id:
            target = next((v for v in ws.views.values() if v.view.get("external_id") == external_id), None)
        if target is None:
            raise SlackError("not_found")
        expected = args.opt("hash")
        if expected is not None and expected != target.hash:
            raise SlackError("hash_conflict")
        target.view = view
        target.hash = ws.new_id("h")
        return {"view": target.to_api(ws.team_id)}
