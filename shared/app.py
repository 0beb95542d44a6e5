"""The FastAPI app factory every service uses: health, readiness, metrics, auth, errors, OpenAPI."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from shared.auth import ApiKeys, require_keys
from shared.errors import install_error_handlers
from shared.guards import ApiRoute

ReadinessCheck = Callable[[], Awaitable[bool]]

HTTP_REQUESTS = Counter(
    "orchard_http_requests_total", "HTTP requests by route and status.", ["service", "method", "route", "status"]
)
HTTP_SECONDS = Histogram(
    "orchard_http_request_seconds", "HTTP request latency by route.", ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


class _Metrics(BaseHTTPMiddleware):
    def __init__(self, app: object, service: str) -> None:
        super().__init__(app)  # type: ignore[arg-type]
        self._service = service

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        HTTP_SECONDS.labels(self._service, request.method, path).observe(time.perf_counter() - started)
        HTTP_REQUESTS.labels(self._service, request.method, path, str(response.status_code)).inc()
        return response


@dataclass(frozen=True)
class ApiSpec:
    """A service's API as its ``api`` package declares it: the service (its metrics label, and where its
    routes find their context: ``app.state.<service>``), OpenAPI title and description, and routers."""

    service: str
    title: str
    description: str
    routers: Sequence[APIRouter]


def api_router(*, prefix: str, tags: list[str | Enum]) -> APIRouter:
    """A router for a service's endpoints: its routes authenticate, check text and limit bodies first
    (``shared.guards.ApiRoute``)."""
    return APIRouter(prefix=prefix, tags=tags, route_class=ApiRoute)


def create_app(
    *,
    service: str,
    title: str,
    description: str,
    api_keys: ApiKeys,
    routers: Sequence[APIRouter] = (),
    readiness: Mapping[str, ReadinessCheck] | None = None,
    version: str = "1.0.0",
    context: object = None,
) -> FastAPI:
    """The service's app. Refuses (``ApiKeysMissing``) to exist without a configured API key, and
    (TypeError) to serve a route that skips the guards of ``api_router``. `context`, what the routes
    need (sessions, tables, clock ...), is set as ``app.state.<service>`` for the service's
    dependency to hand them."""
    app = FastAPI(title=title, description=description, version=version)
    if context is not None:
        setattr(app.state, service, context)
    app.router.route_class = ApiRoute
    app.state.api_keys = require_keys(api_keys)
    app.state.readiness = dict(readiness or {})
    install_error_handlers(app)
    app.add_middleware(_Metrics, service=service)

    @app.get("/healthz", tags=["ops"], summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], summary="The service's database and Kafka are reachable")
    async def readyz() -> JSONResponse:
        checks = {name: await check() for name, check in app.state.readiness.items()}
        ready = all(checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    for router in routers:
        unguarded = [r.path for r in router.routes if isinstance(r, APIRoute) and not isinstance(r, ApiRoute)]
        if unguarded:
            raise TypeError(f"routes {unguarded} are not guarded: build their router with shared.app.api_router")
        app.include_router(router)
    return app
