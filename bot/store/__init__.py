"""The bot's persistence: one SQLite file (sqlite-utils) that upgrades itself when opened.

``Store`` (database.py) is the connection, transactions and conditional updates; migrations.py is
the schema, one numbered migration per change.
"""

from bot.store.database import JSON_COLUMNS, Store
from bot.store.migrations import LATEST, StoreVersionError

__all__ = ["JSON_COLUMNS", "LATEST", "Store", "StoreVersionError"]
