"""``python -m services.expansion``: settings, logging, the product catalogue (``ORCHARD_CATALOGUE``),
the consumer on the usage, interaction, contract, account-health and churn-risk topics, the outbox
relay and the HTTP API (port ``ORCHARD_EXPANSION_PORT``, default 8004), until SIGTERM."""

from __future__ import annotations

from services.expansion.service import build_service
from services.expansion.settings import ExpansionSettings
from shared.runtime import service_main


def main() -> None:
    service_main(ExpansionSettings, build_service)


if __name__ == "__main__":
    main()
