"""The published JSON schema of the record, generated from the model (one definition).

``docs/incident-record.schema.json`` is this function's output; a unit test fails when the file
and the model disagree, and ``rollback-bot record-schema > docs/incident-record.schema.json``
regenerates it.
"""

from __future__ import annotations

import json
from typing import Any

from bot.record.model import RECORD_SCHEMA_ID, IncidentRecord


def record_json_schema() -> dict[str, Any]:
    schema = IncidentRecord.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": RECORD_SCHEMA_ID, **schema}


def record_json_schema_text() -> str:
    return json.dumps(record_json_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
