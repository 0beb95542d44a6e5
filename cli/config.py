"""Where the services are and how to reach them: one frozen object per invocation, built from the
global options and the environment (never at import time)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from shared.settings import TopicSettings

ServiceName = Literal["ingest", "health", "renewals", "expansion"]
# The contract's ports; ``ORCHARD_<SERVICE>_PORT`` moves a service, as it does for the service itself.
DEFAULT_PORTS: dict[ServiceName, int] = {"ingest": 8001, "health": 8002, "renewals": 8003, "expansion": 8004}


def default_url(service: ServiceName) -> str:
    """``ORCHARD_<SERVICE>_URL``, else the service on 127.0.0.1 at its port."""
    explicit = os.environ.get(f"ORCHARD_{service.upper()}_URL")
    if explicit:
        return explicit.rstrip("/")
    port = os.environ.get(f"ORCHARD_{service.upper()}_PORT") or str(DEFAULT_PORTS[service])
    return f"http://127.0.0.1:{port}"


@dataclass(frozen=True)
class Config:
    urls: Mapping[str, str]  # by ServiceName
    api_key: str | None
    kafka_bootstrap: str
    topics: TopicSettings
    timeout_s: float = 30.0

    def url(self, service: ServiceName) -> str:
        return self.urls[service]
