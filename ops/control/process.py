"""go-fast-cdn as a plain process with a pidfile (also how the sandbox runs the stand-in).

A pidfile alone lies after a crash or a reboot (the pid may belong to something else by then), so
the pidfile also records the process start time from /proc and the state check compares it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from ops.control.base import AppState
from ops.control.config import ControllerError, ProcessConfig

# Children started by this agent process, so state checks can reap them (no zombies that look alive),
# whichever controller instance started them.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}
_STARTUP_GRACE_S = 0.3

# The agent's own settings (ROLLBACK_AGENT_SECRET signs every job) and any Slack credentials that happen
# to be in its environment must never reach go-fast-cdn: a crash dump, a debug page or a plugin there
# could leak them. Matched case-insensitively, because pydantic-settings reads names that way.
SECRET_ENV_PREFIXES: tuple[str, ...] = ("ROLLBACK_AGENT_", "SLACK_")
SECRET_ENV_NAMES: frozenset[str] = frozenset({"ROLLBACK_AGENTS"})  # the bot's agent URLs + HMAC secrets


def is_secret_env(name: str) -> bool:
    upper = name.upper()
    return upper.startswith(SECRET_ENV_PREFIXES) or upper in SECRET_ENV_NAMES


def child_env(overrides: Mapping[str, str], base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The app's environment: ``base`` (default: ours) without the agent's secrets, then ``overrides``
    from the controller config applied on top (an operator may set any name there on purpose)."""
    src = os.environ if base is None else base
    env = {k: v for k, v in src.items() if not is_secret_env(k)}
    env.update(overrides)
    return env


def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks) from /proc, or None where /proc is unavailable."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw.rpartition(")")[2].split()  # comm may contain spaces and parentheses
    try:
        return fields[0], int(fields[19])
    except (IndexError, ValueError):
        return None


def _cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def _reap(pid: int) -> None:
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is not None:
            _CHILDREN.pop(pid, None)
        return
    with contextlib.suppress(ChildProcessError):  # not our child: its parent (or init) reaps it
        os.waitpid(pid, os.WNOHANG)


def tail_file(path: Path, lines: int, block: int = 65536) -> list[str]:
    """Last ``lines`` lines without reading a huge log into memory."""
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        pos = fh.tell()
        data = b""
        while pos > 0 and data.count(b"\n") <= lines:
            step = min(block, pos)
            pos -= step
            fh.seek(pos)
            data = fh.read(step) + data
    return data.decode(errors="replace").splitlines()[-lines:]


