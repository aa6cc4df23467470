"""Where a go-fast-cdn deployment keeps its state.

go-fast-cdn derives every path from the folder of its running executable (``ExPath``):
``db_data/main.db``, ``uploads/{images,docs,media}`` and ``backups/``. The Docker image uses
``/app`` as that folder. Nothing reads ``CDN_DB_PATH``, so neither do we.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ops.errors import OpInputError


class Deployment(BaseModel):
    """A deployment folder (the folder of the go-fast-cdn executable)."""

    model_config = ConfigDict(frozen=True)

    root: Path

    @classmethod
    def locate(cls, path: str | Path) -> Deployment:
        """Accept the deployment folder or the executable inside it; require its ``db_data/`` folder.

        ``main.db`` itself may be missing (lost or deleted in the outage): the agent must still start,
        report it in ``status`` and restore a backup into it."""
        p = Path(path).expanduser().resolve()
        if p.is_file():
            p = p.parent
        dep = cls(root=p)
        if not dep.db_dir.is_dir():
            raise OpInputError(
                "no_database",
                f"{dep.db_dir} does not exist: pass the folder of the go-fast-cdn executable "
                "(the one holding db_data/main.db; /app in Docker)",
            )
        return dep

    @property
    def db_dir(self) -> Path:
        return self.root / "db_data"

    @property
    def db_path(self) -> Path:
        return self.db_dir / "main.db"

    @property
    def journal_path(self) -> Path:
        return self.db_dir / "main.db-journal"

    @property
    def wal_path(self) -> Path:
        return self.db_dir / "main.db-wal"

    @property
    def shm_path(self) -> Path:
        return self.db_dir / "main.db-shm"

    @property
    def uploads_dir(self) -> Path:
        return self.root / "uploads"

    @property
    def images_dir(self) -> Path:
        return self.uploads_dir / "images"

    @property
    def docs_dir(self) -> Path:
        return self.uploads_dir / "docs"

    @property
    def media_dir(self) -> Path:
        return self.uploads_dir / "media"

    @property
    def backups_dir(self) -> Path:
        return self.root / "backups"

    @property
    def state_dir(self) -> Path:
        """The agent's own state (audit log, jobs, baselines); never read by go-fast-cdn."""
        return self.root / ".rollback-agent"
