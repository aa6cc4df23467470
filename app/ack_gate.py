"""Ack at the HTTP layer, before bolt's dispatch: Slack's 3 s limit must not depend on the bot's load.

bolt acks from inside its dispatch: the request thread runs the global middleware, hands the
listener to the listener executor and polls every 10 ms until the listener has called ``ack()``.
Under a burst of clicks every request pays that path before its 200 leaves, so acks queue behind
each other's work (bench/README.md, "Ack latency under load"). The gate answers the two requests
that make up an incident's traffic before any of it:

- a ``block_actions`` click: its ack is an empty 200, so once the signature is verified the gate
  answers at once and hands the payload to a bolt app with the same listeners on a worker thread.
  It enters that app the way Socket Mode payloads enter bolt (already authenticated, so a backlog
  can never age a click out of the 5-minute signature window), and that app processes before
  responding: the listener runs to completion on the worker, with no second thread and no polling
  for an ack that has already left. A few workers are enough: the work is bound by the GIL, and
  every extra thread competes with the event loop that sends the acks;
- ``/rollback``: the ack carries text (the usage error, "already open", "Opening RB-n"), so the gate
  computes it with the very function the bolt listener calls (``handlers.rollback_command``) and
  leaves the rest (posting the thread, paging, reminders) to a worker thread.

Everything else (modal submissions answering with ``response_action``, Events API callbacks,
``url_verification``, ``ssl_check``) and every request whose signature does not verify goes to
bolt's own dispatch unchanged, so bolt still answers a bad signature with its 401.

Clicks that open a dialog (``handlers.actions_ids.OPENS_DIALOG``) go ahead of the others waiting:
``views.open`` must use the click's trigger_id within 3 s, whatever burst of clicks came before.

Nothing acked is dropped on a clean stop: ``close`` waits for the deferred work before the bot's
publisher and store close.
"""

from __future__ import annotations

import itertools
import logging
import queue
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from enum import Enum, IntEnum

from slack_bolt import Ack, App, BoltRequest, BoltResponse
from slack_bolt.request.internals import parse_body
from slack_sdk.signature import SignatureVerifier

from handlers.actions_ids import OPENS_DIALOG
from handlers.deps import HandlerDeps
from handlers.rollback_command import COMMAND, refuse_rollback, reply_to_rollback

log = logging.getLogger(__name__)

# A click: Slack posts ``payload=<url-encoded JSON>`` whose top-level ``type`` is ``block_actions``.
# The encoded pair can only be JSON structure (a quote inside a string value is ``\"``, encoded
# ``%5C%22``), and no other payload Slack sends nests an object of that type. JSON may have
# whitespace around the colon (``%20`` or ``+`` once encoded).
_SPACE = rb"(?:%20|\+|%09|%0A|%0D)*"
_BLOCK_ACTIONS = re.compile(rb"%22type%22" + _SPACE + rb"%3A" + _SPACE + rb"%22block_actions%22", re.IGNORECASE)
# The clicked button: the first action_id after the top-level ``"actions": [`` (the message's own
# buttons sit in ``"elements"`` arrays, and state values use action ids as keys, not as values).
_ACTIONS_KEY = re.compile(rb"%22actions%22" + _SPACE + rb"%3A" + _SPACE + rb"%5B")
_ACTION_ID = re.compile(rb"%22action_id%22" + _SPACE + rb"%3A" + _SPACE + rb"%22([A-Za-z0-9_.-]{1,255})%22")
_DIALOG_IDS = frozenset(a.value.encode() for a in OPENS_DIALOG)
# ``/rollback`` as the ``command`` field itself (a ``=`` or ``&`` typed in the text is encoded).
_ROLLBACK_COMMAND = re.compile(rb"(?:^|&)command=" + re.escape(COMMAND.replace("/", "%2F").encode()) + rb"(?:&|$)")


class EarlyAck(Enum):
    """Which requests the gate answers itself; ``None`` from :meth:`AckGate.classify` means bolt does."""

    CLICK = "block_actions"
    ROLLBACK_COMMAND = "rollback_command"


class Lane(IntEnum):
    """The order deferred work is taken in; the stop markers come after everything already queued."""

    DIALOG = 0
    WORK = 1
    STOP = 2


def opens_dialog(body: bytes) -> bool:
    """Whether a click's raw body names a dialog-opening button as the one clicked."""
    for key in _ACTIONS_KEY.finditer(body):
        found = _ACTION_ID.search(body, key.end())
        if found is not None and found.group(1) in _DIALOG_IDS:
            return True
    return False


