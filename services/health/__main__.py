"""``python -m services.health``: settings, logging, the consumer on the usage, interaction and
contract topics, the alert inbox's consumer on the churn-risk topic, the scheduled re-evaluation,
the timeline's retention pruner, the outbox relay and the HTTP API (port
``ORCHARD_HEALTH_PORT``, default 8002), until SIGTERM."""

from __future__ import annotations

from services.health.service import build_service
from services.health.settings import HealthSettings
from shared.runtime import service_main


def main() -> None:
    service_main(HealthSettings, build_service)


if __name__ == "__main__":
    main()
