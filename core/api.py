"""The HTTP edge of the core: the litestar app, authentication middleware,
error mapping, health, readiness, metrics, login and roster routes.

Errors become JSON `{"code", "message", "temporary", "details"?}` here and
only here (`error_handler`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import date
from typing import Any, Protocol
from uuid import UUID

import msgspec
from litestar import Litestar, MediaType, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.middleware import (
    AbstractAuthenticationMiddleware,
    AuthenticationResult,
    DefineMiddleware,
)
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.types import ASGIApp, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from core import actions
from core.auth import DevLogin, IssuedToken, Principal, TokenIssuer
from core.clock import Clock, today_in_helsinki
from core.config import Settings
from core.db import Database
from core.errors import Forbidden, NotFound, ReppuError, Unauthorized
from core.model import Group, GroupRef, Me, Person, RosterResult, School

log = logging.getLogger("reppu.http")

#: Paths under /v1 that need no token.
PUBLIC_V1_PATHS: tuple[str, ...] = (
    "/v1/auth/dev-login",
    "/v1/auth/dev-logins",
    # the push public key is public; the unsubscribe link carries its own token
    "/v1/push/vapid-public-key",
    "/v1/email/unsubscribe",
    # a personal calendar feed: the secret URL is its own credential
    "/v1/calendar/{tenant:str}/{feed:str}",
)

#: Paths whose last segments are secrets (never logged).
SECRET_PATH_PREFIXES: tuple[str, ...] = ("/v1/calendar/",)


class Services:
    """What the routes need, built once at start-up."""

    def __init__(self, settings: Settings, db: Database, clock: Clock) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self.issuer = TokenIssuer(settings, clock)
        self.dev_login = DevLogin() if settings.dev_login else None
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "reppu_http_requests",
            "HTTP requests served",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "reppu_http_request_seconds",
            "HTTP request duration",
            ["method", "route"],
            registry=self.registry,
        )
        self.pool_size = Gauge(
            "reppu_db_pool_connections", "Open application DB connections", registry=self.registry
        )
        self.pool_idle = Gauge(
            "reppu_db_pool_idle", "Idle application DB connections", registry=self.registry
        )

    def today(self) -> date:
        return today_in_helsinki(self.clock)


def services(conn: ASGIConnection[Any, Any, Any, Any]) -> Services:
    svc: Services = conn.app.state["services"]
    return svc


def principal(request: Request[Any, Any, Any]) -> Principal:
    user: Principal = request.user
    return user


# ---- middleware --------------------------------------------------------------------------


class BearerAuth(AbstractAuthenticationMiddleware):
    """Every /v1 route but those in PUBLIC_V1_PATHS needs `Authorization: Bearer`."""

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("a bearer token is required", code="token_required")
        return AuthenticationResult(
            user=services(connection).issuer.verify(token.strip()), auth=token
        )


def metrics_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_wrapper(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, send_wrapper)
        finally:
            svc: Services = scope["litestar_app"].state["services"]
            handler = scope.get("route_handler")
            route = (handler.paths and sorted(handler.paths)[0]) if handler else "unmatched"
            method = str(scope.get("method", "GET"))
            svc.requests.labels(method, route, str(status)).inc()
            svc.latency.labels(method, route).observe(time.perf_counter() - started)

    return middleware


# ---- errors ------------------------------------------------------------------------------

_STATUS_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    429: "rate_limited",
}


def error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, ReppuError):
        return Response(exc.to_json(), status_code=exc.status, media_type=MediaType.JSON)
    if isinstance(exc, HTTPException):
        body: dict[str, Any] = {
            "code": _STATUS_CODES.get(exc.status_code, "http_error"),
            "message": exc.detail,
            "temporary": exc.status_code >= 500,
        }
        if exc.extra:
            body["details"] = exc.extra
        return Response(
            body, status_code=exc.status_code, media_type=MediaType.JSON, headers=exc.headers
        )
    # Never log request bodies: they may hold children's data.
    path = request.url.path
    for prefix in SECRET_PATH_PREFIXES:
        if path.startswith(prefix):
            path = prefix + "…"
    log.exception("unhandled error on %s %s", request.method, path)
    return Response(
        {"code": "internal_error", "message": "internal error", "temporary": True},
        status_code=500,
        media_type=MediaType.JSON,
    )


# ---- routes ------------------------------------------------------------------------------


@get("/health", exclude_from_auth=True, tags=["ops"])
async def health() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@get("/ready", exclude_from_auth=True, tags=["ops"])
async def ready(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The database answers."""
    await services(request).db.ping()
    return {"status": "ready"}


@get(
    "/metrics",
    exclude_from_auth=True,
    tags=["ops"],
    media_type="text/plain; version=0.0.4",
    include_in_schema=False,
)
async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    svc = services(request)
    svc.pool_size.set(svc.db.pool.get_size())
    svc.pool_idle.set(svc.db.pool.get_idle_size())
    return Response(generate_latest(svc.registry), media_type="text/plain; version=0.0.4")


class DevLoginRequest(msgspec.Struct, forbid_unknown_fields=True):
    username: str


