"""Bearer API keys with scopes (``ORCHARD_API_KEYS``): 401 without a known key, 403 without the scope."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.errors import ApiError

_bearer = HTTPBearer(auto_error=False, description="An Orchard API key")


def _find_scopes(keys: Mapping[str, list[str]], presented: str) -> list[str] | None:
    found = None
    for key, scopes in keys.items():
        # Compare every key in constant time, so timing does not reveal a key's prefix.
        if hmac.compare_digest(key.encode(), presented.encode()):
            found = scopes
    return found


def require_scope(scope: str) -> Callable[..., Awaitable[str]]:
    """A route dependency: returns the caller's key id (for audit) once the scope is checked."""

    async def check(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
    ) -> str:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise ApiError(401, "missing bearer API key (Authorization: Bearer <key>)")
        scopes = _find_scopes(request.app.state.api_keys, credentials.credentials)
        if scopes is None:
            raise ApiError(401, "unknown API key")
        if scope not in scopes:
            raise ApiError(403, f"this API key lacks the '{scope}' scope")
        return "key:" + credentials.credentials[:4] + "…"

    return check
