"""``python -m services.ingest``: settings, logging, the consumer on the raw topic, the outbox relay,
the processed-events pruner (ingest's dedupe window) and the HTTP API (port ``ORCHARD_INGEST_PORT``,
default 8001), until SIGTERM."""

from __future__ import annotations

from services.ingest.service import build_service
from services.ingest.settings import IngestSettings
from shared.runtime import service_main


def main() -> None:
    service_main(IngestSettings, build_service)


if __name__ == "__main__":
    main()