@post("/v1/auth/dev-login", exclude_from_auth=True, tags=["auth"], status_code=200)
async def dev_login(
    request: Request[Any, Any, Any], data: JSONBody[DevLoginRequest]
) -> IssuedToken:
    """Log in by username (only when REPPU_DEV_LOGIN is on: demo and tests)."""
    svc = services(request)
    if svc.dev_login is None:
        raise NotFound("dev login is not enabled", code="dev_login_disabled")
    async with svc.db.global_tx() as conn:
        login = await svc.dev_login.resolve(conn, data.username)
    async with svc.db.tenant(login.tenant_id) as conn:
        return await svc.issuer.issue(conn, login)


@get("/v1/auth/dev-logins", exclude_from_auth=True, tags=["auth"])
async def dev_logins(request: Request[Any, Any, Any]) -> dict[str, dict[str, list[str]]]:
    """A few logins per role of each demo tenant (only when dev login is on)."""
    from core import seed as demo
    from core import store

    svc = services(request)
    if svc.dev_login is None:
        raise NotFound("dev login is not enabled", code="dev_login_disabled")
    out: dict[str, dict[str, list[str]]] = {}
    for spec in (demo.DEMO_TENANT, demo.SECOND_TENANT):
        tenant_id = await actions.find_tenant(svc.db, spec.slug)
        if tenant_id is not None:
            async with svc.db.tenant(tenant_id) as conn:
                out[spec.slug] = await store.sample_logins(conn, "7B", 3)
    return out


@get("/v1/me", tags=["people"])
async def get_me(request: Request[Principal, Any, Any]) -> Me:
    """Who I am: my person, roles, children (for a guardian) and groups."""
    svc = services(request)
    return await actions.me(svc.db, principal(request), svc.today())


@get("/v1/schools", tags=["roster"])
async def list_schools(request: Request[Principal, Any, Any]) -> list[School]:
    """Schools where I have a role."""
    return await actions.visible_schools(services(request).db, principal(request))


@get("/v1/groups", tags=["roster"])
async def list_groups(
    request: Request[Principal, Any, Any], school: FromQuery[UUID | None] = None
) -> list[GroupRef]:
    """Groups I may see: my own, my children's, my school's if I am its staff."""
    svc = services(request)
    return await actions.visible_groups(svc.db, principal(request), svc.today(), school)


@get("/v1/groups/{group_id:uuid}", tags=["roster"])
async def get_group(request: Request[Principal, Any, Any], group_id: FromPath[UUID]) -> Group:
    """A group: teachers always; learners only for its teachers and school staff."""
    svc = services(request)
    return await actions.view_group(svc.db, principal(request), group_id, svc.today())


@get("/v1/persons/{person_id:uuid}", tags=["people"])
async def get_person(request: Request[Principal, Any, Any], person_id: FromPath[UUID]) -> Person:
    """A person, with only the fields I have a right to (see core/rights.py)."""
    svc = services(request)
    return await actions.view_person(svc.db, principal(request), person_id, svc.today())


@post("/v1/roster", tags=["roster"], status_code=200)
async def post_roster(request: Request[Principal, Any, Any]) -> RosterResult:
    """Import a roster document (scope roster:import): all rows or none."""
    who = principal(request)
    if "roster:import" not in who.scopes:
        raise Forbidden("the roster:import scope is required", code="scope_required")
    raw = await request.body()
    return await actions.import_roster_bytes(services(request).db, who.tenant_id, raw)


CORE_ROUTES: Sequence[Callable[..., Any]] = (
    health,
    ready,
    metrics,
    dev_login,
    dev_logins,
    get_me,
    list_schools,
    list_groups,
    get_group,
    get_person,
    post_roster,
)


class Module(Protocol):
    """A package that plugs into the app: routes, and what runs while the app
    runs (brokers, workers). Found through the `reppu.modules` entry point
    group, so that `core` never imports the packages built on it."""

    name: str
    route_handlers: Sequence[Any]

    def lifespan(self, app: Litestar, svc: Services) -> AbstractAsyncContextManager[None]: ...


def load_modules() -> list[Module]:
    from importlib.metadata import entry_points

    return [ep.load() for ep in sorted(entry_points(group="reppu.modules"), key=lambda e: e.name)]


def create_app(svc: Services, *, modules: Sequence[Module] = ()) -> Litestar:
    auth = DefineMiddleware(
        BearerAuth, exclude=["^/health$", "^/ready$", "^/metrics$", "^/schema", "^/$", "^/static/"]
    )
    lifespans = [_module_lifespan(m, svc) for m in modules]
    return Litestar(
        route_handlers=[*CORE_ROUTES, *(h for m in modules for h in m.route_handlers)],
        middleware=[metrics_middleware, auth],
        exception_handlers={Exception: error_handler},
        state=State({"services": svc}),
        request_max_body_size=svc.settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="Reppu",
            version="0.1.0",
            path="/schema",
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")
                }
            ),
            security=[{"bearer": []}],
        ),
        lifespan=lifespans,
    )


def _module_lifespan(
    module: Module, svc: Services
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    def run(app: Litestar) -> AbstractAsyncContextManager[None]:
        return module.lifespan(app, svc)

    return run
