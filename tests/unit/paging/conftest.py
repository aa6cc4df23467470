"""The bot unit tier's fixtures (store on a temp file, controlled clock, default runbook)."""

from tests.unit.bot.conftest import FakeClock, clock, db_path, runbook, store, svc  # noqa: F401

__all__ = ["FakeClock"]
