"""The host agent: an authenticated HTTP service that runs registered operations as idempotent jobs.

Modules: ``auth`` (request signing, shared with ``ops.client``), ``jobs`` (SQLite job store and
runner), ``audit`` (append-only JSON lines), ``locks`` (one state-changing operation at a time,
across processes), ``config`` (settings), ``server`` (Starlette app and ``serve``).
"""
