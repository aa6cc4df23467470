"""The host an agent operates on: the deployment folder, how the app is run, where its API answers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ops.control.base import AppController
from ops.deployment import Deployment


@dataclass(frozen=True)
class Host:
    deployment: Deployment
    controller: AppController
    api_url: str = "http://127.0.0.1:8080"
    # folders outside backups/ whose files replace_db may copy over main.db (option 3's "cp")
    source_dirs: tuple[Path, ...] = ()
