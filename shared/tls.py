"""How a service reaches Kafka (TLS, SASL) and PostgreSQL (TLS): settings, and the client options
built from them once, so every Kafka client and the database engine connect the same way.

Defaults are the local development setup (plaintext); see README, "Configuration".
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, Literal

from aiokafka.helpers import create_ssl_context
from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSecurity(BaseSettings):
    """``ORCHARD_KAFKA_SECURITY_PROTOCOL``, ``ORCHARD_KAFKA_SASL_*``, ``ORCHARD_KAFKA_SSL_*``."""

    model_config = SettingsConfigDict(env_prefix="ORCHARD_KAFKA_", frozen=True, extra="ignore")

    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    """The CA that signed the brokers' certificates (the system's CAs when unset)."""
    ssl_certfile: Path | None = None
    """A client certificate, for brokers that authenticate clients by TLS (with ``ssl_keyfile``)."""
    ssl_keyfile: Path | None = None

    @model_validator(mode="after")
    def _complete(self) -> KafkaSecurity:
        if self.security_protocol.startswith("SASL") and not (self.sasl_username and self.sasl_password):
            raise ValueError(f"{self.security_protocol} needs ORCHARD_KAFKA_SASL_USERNAME and _PASSWORD")
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError("ORCHARD_KAFKA_SSL_CERTFILE and ORCHARD_KAFKA_SSL_KEYFILE go together")
        return self

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for every aiokafka client (producer, consumer, admin)."""
        options: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.security_protocol in ("SSL", "SASL_SSL"):
            options["ssl_context"] = create_ssl_context(
                cafile=self.ssl_cafile, certfile=self.ssl_certfile, keyfile=self.ssl_keyfile)
        if self.security_protocol.startswith("SASL"):
            assert self.sasl_password is not None  # checked by _complete
            options |= {"sasl_mechanism": self.sasl_mechanism, "sasl_plain_username": self.sasl_username,
                        "sasl_plain_password": self.sasl_password.get_secret_value()}
        return options


class DatabaseTls(BaseSettings):
    """``ORCHARD_DATABASE_SSL_MODE`` and ``ORCHARD_DATABASE_SSL_ROOT_CERT`` / ``_CERT`` / ``_KEY``, with
    libpq's meanings: ``require`` encrypts, ``verify-ca`` also checks the server's certificate,
    ``verify-full`` also its host name."""

    model_config = SettingsConfigDict(env_prefix="ORCHARD_DATABASE_SSL_", frozen=True, extra="ignore")

    mode: Literal["disable", "prefer", "require", "verify-ca", "verify-full"] = "prefer"
    root_cert: Path | None = None
    cert: Path | None = None
    key: Path | None = None

    @model_validator(mode="after")
    def _complete(self) -> DatabaseTls:
        if (self.cert is None) != (self.key is None):
            raise ValueError("ORCHARD_DATABASE_SSL_CERT and ORCHARD_DATABASE_SSL_KEY go together")
        if self.mode in ("disable", "prefer") and (self.root_cert or self.cert):
            raise ValueError(f"certificates are given but ORCHARD_DATABASE_SSL_MODE is {self.mode}")
        return self

    def connect_ssl(self) -> ssl.SSLContext | str:
        """asyncpg's ``ssl`` argument: the mode itself where nothing is verified and no certificate is
        given, else a context (the system's CAs unless ``root_cert`` names one)."""
        nothing_to_load = self.cert is None and self.root_cert is None
        if self.mode in ("disable", "prefer") or (self.mode == "require" and nothing_to_load):
            return self.mode
        context = ssl.create_default_context(cafile=self.root_cert)
        if self.cert is not None:
            context.load_cert_chain(self.cert, self.key)
        if self.mode != "verify-full":
            context.check_hostname = False
        if self.mode == "require" and self.root_cert is None:
            context.verify_mode = ssl.CERT_NONE  # as libpq: require verifies only when given a CA
        return context
