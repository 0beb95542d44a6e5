"""The Kafka and PostgreSQL security settings reach the real clients: the local broker and database
speak plaintext only, so a service told to use TLS or SASL cannot connect, and says so."""

from __future__ import annotations

import pytest
from aiokafka.errors import KafkaConnectionError

from shared.db import ping
from shared.runtime import Runtime
from shared.settings import OrchardSettings
from shared.tls import DatabaseTls, KafkaSecurity
from tests.infra import Infra
from tests.integration.plumbing_service import VERSIONS, build

pytestmark = pytest.mark.integration


def _runtime(infra: Infra, schema: str, **security: object) -> Runtime:
    settings = OrchardSettings(service_name="tls-test", kafka_bootstrap=infra.kafka_bootstrap,
                               database_url=infra.database_url, run_migrations_on_start=False, **security)
    return Runtime(settings, tables=build(schema, "unused").tables, versions_dir=VERSIONS)


async def test_database_tls_settings_reach_asyncpg(infra: Infra, schema: str) -> None:
    required = _runtime(infra, schema, database_tls=DatabaseTls(mode="require"))
    plain = _runtime(infra, schema, database_tls=DatabaseTls(mode="disable"))
    try:
        assert not await ping(required.engine), "the local server has no TLS: a required upgrade must fail"
        assert await ping(plain.engine)
    finally:
        await required.engine.dispose()
        await plain.engine.dispose()


@pytest.mark.parametrize("security", [
    KafkaSecurity(security_protocol="SSL"),
    KafkaSecurity(security_protocol="SASL_PLAINTEXT", sasl_username="orchard", sasl_password="secret"),
])
async def test_kafka_security_settings_reach_every_kafka_client(
    infra: Infra, schema: str, security: KafkaSecurity
) -> None:
    runtime = _runtime(infra, schema, kafka_security=security)
    try:
        with pytest.raises(KafkaConnectionError):
            await runtime.start()  # the admin client creating the topics
        with pytest.raises(KafkaConnectionError):
            await runtime.producer.start()
    finally:
        await runtime.close()
