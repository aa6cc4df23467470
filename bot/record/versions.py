"""Stored record versions: every close writes a new one, none is ever overwritten.

Resolving, reopening and resolving again gives version 2 next to version 1; the CLI and the thread
can show any of them. The JSON is the record's dump; the Markdown is what was uploaded.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from bot.incidents import IncidentService
from bot.record.model import IncidentRecord
from ops.models import utcnow


class UnknownRecordVersion(LookupError):
    """No stored record for that incident (and version)."""


class StoredRecord(BaseModel):
    incident_id: str
    version: int
    kind: str
    markdown: str
    json_text: str
    created_at: datetime
    created_by: str | None = None
    file_id: str | None = None
    file_ref: str | None = None

    def record(self) -> IncidentRecord:
        return IncidentRecord.model_validate_json(self.json_text)


class RecordArchive:
    def __init__(self, service: IncidentService) -> None:
        self.service = service
        self.store = service.store

    def next_version(self, incident_id: str) -> int:
        rows = self.store.query("SELECT MAX(version) AS v FROM records WHERE incident_id = ?", (incident_id,))
        return int(rows[0]["v"] or 0) + 1

    def save(self, record: IncidentRecord, markdown: str, created_by: str | None) -> StoredRecord:
        """Store a new version; raises sqlite3.IntegrityError if that version already exists."""
        incident_id = record.summary.incident_id
        stored = StoredRecord(
            incident_id=incident_id,
            version=record.version,
            kind=record.kind,
            markdown=markdown,
            json_text=record.model_dump_json(indent=2),
            created_at=utcnow(),
            created_by=created_by,
        )
        with self.store.transaction():
            self.store.insert(
                "records",
                {
                    "incident_id": incident_id,
                    "version": stored.version,
                    "kind": stored.kind,
                    "markdown": stored.markdown,
                    "json": stored.json_text,
                    "created_at": stored.created_at.isoformat(),
                    "created_by": created_by,
                },
            )
            self.service.record(
                incident_id, "record.stored", created_by, version=stored.version, record_kind=stored.kind
            )
        return stored

    def set_file(self, incident_id: str, version: int, file_id: str, file_ref: str | None) -> bool:
        """Remember the uploaded file for a version (its Slack file id and permalink)."""
        return self.store.cond_update(
            "records", {"incident_id": incident_id, "version": version}, {"file_id": file_id, "file_ref": file_ref}
        )

    def get(self, incident_id: str, version: int | None = None) -> StoredRecord:
        """A version, or the latest; UnknownRecordVersion if there is none."""
        if version is None:
            rows = self.store.rows("records", "incident_id = ?", [incident_id], order_by="version DESC")
        else:
            rows = self.store.rows("records", "incident_id = ? AND version = ?", [incident_id, version])
        if not rows:
            which = f"version {version} of " if version is not None else ""
            raise UnknownRecordVersion(f"no stored record {which}{incident_id}")
        return self._model(rows[0])

    def versions(self, incident_id: str) -> list[StoredRecord]:
        rows = self.store.rows("records", "incident_id = ?", [incident_id], order_by="version")
        return [self._model(r) for r in rows]

    @staticmethod
    def _model(row: dict[str, object]) -> StoredRecord:
        return StoredRecord.model_validate({**row, "json_text": row["json"]})
