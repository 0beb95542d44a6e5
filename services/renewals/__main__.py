"""``python -m services.renewals``: settings, logging, the consumer on the contract and
account-health topics, the scheduled pass, the outbox relay and the HTTP API (port ``ORCHARD_RENEWALS_PORT``, default
8003), until SIGTERM."""

from __future__ import annotations

from services.renewals.service import build_service
from services.renewals.settings import RenewalsSettings
from shared.runtime import service_main


def main() -> None:
    service_main(RenewalsSettings, build_service)


if __name__ == "__main__":
    main()
