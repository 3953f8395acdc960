"""A person's delivery settings over HTTP: preferences, Web Push
subscriptions, the VAPID public key and one-click e-mail unsubscribe
(docs/delivery.md). The SQL is in `hub.prefs_store`, the rules in `hub.policy`.

Only the person themself reads or changes their preferences and
subscriptions: no route takes another person's id. That is what keeps a
guardian with information right only reachable — no custodial guardian, and
no staff member, can switch their notifications off.

Bounds: `MAX_SUBSCRIPTIONS_PER_PERSON` devices per person (registering one
more deletes the oldest); endpoints of at most `MAX_ENDPOINT_CHARS`; a user
agent is kept to `MAX_USER_AGENT_CHARS`.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import html
import re
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit
from uuid import UUID, uuid4

import msgspec
from cryptography.hazmat.primitives.asymmetric import ec
from litestar import MediaType, Request, Response, delete, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from channels.vapid import VapidKeys, b64url, b64url_decode
from channels.webpush import PushSubscription
from core.api import Services, principal, services
from core.auth import Principal
from core.config import Settings
from core.db import Database
from core.errors import BadRequest, NotFound
from hub import prefs_store, schedule
from hub.policy import Language, Preferences, problems

#: devices per person; registering one more deletes the oldest
MAX_SUBSCRIPTIONS_PER_PERSON: Final = 10
#: longest endpoint accepted (real ones are 150–500 characters)
MAX_ENDPOINT_CHARS: Final = 2048
#: a longer User-Agent is cut (it only helps a person tell devices apart)
MAX_USER_AGENT_CHARS: Final = 256
#: hosts (and their subdomains) of the push services browsers use: Chrome,
#: Edge and Android (FCM), Firefox (autopush), Windows (WNS), Safari (APNs)
PUSH_SERVICE_HOSTS: Final = (
    "fcm.googleapis.com",
    "push.services.mozilla.com",
    "notify.windows.com",
    "push.apple.com",
    "web.push.apple.com",
)
#: an unsubscribe token: tenant id, person id, the first bytes of the MAC
UNSUBSCRIBE_MAC_BYTES: Final = 16
_TOKEN_BYTES = 16 + 16 + UNSUBSCRIBE_MAC_BYTES
#: domain separation: REPPU_SECRET also signs access tokens
_UNSUBSCRIBE_LABEL = b"reppu/email-unsubscribe/v1\x00"
_B64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")
_URL_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f<>\"\\]")


class PreferencesView(Preferences, frozen=True, kw_only=True):
    """Preferences as stored, and the language mail and push are written in."""

    #: `language`, else the person's roster language
    effective_language: Language


class SubscriptionView(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    endpoint: str
    created_at: datetime
    user_agent: str | None = None


class VapidPublicKey(msgspec.Struct, frozen=True):
    #: the browser's `applicationServerKey`: uncompressed P-256 point, base64url
    public_key: str


class Unsubscribed(msgspec.Struct, frozen=True):
    status: str = "unsubscribed"


# ---- validation --------------------------------------------------------------------------


def _allowed_host(host: str) -> bool:
    return any(host == h or host.endswith("." + h) for h in PUSH_SERVICE_HOSTS)


def check_endpoint(endpoint: str, push_origins: tuple[str, ...]) -> None:
    """An https URL of a known push service, or of an origin in
    REPPU_PUSH_ORIGINS; else `BadRequest` with a code saying why."""
    if len(endpoint) > MAX_ENDPOINT_CHARS or not endpoint.isascii() or _URL_UNSAFE.search(endpoint):
        raise BadRequest("the endpoint is not a URL Reppu can use", code="invalid_endpoint")
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        raise BadRequest("the endpoint is not a URL", code="invalid_endpoint") from None
    host = (parts.hostname or "").lower()
    if not host or parts.username is not None or parts.password is not None:
        raise BadRequest("the endpoint is not a URL Reppu can use", code="invalid_endpoint")
    if f"{parts.scheme}://{parts.netloc.lower()}" in push_origins:
        return
    if parts.scheme != "https":
        raise BadRequest("the endpoint must be an https URL", code="endpoint_not_https")
    if port not in (None, 443) or not _allowed_host(host):
        raise BadRequest(
            "the endpoint is not at a known push service", code="push_service_not_allowed"
        )


def _b64url(value: str) -> bytes | None:
    if not _B64URL.fullmatch(value):
        return None
    try:
        return b64url_decode(value)
    except (binascii.Error, ValueError):
        return None


def check_keys(sub: PushSubscription) -> None:
    """p256dh: a 65-byte uncompressed point on P-256; auth: 16 bytes (RFC 8291 §3)."""
    point = _b64url(sub.keys.p256dh)
    valid_point = point is not None and len(point) == 65 and point[0] == 4
    if valid_point:
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point or b"")
        except ValueError:
            valid_point = False
    if not valid_point:
        raise BadRequest(
            "keys.p256dh must be a base64url uncompressed P-256 point", code="invalid_p256dh"
        )
    secret = _b64url(sub.keys.auth)
    if secret is None or len(secret) != 16:
        raise BadRequest("keys.auth must be 16 bytes, base64url", code="invalid_auth_secret")


# ---- unsubscribe tokens ------------------------------------------------------------------


def _mac(secret: str, tenant_id: UUID, person_id: UUID) -> bytes:
    message = _UNSUBSCRIBE_LABEL + tenant_id.bytes + person_id.bytes
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()[:UNSUBSCRIBE_MAC_BYTES]


def make_unsubscribe_token(secret: str, tenant_id: UUID, person_id: UUID) -> str:
    """An opaque token naming one person of one tenant, verifiable with the
    secret; it never expires (a mail may be read years later) and is void
    when REPPU_SECRET changes."""
    return b64url(tenant_id.bytes + person_id.bytes + _mac(secret, tenant_id, person_id))


def read_unsubscribe_token(secret: str, token: str | None) -> tuple[UUID, UUID]:
    """(tenant id, person id) of a token made with `secret`; else `BadRequest`
    invalid_token."""
    raw = _b64url(token) if token and len(token) <= 2 * _TOKEN_BYTES else None
    if raw is None or len(raw) != _TOKEN_BYTES:
        raise BadRequest("the unsubscribe link is not valid", code="invalid_token")
    tenant_id, person_id = UUID(bytes=raw[:16]), UUID(bytes=raw[16:32])
    if not hmac.compare_digest(raw[32:], _mac(secret, tenant_id, person_id)):
        raise BadRequest("the unsubscribe link is not valid", code="invalid_token")
    return tenant_id, person_id


def unsubscribe_url(settings: Settings, tenant_id: UUID, person_id: UUID) -> str:
    """The one-click unsubscribe URL of a person's notification mail
    (List-Unsubscribe, RFC 8058)."""
    token = make_unsubscribe_token(settings.secret, tenant_id, person_id)
    return f"{settings.public_url}/v1/email/unsubscribe?token={token}"


# ---- actions -----------------------------------------------------------------------------


async def my_preferences(db: Database, who: Principal) -> PreferencesView:
    person_id = who.require_person()
    async with db.tenant(who.tenant_id) as conn:
        prefs = (await prefs_store.load_preferences(conn, [person_id]))[person_id]
        language = await prefs_store.person_language(conn, person_id)
    if language is None:
        raise NotFound("person not found")
    return _view(prefs, language)


async def set_my_preferences(svc: Services, who: Principal, prefs: Preferences) -> PreferencesView:
    """Replace the caller's preferences as a whole (fields left out get their defaults)."""
    person_id = who.require_person()
    found = problems(prefs)
    if found:
        raise BadRequest("invalid preferences", code="invalid_preferences", details=found)
    async with svc.db.tenant(who.tenant_id) as conn:
        await prefs_store.save_preferences(conn, person_id, prefs, svc.clock.now())
        stored = (await prefs_store.load_preferences(conn, [person_id]))[person_id]
        # a digest chosen now: its first job (deduplicated by day)
        await schedule.schedule_digest(conn, who.tenant_id, person_id, stored, svc.clock.now())
        language = await prefs_store.person_language(conn, person_id)
    if language is None:  # pragma: no cover - the foreign key refused the insert
        raise NotFound("person not found")
    return _view(stored, language)


