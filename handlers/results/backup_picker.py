"""The backup menu: valid backups newest first, the newest pre-migration one preselected."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from slack_sdk.models.blocks import Option, PlainTextObject, StaticSelectElement

from handlers.limits import MAX_OPTION_TEXT, MAX_OPTION_VALUE, MAX_OPTIONS, clip
from handlers.results import formatting as fmt
from ops.models import BackupInfo


def selectable_backups(backups: Sequence[BackupInfo]) -> list[BackupInfo]:
    """Valid backups whose name fits an option value, newest first (what ``backup_select`` offers)."""
    out = [b for b in backups if b.valid and len(b.name) <= MAX_OPTION_VALUE]
    out.sort(key=lambda b: (b.time or datetime.min.replace(tzinfo=UTC), b.name), reverse=True)
    return out


def unselectable_backups(backups: Sequence[BackupInfo]) -> list[str]:
    """Valid backups a select can't offer (name longer than an option value), for the caller to mention."""
    ok = {b.name for b in selectable_backups(backups)}
    return [b.name for b in backups if b.valid and b.name not in ok]


def _mid(text: str, limit: int) -> str:
    """Shorten in the middle: backup names differ at both ends (timestamp, label)."""
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return text[:head] + "…" + text[len(text) - (limit - 1 - head) :]


def _option(b: BackupInfo) -> Option:
    if b.newest_pre_migration:
        tag = "★ newest pre-migration"
    elif b.pre_migration:
        tag = "pre-migration"
    else:  # say what it is, so a migrated DB is never mistaken for a safe restore point
        tag = f"era {b.era}" if b.era else "not pre-migration"
    suffix = f" · {fmt.backup_time(b.time)} · {tag}"
    if len(b.name) + len(suffix) > MAX_OPTION_TEXT and (b.kind != "other" or len(suffix) > MAX_OPTION_TEXT - 24):
        suffix = f" · {tag}"  # agent and go-fast-cdn names spell their time: keep the name whole instead
    label = _mid(b.name, MAX_OPTION_TEXT - len(suffix)) + suffix
    return Option(value=b.name, text=PlainTextObject(text=clip(label, MAX_OPTION_TEXT)))


def backup_select(
    *, backups: Sequence[BackupInfo], chosen: str | None, action_id: str, block_id_hint: str = ""
) -> StaticSelectElement | None:
    """A picker of valid backups, newest first, preselecting the newest pre-migration one (the safe
    default for a restore) unless ``chosen`` names another offered backup. None when nothing is valid.

    ``block_id_hint`` is not used by the element itself (elements have no block_id): the caller puts it
    on the containing block; varying it with ``chosen`` makes Slack clients re-render ``initial_option``.
    """
    offered = selectable_backups(backups)
    if not offered:
        return None
    star = next((b for b in offered if b.newest_pre_migration), None)
    if star is None:  # an older agent that doesn't flag it: same rule as ops.backups.list_backups
        star = next((b for b in offered if b.pre_migration), None)
        if star is not None:
            star = star.model_copy(update={"newest_pre_migration": True})
            offered = [star if b.name == star.name else b for b in offered]
    pick = next((b for b in offered if chosen is not None and b.name == chosen), star)
    must = {b.name for b in (star, pick) if b is not None}
    keep = offered[:MAX_OPTIONS]
    late = [b for b in offered[MAX_OPTIONS:] if b.name in must]
    if late:  # never let the default or the current choice fall off the end
        droppable = [b.name for b in keep if b.name not in must]
        gone = set(droppable[len(droppable) - len(late) :])
        keep = [b for b in keep if b.name not in gone] + late
    keep.sort(key=lambda b: (b.time or datetime.min.replace(tzinfo=UTC), b.name), reverse=True)
    options = [_option(b) for b in keep]
    initial = next((o for o, b in zip(options, keep, strict=True) if pick is not None and b.name == pick.name), None)
    return StaticSelectElement(
        placeholder=PlainTextObject(text="Choose a backup"),
        action_id=action_id,
        options=options,
        initial_option=initial,
    )
