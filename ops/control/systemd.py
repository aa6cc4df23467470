"""go-fast-cdn as a systemd unit: ``systemctl`` to act, ``is-active`` to confirm, ``journalctl`` for logs."""

from __future__ import annotations

import time

from ops.control.base import AppState
from ops.control.config import ControllerError, Runner, SystemdConfig, poll_state, run_command, short

# is-active states where a process may still hold the DB open count as running (unsafe to touch).
_RUNNING = {"active", "activating", "deactivating", "reloading", "refreshing"}
_STOPPED = {"inactive", "failed"}


class SystemdController:
    kind: str = "systemd"

    def __init__(self, cfg: SystemdConfig, runner: Runner = run_command) -> None:
        self.cfg = cfg
        self.runner = runner
        self.log_source = f"journalctl -u {cfg.unit}"

    def _privileged(self, argv: list[str]) -> list[str]:
        # -n: never prompt for a password; a missing sudoers rule must fail, not hang.
        return ["sudo", "-n", *argv] if self.cfg.use_sudo else argv

    def state(self) -> AppState:
        rc, out, err = self.runner(["systemctl", "is-active", self.cfg.unit], 15.0)
        word = out.strip().splitlines()[-1].strip() if out.strip() else ""
        if word in _RUNNING:
            return AppState(running=True, detail=f"unit {self.cfg.unit} is {word}")
        if word in _STOPPED:
            # is-active says "inactive" for a unit that does not exist: a typo in the unit name
            # must not look like "stopped" while the real app keeps running.
            rc2, load, err2 = self.runner(["systemctl", "show", "-p", "LoadState", "--value", self.cfg.unit], 15.0)
            if rc2 == 0 and load.strip() == "loaded":
                return AppState(running=False, detail=f"unit {self.cfg.unit} is {word}")
            return AppState(
                running=None,
                detail=f"unit {self.cfg.unit} is {word} but its LoadState is "
                f"{short(load or err2)!r}: is the unit name right?",
            )
        return AppState(
            running=None,
            detail=f"cannot tell whether {self.cfg.unit} runs: systemctl is-active rc={rc} {short(out + ' ' + err)!r}",
        )

    def _act(self, verb: str, want: bool, timeout_s: float) -> AppState:
        t0 = time.monotonic()
        rc, out, err = self.runner(self._privileged(["systemctl", verb, self.cfg.unit]), timeout_s + 5)
        left = timeout_s - (time.monotonic() - t0)
        st = poll_state(self.state, want, left if rc == 0 else min(left, 1.0))
        if st.running is want:
            return st
        why = f"systemctl {verb} rc={rc} {short(err or out)!r}" if rc != 0 else f"systemctl {verb} rc=0"
        return AppState(
            running=st.running,
            detail=f"{verb} did not take effect within {timeout_s:g}s ({why}); now: {st.detail}",
        )

    def stop(self, timeout_s: float) -> AppState:
        return self._act("stop", False, timeout_s)

    def start(self, timeout_s: float) -> AppState:
        return self._act("start", True, timeout_s)

    def logs(self, lines: int) -> list[str]:
        argv = self._privileged(["journalctl", "-u", self.cfg.unit, "-n", str(lines), "--no-pager"])
        rc, out, err = self.runner(argv, 30.0)
        if rc != 0:
            raise ControllerError(f"journalctl rc={rc}: {short(err or out)}")
        return out.splitlines()[-lines:]
