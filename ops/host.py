"""The host an agent operates on: the deployment folder, how the app is run, where its API answers."""

from __future__ import annotations

from dataclasses import dataclass

from ops.control.base import AppController
from ops.deployment import Deployment


@dataclass(frozen=True)
class Host:
    deployment: Deployment
    controller: AppController
    api_url: str = "http://127.0.0.1:8080"