def _view(prefs: Preferences, language: str) -> PreferencesView:
    fields = msgspec.structs.asdict(prefs)
    return msgspec.convert({**fields, "effective_language": language}, PreferencesView)


async def subscribe(
    svc: Services, who: Principal, sub: PushSubscription, user_agent: str | None
) -> tuple[SubscriptionView, bool]:
    """Register a browser's subscription to the caller; (view, created).

    Idempotent by endpoint: the same endpoint again is the same subscription
    (created False). An endpoint registered to another person moves to the
    caller as a new subscription (the browser profile changed hands)."""
    person_id = who.require_person()
    check_endpoint(sub.endpoint, svc.settings.push_origins)
    check_keys(sub)
    agent = user_agent[:MAX_USER_AGENT_CHARS] if user_agent else None
    new_id = uuid4()
    async with svc.db.tenant(who.tenant_id) as conn:
        if not await prefs_store.lock_person(conn, person_id):
            raise NotFound("person not found")
        sub_id, created_at = await prefs_store.upsert_subscription(
            conn, person_id, sub, agent, new_id, svc.clock.now()
        )
        await prefs_store.trim_subscriptions(conn, person_id, MAX_SUBSCRIPTIONS_PER_PERSON)
    view = SubscriptionView(
        id=sub_id, endpoint=sub.endpoint, created_at=created_at, user_agent=agent
    )
    return view, sub_id == new_id


