"""One error body for every HTTP error of every service.

``{"error": {"status": 404, "code": "not_found", "message": "...", "details": [...]}}``
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(Exception):
    """Raise from a route to answer with the standard error body."""

    def __init__(
        self, status: int, message: str, *, code: str | None = None, details: list[Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "error")
        self.message = message
        self.details = details or []


def error_response(
    status: int, message: str, *, code: str | None = None, details: list[Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"status": status, "code": code or _CODES.get(status, "error"), "message": message,
                      "details": details or []}}
    return JSONResponse(body, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return error_response(exc.status, exc.message, code=exc.code, details=exc.details, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": ".".join(str(p) for p in err.get("loc", ())), "msg": err.get("msg"), "type": err.get("type")}
            for err in exc.errors()
        ]
        return error_response(422, "the request is not valid", details=details)


def patch_changes(body: BaseModel, *, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields a PATCH body really sets: 422 if it sets none, or sets one of `required` to null."""
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise ApiError(422, f"nothing to change: give {', '.join(type(body).model_fields)}")
    for name in required:
        if name in changes and changes[name] is None:
            message = f"{name} cannot be null"
            raise ApiError(422, message, details=[{"loc": f"body.{name}", "msg": message}])
    return changes