class ProcessController:
    kind: str = "process"

    def __init__(self, cfg: ProcessConfig) -> None:
        self.cfg = cfg
        self.log_source = str(cfg.log_file) if cfg.log_file else "no log file configured"

    # -- pidfile -------------------------------------------------------------------------
    def _read_pidfile(self) -> tuple[int, int | None] | str | None:
        """(pid, start ticks) ; None when absent; a string describing why it is unreadable."""
        try:
            text = self.cfg.pidfile.read_text()
        except FileNotFoundError:
            return None
        except OSError as exc:
            return f"cannot read pidfile {self.cfg.pidfile}: {exc}"
        parts = text.split()
        try:
            pid = int(parts[0])
            start = int(parts[1].removeprefix("start=")) if len(parts) > 1 else None
        except (IndexError, ValueError):
            return f"pidfile {self.cfg.pidfile} holds no pid: {text[:40]!r}"
        if pid <= 1:
            return f"pidfile {self.cfg.pidfile} holds an impossible pid {pid}"
        return pid, start

    def _write_pidfile(self, pid: int) -> None:
        info = proc_stat(pid)
        body = f"{pid}\n" + (f"start={info[1]}\n" if info else "")
        path = self.cfg.pidfile
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(body)
        os.replace(tmp, path)  # readers never see a half-written pidfile

    def _remove_pidfile(self) -> None:
        self.cfg.pidfile.unlink(missing_ok=True)

    # -- liveness ------------------------------------------------------------------------
    def _probe(self, pid: int, start: int | None) -> tuple[bool, str]:
        """Is ``pid`` alive *and* still our app (not a zombie, not a reused pid)?"""
        _reap(pid)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False, "is gone"
        except PermissionError:
            pass  # exists, owned by another user; /proc can still tell us more
        info = proc_stat(pid)
        if info is None:
            return True, "is alive"
        letter, ticks = info
        if letter in ("Z", "X"):
            _reap(pid)  # it exited after the reap above: ours is reaped now, not left a zombie
            return False, "is a zombie (exited)"
        if start is not None:
            if ticks != start:
                return False, "was reused by another process (start time differs)"
            return True, "is alive"
        args = _cmdline(pid)
        if args is not None:
            ours = {Path(a).name for a in self.cfg.command}
            if not ours & {Path(a).name for a in args}:
                return False, f"was reused by another process ({' '.join(args)[:80]!r})"
        return True, "is alive"

    def state(self) -> AppState:
        rec = self._read_pidfile()
        if rec is None:
            return AppState(running=False, detail=f"not running (no pidfile at {self.cfg.pidfile})")
        if isinstance(rec, str):
            return AppState(running=None, detail=rec)
        pid, start = rec
        alive, why = self._probe(pid, start)
        if alive:
            return AppState(running=True, detail=f"running, pid {pid}", pid=pid)
        return AppState(running=False, detail=f"not running (stale pidfile: pid {pid} {why})")

    # -- actions -------------------------------------------------------------------------
    def start(self, timeout_s: float) -> AppState:
        st = self.state()
        if st.running is True:
            return st
        if st.running is None:
            return AppState(running=None, detail=f"not starting, state unknown: {st.detail}")
        self._remove_pidfile()  # stale
        cfg = self.cfg
        log = None
        if cfg.log_file is not None:
            cfg.log_file.parent.mkdir(parents=True, exist_ok=True)
            log = cfg.log_file.open("ab")
        try:
            child = subprocess.Popen(
                cfg.command,
                cwd=cfg.cwd,
                env=child_env(cfg.env),
                stdin=subprocess.DEVNULL,
                stdout=log if log is not None else subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # survives the agent; its own process group for stop
                close_fds=True,
            )
        except OSError as exc:
            return AppState(running=False, detail=f"cannot start {cfg.command[0]}: {exc}")
        finally:
            if log is not None:
                log.close()
        _CHILDREN[child.pid] = child
        self._write_pidfile(child.pid)
        # A crash on startup (port taken, bad path) happens within moments: report it, not "running".
        deadline = time.monotonic() + min(_STARTUP_GRACE_S, max(timeout_s, 0.0))
        while time.monotonic() < deadline:
            if child.poll() is not None:
                break
            time.sleep(0.02)
        if child.poll() is not None:
            self._remove_pidfile()
            _CHILDREN.pop(child.pid, None)
            hint = f"; see {cfg.log_file}" if cfg.log_file else ""
            detail = f"exited right after start with code {child.returncode}{hint}"
            return AppState(running=False, detail=detail)
        return self.state()

    def _signal(self, pid: int, sig: signal.Signals) -> None:
        try:
            if os.getpgid(pid) == pid:
                os.killpg(pid, sig)  # the app and anything it spawned
            else:
                os.kill(pid, sig)
        except ProcessLookupError:
            pass

    def _wait_gone(self, pid: int, start: int | None, timeout_s: float) -> bool:
        deadline = time.monotonic() + max(timeout_s, 0.0)
        while True:
            if not self._probe(pid, start)[0]:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def stop(self, timeout_s: float) -> AppState:
        st = self.state()
        if st.running is False:
            self._remove_pidfile()
            return st
        rec = self._read_pidfile()
        if st.running is None or not isinstance(rec, tuple):
            return AppState(running=None, detail=f"not stopping, state unknown: {st.detail}")
        pid, start = rec
        t0 = time.monotonic()
        try:
            self._signal(pid, signal.SIGTERM)
        except PermissionError as exc:
            return AppState(running=True, detail=f"cannot signal pid {pid}: {exc}", pid=pid)
        if self._wait_gone(pid, start, timeout_s):
            self._remove_pidfile()
            took = time.monotonic() - t0
            return AppState(running=False, detail=f"stopped pid {pid} with SIGTERM in {took:.1f}s")
        self._signal(pid, signal.SIGKILL)
        if self._wait_gone(pid, start, 5.0):
            self._remove_pidfile()
            return AppState(
                running=False,
                detail=f"pid {pid} ignored SIGTERM for {timeout_s:g}s; killed with SIGKILL",
            )
        return AppState(running=True, detail=f"pid {pid} still alive after SIGKILL", pid=pid)

    def logs(self, lines: int) -> list[str]:
        if self.cfg.log_file is None:
            raise ControllerError("the process controller has no log_file configured")
        try:
            return tail_file(self.cfg.log_file, lines)
        except FileNotFoundError as exc:
            raise ControllerError(f"log file {self.cfg.log_file} does not exist (never started?)") from exc
