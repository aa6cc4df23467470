"""Optional phone paging through PagerDuty's Events API v2 (httpx).

One alert per incident and role (dedup key ``rollback-bot/<incident>/<role>``): triggered when the
role is paged (a re-page in a later round folds into the same alert), resolved when the role is
acknowledged in Slack or the incident closes. Slack stays the source of truth for acknowledgements;
PagerDuty only makes a phone ring. Off unless a contact names a routing key.
"""

from __future__ import annotations

from typing import Any

import httpx

DEFAULT_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
SEVERITY = {"critical": "critical", "major": "error", "minor": "warning"}


class PagerDutyError(RuntimeError):
    """PagerDuty refused or could not be reached; the message says which and why."""


class PagerDutyEvents:
    def __init__(self, url: str = DEFAULT_EVENTS_URL, *, timeout_s: float = 10.0, source: str = "rollback-bot") -> None:
        self.url = url
        self.source = source
        self._http = httpx.Client(timeout=timeout_s, transport=httpx.HTTPTransport(retries=2))

    def trigger(self, routing_key: str, dedup_key: str, summary: str, severity: str) -> None:
        self._send(
            {
                "routing_key": routing_key,
                "event_action": "trigger",
                "dedup_key": dedup_key,
                "payload": {
                    "summary": summary[:1024],
                    "source": self.source,
                    "severity": SEVERITY.get(severity, "error"),
                },
            }
        )

    def resolve(self, routing_key: str, dedup_key: str) -> None:
        self._send({"routing_key": routing_key, "event_action": "resolve", "dedup_key": dedup_key})

    def _send(self, event: dict[str, Any]) -> None:
        try:
            resp = self._http.post(self.url, json=event)
        except httpx.HTTPError as exc:
            raise PagerDutyError(f"PagerDuty unreachable at {self.url}: {exc}") from exc
        if resp.status_code != 202:
            raise PagerDutyError(f"PagerDuty answered {resp.status_code}: {resp.text[:300]}")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PagerDutyEvents:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
