"""One error body for every HTTP error of every service.

``{"error": {"status": 404, "code": "not_found", "message": "...", "details": [...]}}``
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
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


_DESCRIPTIONS = {
    400: "The request is unusable as a whole (e.g. an invalid cursor, a body that is not UTF-8)",
    401: "Missing or unknown API key",
    403: "The API key lacks the scope this endpoint needs",
    404: "Nothing with this id",
    413: "The body is over this endpoint's size limit",
    422: "A parameter or a body field is not valid (each one listed in details, with its location)",
    429: "Too many of these requests at once: retry after Retry-After seconds",
    503: "A dependency (database, Kafka) is unavailable: retry",
}


class ErrorInfo(BaseModel):
    status: int
    code: str = Field(description="bad_request, unauthorized, forbidden, not_found, validation_error, ...")
    message: str
    details: list[dict[str, Any]] = Field(description="Per field: loc, msg and type, where there are fields.")


class ErrorBody(BaseModel):
    """The one error body of every service."""

    error: ErrorInfo


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these error statuses, all with the standard error body."""
    return {status: {"model": ErrorBody, "description": _DESCRIPTIONS.get(status, _CODES.get(status, "error"))}
            for status in statuses}


class ApiError(Exception):
    """Raise from a route to answer with the standard error body."""

    def __init__(
        self, status: int, message: str, *, code: str | None = None, details: list[Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "error")
        self.message = message
        self.details = details or []
        self.headers = headers


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
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else exc.headers
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
