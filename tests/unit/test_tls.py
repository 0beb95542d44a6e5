"""Kafka and PostgreSQL security settings: read from ORCHARD_*, checked for completeness, turned into
the client options every connection uses, the SASL password never shown."""

from __future__ import annotations

import ssl

import pytest

from shared.settings import OrchardSettings
from shared.tls import DatabaseTls, KafkaSecurity

pytestmark = pytest.mark.unit


def test_plaintext_is_the_default_for_local_development() -> None:
    assert KafkaSecurity().client_options() == {"security_protocol": "PLAINTEXT"}
    assert DatabaseTls().connect_ssl() == "prefer"


def test_sasl_over_tls_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"SECURITY_PROTOCOL": "SASL_SSL", "SASL_MECHANISM": "SCRAM-SHA-256",
                        "SASL_USERNAME": "orchard", "SASL_PASSWORD": "pa55-word"}.items():
        monkeypatch.setenv(f"ORCHARD_KAFKA_{name}", value)
    monkeypatch.setenv("ORCHARD_DATABASE_SSL_MODE", "verify-full")
    settings = OrchardSettings()
    options = settings.kafka_security.client_options()
    assert options["security_protocol"] == "SASL_SSL" and options["sasl_mechanism"] == "SCRAM-SHA-256"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("orchard", "pa55-word")
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext) and context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    database = settings.database_tls.connect_ssl()
    assert isinstance(database, ssl.SSLContext) and database.check_hostname, "verify-full: the system's CAs"
    assert DatabaseTls(mode="require").connect_ssl() == "require"
    assert "pa55-word" not in repr(settings) and "pa55-word" not in settings.model_dump_json()


@pytest.mark.parametrize(("settings", "problem"), [
    ({"security_protocol": "SASL_SSL", "sasl_username": "orchard"}, "needs ORCHARD_KAFKA_SASL_USERNAME"),
    ({"security_protocol": "SSL", "ssl_certfile": "/etc/client.pem"}, "go together"),
])
def test_incomplete_kafka_security_is_refused(settings: dict[str, str], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        KafkaSecurity(**settings)  # type: ignore[arg-type]


def test_database_certificates_without_a_verifying_mode_are_refused() -> None:
    with pytest.raises(ValueError, match="ORCHARD_DATABASE_SSL_MODE is prefer"):
        DatabaseTls(root_cert="/etc/ca.pem")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="go together"):
        DatabaseTls(mode="require", cert="/etc/client.pem")  # type: ignore[arg-type]
