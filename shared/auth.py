"""Bearer API keys with scopes (``ORCHARD_API_KEYS``): 401 without a known key, 403 without the scope.

Keys are configured, never built in. The preferred form names each key and stores only the SHA-256
digest of its secret::

    {"crm-sync": {"sha256": "<hex digest of the secret>", "scopes": ["read"]}}

The name is the audit identity (who acknowledged an alert, set an override, published a scorecard).
The short form ``{"<secret>": ["read", "write"]}`` stays accepted for local use; such a key is
identified by its position (``unnamed-key-1``), never by any part of its secret.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic_core import core_schema

from shared.errors import ApiError

SCOPES = ("ingest:write", "read", "write")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+:-]{0,63}$")
_HEX_DIGEST = re.compile(r"^[0-9a-fA-F]{64}$")
_IDENTITY_KEY = "orchard.api_key"

_bearer = HTTPBearer(auto_error=False, description="An Orchard API key")


class ApiKeysMissing(RuntimeError):
    """A service with an HTTP API was started without any API key configured."""


def secret_digest(secret: str) -> str:
    """The hex SHA-256 of a secret: what the preferred form of ``ORCHARD_API_KEYS`` stores."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    name: str
    digest: bytes
    scopes: frozenset[str]

    def __repr__(self) -> str:
        return f"ApiKey(name={self.name!r}, scopes={sorted(self.scopes)!r})"


@dataclass(frozen=True)
class ApiKeys:
    """The configured keys; ``repr`` and serialisation show names and scopes, never secrets or digests."""

    keys: tuple[ApiKey, ...] = ()

    @classmethod
    def parse(cls, config: object) -> ApiKeys:
        """Keys from ``ORCHARD_API_KEYS`` (its JSON text, or the decoded object); ValueError says what is wrong."""
        if isinstance(config, ApiKeys):
            return config
        if isinstance(config, (str, bytes)):
            try:
                config = orjson.loads(config) if config.strip() else {}
            except orjson.JSONDecodeError as exc:
                raise ValueError(f"ORCHARD_API_KEYS is not JSON: {exc}") from None
        if not isinstance(config, Mapping):
            raise ValueError("ORCHARD_API_KEYS must be a JSON object: key name -> {sha256, scopes}")
        keys: list[ApiKey] = []
        for position, (label, entry) in enumerate(config.items(), start=1):
            keys.append(_parse_entry(label, entry, position))
        names = [k.name for k in keys]
        if len(set(names)) != len(names):
            raise ValueError("ORCHARD_API_KEYS names a key twice")
        if len({k.digest for k in keys}) != len(keys):
            raise ValueError("ORCHARD_API_KEYS holds the same secret under two names")
        return cls(tuple(keys))

    def find(self, secret: str) -> ApiKey | None:
        """The key whose secret this is. Every key is compared, each in constant time, so the time taken
        reveals neither which key matched nor how much of a digest did."""
        presented = hashlib.sha256(secret.encode()).digest()
        found = None
        for key in self.keys:
            if hmac.compare_digest(key.digest, presented):
                found = key
        return found

    def described(self) -> dict[str, list[str]]:
        return {k.name: sorted(k.scopes) for k in self.keys}

    def __bool__(self) -> bool:
        return bool(self.keys)

    def __repr__(self) -> str:
        return f"ApiKeys({self.described()!r})"

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> core_schema.CoreSchema:
        # A settings field of this type takes the raw JSON text (or a mapping) and shows only names.
        return core_schema.no_info_plain_validator_function(
            cls.parse, serialization=core_schema.plain_serializer_function_ser_schema(cls.described)
        )


def _parse_entry(label: object, entry: object, position: int) -> ApiKey:
    if not isinstance(label, str) or not label.strip():
        raise ValueError(f"API key {position}: the name (or short-form secret) must be a non-empty string")
    if isinstance(entry, Mapping):
        if not _NAME.match(label):
            raise ValueError(f"API key {label!r}: a name is 1-64 letters, digits or . _ @ + : - (starting with a "
                             "letter or digit)")
        unknown = set(entry) - {"sha256", "scopes"}
        if unknown:
            raise ValueError(f"API key {label!r}: unknown fields {sorted(unknown)}; give sha256 and scopes")
        digest = entry.get("sha256")
        if not isinstance(digest, str) or not _HEX_DIGEST.match(digest):
            raise ValueError(f"API key {label!r}: sha256 must be the 64 hex digits of the secret's SHA-256 "
                             "(printf %s \"$SECRET\" | sha256sum)")
        return ApiKey(label, bytes.fromhex(digest), _scopes(label, entry.get("scopes")))
    # The short form: the label is the secret itself, so it must never become the key's identity.
    name = f"unnamed-key-{position}"
    return ApiKey(name, hashlib.sha256(label.encode()).digest(), _scopes(name, entry))


def _scopes(name: str, scopes: object) -> frozenset[str]:
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise ValueError(f"API key {name!r}: scopes must be a list of strings")
    unknown = set(scopes) - set(SCOPES)
    if unknown:
        raise ValueError(f"API key {name!r}: unknown scopes {sorted(unknown)}; known: {', '.join(SCOPES)}")
    return frozenset(scopes)


def require_keys(keys: ApiKeys) -> ApiKeys:
    """The keys an HTTP API serves with; none configured is a refusal to start, not an open door."""
    if not keys:
        raise ApiKeysMissing(
            "ORCHARD_API_KEYS is not set: no API key exists unless configured. Set it to a JSON object, "
            'e.g. {"ops": {"sha256": "<sha256 hex of the secret>", "scopes": ["read", "write"]}}'
        )
    return keys


def authenticate(request: Request, scope: str) -> ApiKey:
    """The caller's key, once it is known and holds `scope`; else the 401 or 403 ``ApiError``.

    Runs before the body is read (see ``shared.guards``) and again as the route's dependency, which
    takes the answer remembered on the request."""
    remembered = request.scope.get(_IDENTITY_KEY)
    if isinstance(remembered, ApiKey) and scope in remembered.scopes:
        return remembered
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError(401, "missing bearer API key (Authorization: Bearer <key>)")
    # Starlette decodes header bytes as latin-1: re-encode to the bytes sent, then read them as UTF-8.
    keys: ApiKeys = request.app.state.api_keys
    key = keys.find(secret.strip().encode("latin-1").decode("utf-8", "replace"))
    if key is None:
        raise ApiError(401, "unknown API key")
    if scope not in key.scopes:
        raise ApiError(403, f"this API key ({key.name}) lacks the '{scope}' scope")
    request.scope[_IDENTITY_KEY] = key
    return key


@dataclass(frozen=True)
class ScopeCheck:
    """A route dependency: the caller's key name (the audit identity) once the scope is checked."""

    scope: str

    async def __call__(
        self, request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
    ) -> str:
        # `credentials` only declares the bearer scheme in OpenAPI; the header is read by `authenticate`.
        return authenticate(request, self.scope).name


def require_scope(scope: str) -> Callable[..., Awaitable[str]]:
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")
    return ScopeCheck(scope)


ReadKey = Annotated[str, Depends(require_scope("read"))]
"""A route parameter: the caller's key name, once the key is known to hold the ``read`` scope."""
WriteKey = Annotated[str, Depends(require_scope("write"))]
"""A route parameter: the caller's key name (who acts, for the audit), once it holds ``write``."""
