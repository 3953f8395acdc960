"""A local push service (RFC 8030) for the Web Push adapter's tests.

It checks what a real one checks — the VAPID JWT (ES256 signature with the
key in the header, `aud` is this service's origin, `exp` in the future and at
most 24 h ahead, RFC 8292 §2), `Content-Encoding: aes128gcm`, a TTL > 0 — and
then does what the browser would: decrypts the body with the subscription's
private key and auth secret (RFC 8291). Each subscription answers with the
status its test set; everything received is kept for assertions.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import http_ece
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from litestar import Litestar, Request, Response, post
from litestar.params import FromPath

from channels.vapid import b64url, b64url_decode
from channels.webpush import PushKeys, PushSubscription
from tests.conftest import serve

#: RFC 8292 §2: a JWT must not expire more than 24 hours ahead
MAX_JWT_LIFETIME = timedelta(hours=24)


@dataclass
class Received:
    payload: bytes
    #: the encrypted body's size as it came over the wire
    body_size: int
    headers: dict[str, str]
    #: the VAPID JWT's claims, verified
    claims: dict[str, object]

    @property
    def ttl(self) -> int:
        return int(self.headers["ttl"])

    @property
    def urgency(self) -> str | None:
        return self.headers.get("urgency")

    @property
    def topic(self) -> str | None:
        return self.headers.get("topic")


@dataclass
class Subscriber:
    """One browser subscription: its keys, the status to answer, what came."""

    id: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    status: int = 201
    retry_after: str | None = None
    received: list[Received] = field(default_factory=list)

    def subscription(self, origin: str) -> PushSubscription:
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return PushSubscription(
            endpoint=f"{origin}/push/{self.id}",
            keys=PushKeys(p256dh=b64url(point), auth=b64url(self.auth)),
        )


class PushService:
    def __init__(self) -> None:
        self.origin = ""
        self.subscribers: dict[str, Subscriber] = {}
        #: why requests were refused, in order
        self.refused: list[str] = []

    def subscribe(self, status: int = 201, retry_after: str | None = None) -> Subscriber:
        """A new subscription, made the way a browser makes one."""
        sub = Subscriber(
            id=secrets.token_urlsafe(8),
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth=os.urandom(16),
            status=status,
            retry_after=retry_after,
        )
        self.subscribers[sub.id] = sub
        return sub

    def check_vapid(self, authorization: str | None, now: datetime) -> dict[str, object] | str:
        """The verified JWT claims, or why the Authorization header is refused."""
        if not authorization:
            return "no authorization"
        scheme, _, params = authorization.partition(" ")
        if scheme.lower() != "vapid":
            return "not vapid"
        parts = dict(p.strip().split("=", 1) for p in params.split(",") if "=" in p)
        if "t" not in parts or "k" not in parts:
            return "missing t or k"
        try:
            key = ec.EllipticCurvePublicKey.from_encoded_point(
                ec.SECP256R1(), b64url_decode(parts["k"])
            )
            claims = jwt.decode(
                parts["t"],
                key,
                algorithms=["ES256"],
                audience=self.origin,
                options={"require": ["aud", "exp", "sub"]},
            )
        except (ValueError, jwt.InvalidTokenError) as e:
            return f"bad jwt: {type(e).__name__}"
        if datetime.fromtimestamp(claims["exp"], UTC) > now + MAX_JWT_LIFETIME:
            return "exp too far ahead"
        if not str(claims["sub"]).startswith(("mailto:", "https:")):
            return "bad sub"
        return dict(claims)

    def app(self) -> Litestar:
        @post("/push/{sub_id:str}", status_code=201)
        async def push(
            request: Request[None, None, None], sub_id: FromPath[str]
        ) -> Response[bytes]:
            def refuse(status: int, why: str) -> Response[bytes]:
                self.refused.append(why)
                return Response(why.encode(), status_code=status)

            sub = self.subscribers.get(sub_id)
            if sub is None:
                return refuse(404, "no such subscription")
            claims = self.check_vapid(request.headers.get("authorization"), datetime.now(UTC))
            if isinstance(claims, str):
                return refuse(401, claims)
            if request.headers.get("content-encoding") != "aes128gcm":
                return refuse(400, "not aes128gcm")
            ttl = request.headers.get("ttl", "")
            if not ttl.isdigit() or int(ttl) <= 0:
                return refuse(400, "no ttl")
            body = await request.body()
            if len(body) > 4096:
                return refuse(413, "too large")
            payload = http_ece.decrypt(
                body, private_key=sub.private_key, auth_secret=sub.auth, version="aes128gcm"
            )
            sub.received.append(Received(payload, len(body), dict(request.headers), claims))
            headers = {"Retry-After": sub.retry_after} if sub.retry_after else None
            return Response(b"", status_code=sub.status, headers=headers)

        return Litestar([push])

    @asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        """Serve on a free loopback port; yields the origin."""
        async with serve(self.app()) as url:
            self.origin = url
            yield url
