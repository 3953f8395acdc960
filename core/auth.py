"""Authentication: short-lived signed bearer tokens (PyJWT, HS256).

A token says who is calling — tenant, person (or service) and roles — and
nothing more; what they may see is decided per request from the database
(`core.rights`). Every way of logging in ends in `TokenIssuer.issue()` with a
resolved `Login`: the dev login resolves a username; an OpenID Connect
provider (MPASSid, Suomi.fi) would resolve its `sub` claim through the same
`logins` table (provider `mpassid` / `suomifi`) and call the same issuer. That
is the whole seam: `IdentityProvider.resolve()` returns a `Login`.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Literal, Protocol

import jwt
import msgspec

from core.clock import Clock
from core.config import Settings
from core.db import Connection
from core.errors import Forbidden, NotFound, Unauthorized

AUDIENCE = "reppu"
ALGORITHM = "HS256"
#: Lifetime of a service token (module intake, roster feeds).
SERVICE_TOKEN_TTL = timedelta(days=365)
#: Clock skew tolerated between nodes when checking exp/iat.
LEEWAY_S = 30

Scope = Literal["roster:import", "events:publish"]
SCOPES: frozenset[str] = frozenset({"roster:import", "events:publish"})


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """The caller of a request, as its token says."""

    kind: Literal["person", "service"]
    tenant_id: uuid.UUID
    #: person id for a person; None for a service
    person_id: uuid.UUID | None
    #: "role:school-uuid" for each role the person held at login
    roles: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    subject: str = ""

    def require_person(self) -> uuid.UUID:
        """The person behind the token; a service token is refused (403)."""
        if self.person_id is None:
            raise Forbidden("a person's token is needed", code="person_required")
        return self.person_id

    @property
    def role_names(self) -> frozenset[str]:
        return frozenset(r.partition(":")[0] for r in self.roles)


class Login(msgspec.Struct, frozen=True, kw_only=True):
    """A resolved identity: which person of which tenant, and how."""

    tenant_id: uuid.UUID
    person_id: uuid.UUID
    method: str


class IssuedToken(msgspec.Struct, kw_only=True):
    token: str
    token_type: str
    expires_in: int
    person_id: uuid.UUID
    tenant_id: uuid.UUID


class IdentityProvider(Protocol):
    """One way to log in. `resolve` returns the person, or raises Unauthorized."""

    async def resolve(self, conn: Connection, credential: str) -> Login: ...


class DevLogin:
    """Log in by username alone. Only mounted when REPPU_DEV_LOGIN is on."""

    async def resolve(self, conn: Connection, credential: str) -> Login:
        return await resolve_login(conn, "reppu", credential, method="dev")


async def resolve_login(conn: Connection, provider: str, subject: str, *, method: str) -> Login:
    row = await conn.fetchrow(
        "SELECT tenant_id, person_id FROM reppu_find_login($1, $2)", provider, subject
    )
    if row is None:
        raise Unauthorized("unknown login", code="unknown_login")
    return Login(tenant_id=row["tenant_id"], person_id=row["person_id"], method=method)


class TokenIssuer:
    def __init__(self, settings: Settings, clock: Clock) -> None:
        self._secret = settings.secret
        self._issuer = settings.public_url
        self._ttl = timedelta(seconds=settings.token_ttl_s)
        self._clock = clock

    async def issue(self, conn: Connection, login: Login) -> IssuedToken:
        """A token for a resolved login; roles are read from the roster now.
        `conn` must be in a transaction for `login.tenant_id`."""
        rows = await conn.fetch(
            "SELECT role, school_id FROM person_roles WHERE person_id = $1 "
            "ORDER BY role, school_id",
            login.person_id,
        )
        if not await conn.fetchval("SELECT 1 FROM persons WHERE id = $1", login.person_id):
            raise NotFound("person not found")
        roles = [f"{r['role']}:{r['school_id']}" for r in rows]
        token = self._encode(
            sub=str(login.person_id),
            tenant_id=login.tenant_id,
            kind="person",
            roles=roles,
            scopes=[],
            amr=[login.method],
            ttl=self._ttl,
        )
        return IssuedToken(
            token=token,
            token_type="Bearer",  # noqa: S106 - the OAuth token type, not a secret
            expires_in=int(self._ttl.total_seconds()),
            person_id=login.person_id,
            tenant_id=login.tenant_id,
        )

    def issue_service(
        self, tenant_id: uuid.UUID, name: str, scopes: list[str], ttl: timedelta = SERVICE_TOKEN_TTL
    ) -> str:
        unknown = set(scopes) - SCOPES
        if unknown:
            raise ValueError(f"unknown scopes {sorted(unknown)}")
        return self._encode(
            sub=f"service:{name}",
            tenant_id=tenant_id,
            kind="service",
            roles=[],
            scopes=sorted(scopes),
            amr=["service"],
            ttl=ttl,
        )

    def _encode(
        self,
        *,
        sub: str,
        tenant_id: uuid.UUID,
        kind: str,
        roles: list[str],
        scopes: list[str],
        amr: list[str],
        ttl: timedelta,
    ) -> str:
        now = self._clock.now()
        claims = {
            "iss": self._issuer,
            "aud": AUDIENCE,
            "sub": sub,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
            "tid": str(tenant_id),
            "knd": kind,
            "roles": roles,
            "scp": scopes,
            "amr": amr,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> Principal:
        """Check signature, audience, issuer and expiry against the injected clock."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=self._issuer,
                leeway=LEEWAY_S,
                options={
                    "require": ["exp", "iat", "sub", "aud", "iss"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized("invalid token", code="invalid_token") from exc
        now = self._clock.now().timestamp()
        if not isinstance(claims.get("exp"), int | float) or claims["exp"] + LEEWAY_S < now:
            raise Unauthorized("token expired", code="token_expired")
        if claims.get("iat", 0) - LEEWAY_S > now:
            raise Unauthorized("token not yet valid", code="invalid_token")
        try:
            kind = claims["knd"]
            tenant_id = uuid.UUID(claims["tid"])
            sub = str(claims["sub"])
            person_id = uuid.UUID(sub) if kind == "person" else None
            if kind not in ("person", "service"):
                raise ValueError(kind)
            return Principal(
                kind=kind,
                tenant_id=tenant_id,
                person_id=person_id,
                roles=tuple(claims.get("roles", ())),
                scopes=tuple(claims.get("scp", ())),
                subject=sub,
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise Unauthorized("invalid token", code="invalid_token") from exc
