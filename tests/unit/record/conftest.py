from tests.unit.bot.conftest import clock, db_path, runbook, store, svc  # noqa: F401 - shared fixtures
