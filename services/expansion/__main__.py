"""``python -m services.expansion``: settings, logging, the product catalogue (``ORCHARD_CATALOGUE``),
the consumer on the usage, interaction, contract, account-health and churn-risk topics, the outbox
relay and the HTTP API (port ``ORCHARD_EXPANSION_PORT``, default 8004), until SIGTERM."""

from __future__ import annotations

import asyncio

from services.expansion.service import build_service
from services.expansion.settings import ExpansionSettings
from shared.logs import configure_logging
from shared.runtime import serve


async def run(settings: ExpansionSettings) -> None:
    service = build_service(settings)
    await serve(service.runtime, service.app, port=settings.expansion_port)


def main() -> None:
    settings = ExpansionSettings()
    configure_logging(service=settings.service_name, level=settings.log_level)
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
