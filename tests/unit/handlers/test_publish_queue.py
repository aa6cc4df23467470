"""PublishQueue: asks return at once, repeated asks for one key coalesce, a key never runs twice at once."""

from __future__ import annotations

import threading

from handlers.publish_queue import PublishQueue


def test_repeated_asks_for_a_waiting_key_run_once_with_the_latest_work() -> None:
    queue = PublishQueue(workers=1)
    gate = threading.Event()
    ran: list[str] = []
    try:
        queue.submit("blocker", gate.wait)  # occupies the only worker
        for n in range(10):
            queue.submit("section", lambda n=n: ran.append(f"render {n}"))
        gate.set()
        assert queue.wait_idle(10)
        assert ran == ["render 9"]
    finally:
        queue.close()


def test_a_key_asked_again_while_running_runs_again_after_never_alongside() -> None:
    queue = PublishQueue(workers=4)
    started, release = threading.Event(), threading.Event()
    running = 0
    overlap: list[int] = []
    calls: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        nonlocal running
        with lock:
            running += 1
            overlap.append(running)
            calls.append(1)
        started.set()
        release.wait(5)
        with lock:
            running -= 1

    try:
        queue.submit("parent", work)
        assert started.wait(5)
        queue.submit("parent", work)
        queue.submit("parent", work)  # coalesces with the one waiting
        release.set()
        assert queue.wait_idle(10)
        assert len(calls) == 2 and max(overlap) == 1
    finally:
        queue.close()


def test_a_failing_work_item_does_not_stop_the_worker() -> None:
    queue = PublishQueue(workers=1)
    ran: list[str] = []
    try:
        queue.submit("bad", lambda: 1 / 0)  # type: ignore[func-returns-value]
        queue.submit("good", lambda: ran.append("ok"))
        assert queue.wait_idle(10)
        assert ran == ["ok"]
    finally:
        queue.close()


def test_close_drops_waiting_work_for_the_next_start_to_reconcile() -> None:
    queue = PublishQueue(workers=1)
    gate = threading.Event()
    ran: list[str] = []
    queue.submit("blocker", lambda: gate.wait(5))
    queue.submit("later", lambda: ran.append("later"))
    gate.set()
    queue.close()
    queue.submit("after close", lambda: ran.append("after"))
    assert "after" not in ran
