"""go-fast-cdn's own rollback commands whose defect is known, and what each really does.

The checklist tells a tired engineer to copy these. Each pattern here matches a command as the
checklist (or a team's runbook) prints it; a runbook step showing one must carry a one-line
``warning`` (bot/runbook.py refuses to load it otherwise), so no command that lies reaches the
thread without saying so. Facts: go-fast-cdn reference §2.1 (the ``go run`` trap), §3.2, §3.5, §8.
"""

from __future__ import annotations

import re

# (pattern, what the command really does): the second part is the reason, the runbook's own
# warning is what the thread shows.
KNOWN_BROKEN: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"media_migration\.(sh|bat)\b.*--rollback|go run .*media_migration.*--rollback"),
        "runs under `go run`, so it rolls back a throwaway DB in the go-build temp folder and reports success",
    ),
    (
        re.compile(r"verify_media_migration\.(sh|bat)|go run .*verify_media_migration"),
        "checks a migrated DB: it always fails after a good rollback (a tip build even re-creates media)",
    ),
    (
        re.compile(r"db_backup\.(sh|bat)\b.*\brestore\b"),
        "overwrites main.db in place: not atomic, no checksum, a stale journal left beside it",
    ),
    (
        re.compile(r"db_backup\.(sh|bat)\b.*\bcreate\b.*-output"),
        "-output only renames within one filesystem; backups made in the same second overwrite each other",
    ),
    (
        re.compile(r"db_backup\.(sh|bat)\b.*\blist\b"),
        "lists only the backups/ folder next to the built db_backup binary (bin/backups), not the server's",
    ),
    (
        re.compile(r"^go run main\.go\b"),
        "runs the server from the go-build temp folder: it serves (and creates) an empty DB there",
    ),
)


def broken_command_warning(command: str) -> str | None:
    """Why ``command`` is known to lie, or None."""
    for pattern, why in KNOWN_BROKEN:
        if pattern.search(command.strip()):
            return why
    return None
