"""The grammar of ``/rollback [drill] [environment] [severity] [summary]``.

Strict on purpose: during an outage a typo in the severity must not silently become a
"critical" incident with the typo as its summary. The first word is an environment or a
severity; if anything follows an environment, it must start with a severity.
"""

from __future__ import annotations

from pydantic import BaseModel

SEVERITIES = ("critical", "major", "minor")
MAX_SUMMARY = 500
USAGE = (
    "Usage: `/rollback [drill] [environment] [severity] [summary]`\n"
    "• `drill`: rehearse on a scratch copy of the deployment (the live DB and app are not touched)\n"
    "• severity: `critical` (target 15 min, the default), `major` (1 h) or `minor` (4 h)\n"
    "• environments: {envs} (default `{default}`)\n"
    "Example: `/rollback {default} critical media listing returns 500s`"
)


class RollbackCommand(BaseModel):
    environment: str
    drill: bool = False
    severity: str = "critical"
    summary: str = ""


class CommandUsageError(ValueError):
    """A sentence saying what was wrong, followed by the usage text."""


def usage(environments: list[str], default: str) -> str:
    return USAGE.format(envs=", ".join(f"`{e}`" for e in environments), default=default)


def parse_rollback_args(text: str, environments: list[str], default: str) -> RollbackCommand:
    words = text.split()
    drill = bool(words) and words[0].lower() == "drill"
    if drill:
        words.pop(0)
    env = default
    envs_lower = {e.lower(): e for e in environments}
    if words and words[0].lower() in envs_lower:
        env = envs_lower[words.pop(0).lower()]
    elif words and words[0].lower() not in SEVERITIES:
        raise CommandUsageError(f"`{words[0]}` is neither a known environment nor a severity.")
    severity = "critical"
    if words:
        if words[0].lower() not in SEVERITIES:
            raise CommandUsageError(f"`{words[0]}` is not a severity.")
        severity = words.pop(0).lower()
    summary = " ".join(words)
    if any(ord(c) < 32 for c in summary):
        raise CommandUsageError("The summary contains control characters.")
    if len(summary) > MAX_SUMMARY:
        raise CommandUsageError(f"The summary is {len(summary)} characters; keep it under {MAX_SUMMARY}.")
    return RollbackCommand(environment=env, severity=severity, summary=summary, drill=drill)
