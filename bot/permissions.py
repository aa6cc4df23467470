"""Who may press Run: configured operator user ids and/or the members of one user group.

With neither configured nobody may run agent operations: an unconfigured bot must not let the
whole channel drop tables.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class OperatorPolicy:
    def __init__(
        self,
        user_ids: list[str],
        group_id: str | None,
        group_members: Callable[[str], list[str]],
        *,
        ttl_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.user_ids = frozenset(user_ids)
        self.group_id = group_id
        self._group_members = group_members
        self._ttl_s = ttl_s
        self._clock = clock
        self._cache: tuple[float, frozenset[str]] | None = None
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        return bool(self.user_ids or self.group_id)

    def allowed(self, user_id: str) -> tuple[bool, str]:
        """(allowed, why) — ``why`` is shown to a refused user and kept in the timeline."""
        if not self.configured:
            return False, "no operators are configured (ROLLBACK_OPERATORS / ROLLBACK_OPERATOR_GROUP)"
        if user_id in self.user_ids:
            return True, "listed operator"
        if self.group_id:
            try:
                members = self._members()
            except Exception as exc:  # Slack down: fail closed, but say why
                return False, f"could not read operator group {self.group_id}: {exc}"
            if user_id in members:
                return True, f"member of operator group {self.group_id}"
        return False, "not an operator for this bot"

    def _members(self) -> frozenset[str]:
        assert self.group_id is not None
        with self._lock:
            now = self._clock()
            if self._cache is None or now - self._cache[0] > self._ttl_s:
                self._cache = (now, frozenset(self._group_members(self.group_id)))
            return self._cache[1]