class AckGate:
    def __init__(self, app: App, deps: HandlerDeps, signing_secret: str | None, workers: int) -> None:
        self.app = app
        self.deps = deps
        # Socket Mode has no signing secret and no HTTP requests: nothing is acked early.
        self.verifier = SignatureVerifier(signing_secret) if signing_secret else None
        # Started now, not on the first burst of clicks; a queue put is all the event loop pays.
        self._queue: queue.PriorityQueue[tuple[Lane, int, Callable[[], None] | None]] = queue.PriorityQueue()
        self._order = itertools.count()  # first in, first out within a lane
        self._workers = [threading.Thread(target=self._work, name=f"acked-{i}", daemon=True) for i in range(workers)]
        for worker in self._workers:
            worker.start()
        self._lock = threading.Lock()
        self._closed = False

    def classify(self, body: bytes, timestamp: str, signature: str) -> EarlyAck | None:
        """The early ack this request gets: a kind the gate knows, with a signature that verifies.

        Decided on the raw bytes, before any parsing: url-decoding a click's payload (10-15 KB, the
        whole message it came from) is most of what bolt's request path costs, and the ack does not
        need it. A body these patterns miss is no error: bolt's own dispatch handles it.
        """
        if self.verifier is None:
            return None
        if body.startswith(b"payload=") and _BLOCK_ACTIONS.search(body):
            kind = EarlyAck.CLICK
        elif _ROLLBACK_COMMAND.search(body):
            kind = EarlyAck.ROLLBACK_COMMAND
        else:
            return None
        if not self.verifier.is_valid(body, timestamp, signature):
            return None  # bolt's request verification answers it (401) and logs why
        return kind

    def defer_click(self, body: bytes, headers: Mapping[str, str]) -> bool:
        """Queue a verified click for bolt; False when the bot is stopping (the caller answers 503,
        and Slack shows the clicker that it failed rather than a click that silently did nothing)."""
        lane = Lane.DIALOG if opens_dialog(body) else Lane.WORK
        return self._submit(lambda: self._dispatch(body, dict(headers)), lane)

    def refuse_rollback(self, req: BoltRequest) -> BoltResponse | None:
        """The ack of a ``/rollback`` that opens nothing, cheap enough for the event loop (no write,
        no wait for the store's writers); None when it opens an incident (:meth:`rollback_command`)."""
        try:
            refusal = refuse_rollback(self.deps, req.body)
        except Exception:  # e.g. a payload without user_id: what bolt answers when a listener raises
            log.exception("/rollback could not be checked")
            return BoltResponse(status=500, body="")
        return Ack()(text=refusal.text) if refusal is not None else None

    def rollback_command(self, req: BoltRequest) -> BoltResponse:
        """The ``/rollback`` ack, computed here; what follows it runs on a worker thread."""
        try:
            reply = reply_to_rollback(self.deps, req.body)
        except Exception:  # the same answer bolt gives when a listener raises before acking
            log.exception("/rollback failed")
            return BoltResponse(status=500, body="")
        if reply.after is not None and not self._submit(reply.after):
            reply.after()  # stopping: do it on this thread rather than drop it
        return Ack()(text=reply.text)

    def _submit(self, work: Callable[[], None], lane: Lane = Lane.WORK) -> bool:
        with self._lock:
            if self._closed:
                return False
            self._queue.put((lane, next(self._order), work))
            return True

    def _work(self) -> None:
        while (work := self._queue.get()[2]) is not None:
            try:
                work()
            except Exception:
                log.exception("work after an early ack failed")

    def _dispatch(self, body: bytes, headers: dict[str, str | Sequence[str]]) -> None:
        # Verified already: it enters bolt parsed, the way Socket Mode payloads do.
        payload = parse_body(body.decode("utf-8"), "application/x-www-form-urlencoded")
        resp = self.app.dispatch(BoltRequest(body=payload, headers=headers, mode="socket_mode"))
        if resp.status >= 400:
            log.warning("bolt answered a click acked early with %s: %s", resp.status, resp.body)

    def close(self) -> None:
        """Refuse new work and finish what was acked."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for _ in self._workers:
            self._queue.put((Lane.STOP, next(self._order), None))  # after everything already queued
        for worker in self._workers:
            worker.join()