async def my_subscriptions(db: Database, who: Principal) -> list[SubscriptionView]:
    person_id = who.require_person()
    async with db.tenant(who.tenant_id) as conn:
        rows = await prefs_store.list_subscriptions(conn, person_id)
    return [
        SubscriptionView(
            id=r["id"],
            endpoint=r["endpoint"],
            created_at=r["created_at"],
            user_agent=r["user_agent"],
        )
        for r in rows
    ]


async def unsubscribe(db: Database, who: Principal, sub_id: UUID) -> None:
    person_id = who.require_person()
    async with db.tenant(who.tenant_id) as conn:
        if not await prefs_store.delete_own_subscription(conn, person_id, sub_id):
            raise NotFound("no such subscription")


async def email_opt_out(svc: Services, token: str | None) -> str:
    """Turn notification mail off for the token's person; idempotent. Returns
    the language to confirm in."""
    tenant_id, person_id = read_unsubscribe_token(svc.settings.secret, token)
    async with svc.db.tenant(tenant_id) as conn:
        await prefs_store.disable_email(conn, person_id, svc.clock.now())
        language = await prefs_store.person_language(conn, person_id)
    return language or "fi"


# ---- the unsubscribe page ----------------------------------------------------------------

_PAGE_TEXT: Final = {
    "fi": (
        "Reppu: sähköposti-ilmoitukset",
        "Lopetetaanko Repun ilmoitukset sähköpostiin? Näet viestit edelleen Repussa, "
        "ja voit ottaa sähköpostin takaisin käyttöön asetuksista.",
        "Lopeta sähköposti-ilmoitukset",
        "Sähköposti-ilmoitukset on lopetettu. Viestit näkyvät edelleen Repussa.",
    ),
    "sv": (
        "Reppu: e-postaviseringar",
        "Vill du sluta få aviseringar från Reppu per e-post? Du ser fortfarande alla "
        "meddelanden i Reppu och kan slå på e-post igen i inställningarna.",
        "Sluta skicka e-postaviseringar",
        "E-postaviseringarna är avslutade. Meddelandena syns fortfarande i Reppu.",
    ),
    "en": (
        "Reppu: e-mail notifications",
        "Stop Reppu's notifications by e-mail? You will still see every message in Reppu, "
        "and you can turn e-mail back on in the settings.",
        "Stop e-mail notifications",
        "E-mail notifications are off. Messages still show in Reppu.",
    ),
}
#: the page runs nothing, loads nothing and sends no Referer (the URL holds the token)
_PAGE_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_STYLE = "body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}"


