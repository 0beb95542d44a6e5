"""Apply a service's migrations without starting it (services also apply them on start unless
``ORCHARD_RUN_MIGRATIONS_ON_START=false``):

    python -m shared.migrations health                 # schema from ORCHARD_HEALTH_SCHEMA, else "health"
    python -m shared.migrations ingest --schema ingest_staging
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from shared.db import create_engine
from shared.migrations import upgrade_to_head
from shared.settings import OrchardSettings

SERVICES = Path(__file__).resolve().parents[2] / "services"


async def migrate(service: str, schema: str) -> None:
    versions = SERVICES / service / "migrations"
    if not versions.is_dir():
        raise SystemExit(f"no migrations for a service called {service!r} ({versions})")
    settings = OrchardSettings()
    engine = create_engine(settings.database_dsn, pool_size=1, ssl=settings.database_tls.connect_ssl())
    try:
        await upgrade_to_head(engine, schema=schema, versions_dir=versions)
    finally:
        await engine.dispose()
    print(f"{service}: schema {schema} is at the latest migration")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("service", help="ingest, health, expansion ...")
    parser.add_argument("--schema", help="default: ORCHARD_<SERVICE>_SCHEMA, else the service's name")
    args = parser.parse_args(argv)
    schema = args.schema or os.environ.get(f"ORCHARD_{args.service.upper()}_SCHEMA", args.service)
    asyncio.run(migrate(args.service, schema))


if __name__ == "__main__":
    main(sys.argv[1:])