def _page(language: str, body: str) -> Response[str]:
    title = _PAGE_TEXT.get(language, _PAGE_TEXT["fi"])[0]
    text = (
        f'<!doctype html><html lang="{html.escape(language)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="robots" content="noindex"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return Response(text, media_type=MediaType.HTML, headers=_PAGE_HEADERS)


# ---- routes ------------------------------------------------------------------------------


@get("/v1/me/preferences", tags=["preferences"])
async def get_preferences(request: Request[Principal, Any, Any]) -> PreferencesView:
    """My delivery preferences (the defaults until I change one)."""
    return await my_preferences(services(request).db, principal(request))


@put("/v1/me/preferences", tags=["preferences"])
async def put_preferences(
    request: Request[Principal, Any, Any], data: JSONBody[Preferences]
) -> PreferencesView:
    """Replace my delivery preferences (a field left out gets its default)."""
    return await set_my_preferences(services(request), principal(request), data)


@get("/v1/push/vapid-public-key", exclude_from_auth=True, tags=["push"])
async def get_vapid_public_key(request: Request[Any, Any, Any]) -> VapidPublicKey:
    """The server's VAPID public key: the `applicationServerKey` to subscribe with."""
    keys: VapidKeys = request.app.state["vapid"]
    return VapidPublicKey(public_key=keys.public_key)


@post("/v1/push/subscriptions", tags=["push"], status_code=201)
async def post_subscription(
    request: Request[Principal, Any, Any], data: JSONBody[PushSubscription]
) -> Response[SubscriptionView]:
    """Register this browser for Web Push (its PushSubscription.toJSON()):
    201 when new to me, 200 with the same id when already mine."""
    view, created = await subscribe(
        services(request), principal(request), data, request.headers.get("user-agent")
    )
    return Response(view, status_code=201 if created else 200)


@get("/v1/push/subscriptions", tags=["push"])
async def get_subscriptions(request: Request[Principal, Any, Any]) -> list[SubscriptionView]:
    """My devices registered for Web Push, newest first."""
    return await my_subscriptions(services(request).db, principal(request))


@delete("/v1/push/subscriptions/{subscription_id:uuid}", tags=["push"], status_code=204)
async def delete_push_subscription(
    request: Request[Principal, Any, Any], subscription_id: FromPath[UUID]
) -> None:
    """Forget one of my devices (404 if it is not mine)."""
    await unsubscribe(services(request).db, principal(request), subscription_id)


@get(
    "/v1/email/unsubscribe",
    exclude_from_auth=True,
    tags=["email"],
    media_type=MediaType.HTML,
)
async def get_email_unsubscribe(
    request: Request[Any, Any, Any], token: FromQuery[str | None] = None
) -> Response[str]:
    """A confirmation page whose button unsubscribes. GET changes nothing:
    mail scanners fetch links in mail."""
    svc = services(request)
    tenant_id, person_id = read_unsubscribe_token(svc.settings.secret, token)
    async with svc.db.tenant(tenant_id) as conn:
        language = await prefs_store.person_language(conn, person_id) or "fi"
    _, question, button, _ = _PAGE_TEXT.get(language, _PAGE_TEXT["fi"])
    # relative: the same path with the same token, behind any path prefix
    action = html.escape(f"?token={token}", quote=True)
    form = (
        f'<p>{html.escape(question)}</p><form method="post" action="{action}">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        f'<button type="submit">{html.escape(button)}</button></form>'
    )
    return _page(language, form)


@post("/v1/email/unsubscribe", exclude_from_auth=True, tags=["email"], status_code=200)
async def post_email_unsubscribe(
    request: Request[Any, Any, Any], token: FromQuery[str | None] = None
) -> Response[Any]:
    """RFC 8058 one-click unsubscribe: notification mail off for the token's
    person. Idempotent; the body (`List-Unsubscribe=One-Click`) is not needed."""
    language = await email_opt_out(services(request), token)
    if request.accept.best_match(["application/json", "text/html"]) == "text/html":
        done = _PAGE_TEXT.get(language, _PAGE_TEXT["fi"])[3]
        return _page(language, f"<p>{html.escape(done)}</p>")
    return Response(Unsubscribed(), media_type=MediaType.JSON)


ROUTES = [
    get_preferences,
    put_preferences,
    get_vapid_public_key,
    post_subscription,
    get_subscriptions,
    delete_push_subscription,
    get_email_unsubscribe,
    post_email_unsubscribe,
]
