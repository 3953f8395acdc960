"""Preferences, Web Push subscriptions, the VAPID key and e-mail unsubscribe
over HTTP, and the store helpers the delivery code uses (hub/prefs.py)."""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, time, timedelta
from typing import Any, ClassVar
from uuid import UUID, uuid4

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from litestar import Litestar

from channels import vapid
from channels.webpush import PushKeys, PushSubscription
from core import actions
from core.api import Services, create_app
from core.auth import TokenIssuer
from core.clock import FixedClock
from core.config import Settings
from core.db import Connection, Database
from hub import prefs, prefs_store
from hub.policy import Preferences
from tests.conftest import TEST_NOW, asgi_client, login, replace
from tests.family import FAMILY
from tests.hub.helpers import headers

Ids = dict[str, UUID]
#: the local push service's origin, allowed only through REPPU_PUSH_ORIGINS
LOCAL_PUSH = "http://127.0.0.1:8123"
FCM = "https://fcm.googleapis.com/fcm/send/"
MOZILLA = "https://updates.push.services.mozilla.com/wpush/v2/"


def browser_keys() -> dict[str, str]:
    """What a browser generates per subscription: a P-256 key and a 16-byte secret."""
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return {"p256dh": vapid.b64url(point), "auth": vapid.b64url(secrets.token_bytes(16))}


def subscription(endpoint: str | None = None, **extra: Any) -> dict[str, Any]:
    """A PushSubscription.toJSON() as a browser sends it."""
    body = {
        "endpoint": FCM + secrets.token_urlsafe(24) if endpoint is None else endpoint,
        "expirationTime": None,
        "keys": browser_keys(),
    }
    return {**body, **extra}


def tenant() -> UUID:
    return actions.tenant_id_for(FAMILY)


@pytest.fixture
async def tidy(client: httpx.AsyncClient, family: Ids) -> AsyncIterator[list[str]]:
    """Usernames a test touches: afterwards their preferences are the defaults
    again and their subscriptions are gone (other tests deliver to them)."""
    touched: list[str] = []
    yield touched
    for who in touched:
        h = await headers(client, who)
        assert (await client.put("/v1/me/preferences", json={}, headers=h)).status_code == 200
        for sub in (await client.get("/v1/push/subscriptions", headers=h)).json():
            await client.delete(f"/v1/push/subscriptions/{sub['id']}", headers=h)


class _PrefsOnly:
    """Only the routes of hub/prefs.py: an app with its own clock and push
    origins, without the hub's background work."""

    name = "prefs-only"
    route_handlers: ClassVar[list[Any]] = prefs.ROUTES

    @asynccontextmanager
    async def lifespan(self, app: Litestar, svc: Services) -> AsyncIterator[None]:
        yield


@pytest.fixture
def own_clock() -> FixedClock:
    return FixedClock(TEST_NOW)


@pytest.fixture
async def local_app(
    db: Database, settings: Settings, own_clock: FixedClock, family: Ids
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app with REPPU_PUSH_ORIGINS set to the local push service."""
    svc = Services(replace(settings, push_origins=(LOCAL_PUSH,)), db, own_clock)
    app = create_app(svc, modules=[_PrefsOnly()])
    app.state["vapid"] = vapid.generate()
    async with asgi_client(app) as c:
        yield c


# ---- preferences -------------------------------------------------------------------------


async def test_preferences_default_then_replaced(
    client: httpx.AsyncClient, family: Ids, tidy: list[str]
) -> None:
    """GET gives the defaults until a PUT; PUT replaces the whole document and GET shows it."""
    tidy.append("t2")
    h = await headers(client, "t2")
    first = (await client.get("/v1/me/preferences", headers=h)).json()
    assert first == {
        "push": True,
        "email": True,
        "kinds": {"message": "instant", "announcement": "instant", "notification": "instant"},
        "language": None,
        "quiet_start": "21:00:00",
        "quiet_end": "07:00:00",
        "quiet_weekends": False,
        "digest_time": "17:00:00",
        "effective_language": "fi",
    }
    wanted = {
        "push": False,
        "kinds": {"message": "digest", "announcement": "off"},
        "language": "sv",
        "quiet_start": "22:30:00",
        "quiet_end": "06:15:00",
        "quiet_weekends": True,
        "digest_time": "18:00:00",
    }
    r = await client.put("/v1/me/preferences", json=wanted, headers=h)
    assert r.status_code == 200, r.text
    stored = r.json()
    assert stored["kinds"] == {
        "message": "digest",
        "announcement": "off",
        "notification": "instant",
    }
    assert stored["effective_language"] == "sv" and stored["email"] is True
    assert (await client.get("/v1/me/preferences", headers=h)).json() == stored
    # PUT replaces: what is left out goes back to its default
    r = await client.put("/v1/me/preferences", json={"email": False}, headers=h)
    again = r.json()
    assert again["push"] is True and again["email"] is False and again["language"] is None
    assert again["effective_language"] == "fi" and again["quiet_weekends"] is False


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"colour": "red"}, "invalid_request"),
        ({"kinds": {"homework": "instant"}}, "invalid_request"),
        ({"kinds": {"message": "sometimes"}}, "invalid_request"),
        ({"language": "de"}, "invalid_request"),
        ({"quiet_start": "21:00"}, "invalid_request"),
        ({"quiet_start": 21}, "invalid_request"),
        ({"person_id": "00000000-0000-0000-0000-000000000001"}, "invalid_request"),
        ({"quiet_start": "21:00:00+02:00"}, "invalid_preferences"),
        ({"digest_time": "17:00:00Z"}, "invalid_preferences"),
    ],
)
async def test_preferences_validation(
    client: httpx.AsyncClient, family: Ids, body: dict[str, Any], code: str
) -> None:
    """Bad preferences are a 400 with a code and change nothing."""
    h = await headers(client, "t3")
    before = (await client.get("/v1/me/preferences", headers=h)).json()
    r = await client.put("/v1/me/preferences", json=body, headers=h)
    assert r.status_code == 400 and r.json()["code"] == code, r.text
    assert (await client.get("/v1/me/preferences", headers=h)).json() == before


async def test_one_guardian_cannot_silence_another(
    client: httpx.AsyncClient, family: Ids, tidy: list[str]
) -> None:
    """The custodial guardian's PUT changes only their own preferences: the guardian
    with information right only stays reachable, and no route names another person."""
    tidy.extend(["g1", "gi"])
    custodial, info_right = await headers(client, "g1"), await headers(client, "gi")
    theirs = {"quiet_weekends": True, "kinds": {"announcement": "digest"}}
    assert (await client.put("/v1/me/preferences", json=theirs, headers=info_right)).is_success
    before = (await client.get("/v1/me/preferences", headers=info_right)).json()
    off = {
        "push": False,
        "email": False,
        "kinds": dict.fromkeys(["message", "announcement"], "off"),
    }
    r = await client.put("/v1/me/preferences", json=off, headers=custodial)
    assert r.status_code == 200 and r.json()["email"] is False
    assert (await client.get("/v1/me/preferences", headers=info_right)).json() == before
    assert before["push"] is True and before["email"] is True
    r = await client.put(f"/v1/persons/{family['gi']}/preferences", json=off, headers=custodial)
    assert r.status_code in (404, 405)
    assert (await client.get("/v1/me/preferences", headers=info_right)).json() == before


async def test_a_service_token_has_no_preferences(
    client: httpx.AsyncClient, settings: Settings, clock: FixedClock, family: Ids
) -> None:
    """Preferences and subscriptions are a person's: a service token is 403 person_required."""
    token = TokenIssuer(settings, clock).issue_service(tenant(), "module", ["events:publish"])
    h = {"Authorization": f"Bearer {token}"}
    for method, path, body in (
        ("GET", "/v1/me/preferences", None),
        ("PUT", "/v1/me/preferences", {}),
        ("GET", "/v1/push/subscriptions", None),
        ("POST", "/v1/push/subscriptions", subscription()),
    ):
        r = await client.request(method, path, json=body, headers=h)
        assert r.status_code == 403 and r.json()["code"] == "person_required", (method, path)


async def test_routes_need_a_login_but_the_public_ones(client: httpx.AsyncClient) -> None:
    """Preferences and subscriptions need a token; the VAPID key and unsubscribe do not."""
    for method, path in (
        ("GET", "/v1/me/preferences"),
        ("PUT", "/v1/me/preferences"),
        ("GET", "/v1/push/subscriptions"),
        ("POST", "/v1/push/subscriptions"),
        ("DELETE", f"/v1/push/subscriptions/{uuid4()}"),
    ):
        r = await client.request(method, path)
        assert r.status_code == 401 and r.json()["code"] == "token_required", (method, path)
    assert (await client.get("/v1/push/vapid-public-key")).status_code == 200
    r = await client.post("/v1/email/unsubscribe", params={"token": "x"})
    assert r.status_code == 400 and r.json()["code"] == "invalid_token"


# ---- VAPID -------------------------------------------------------------------------------


async def test_vapid_public_key(client: httpx.AsyncClient, app: Litestar) -> None:
    """The key loaded at start-up, as a 65-byte uncompressed P-256 point in base64url."""
    r = await client.get("/v1/push/vapid-public-key")
    assert r.status_code == 200
    key = r.json()["public_key"]
    assert key == app.state["vapid"].public_key and "=" not in key
    point = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    assert len(point) == 65 and point[0] == 4
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)


# ---- push subscriptions ------------------------------------------------------------------


async def test_several_devices_each_the_creators_own(
    client: httpx.AsyncClient, family: Ids, tidy: list[str]
) -> None:
    """A person registers several devices; the same endpoint again is the same
    subscription; each sees and deletes only their own (someone else's is 404)."""
    tidy.extend(["g2", "t2"])
    owner, other = await headers(client, "g2"), await headers(client, "t2")
    phone, laptop = subscription(), subscription(MOZILLA + secrets.token_urlsafe(24))
    r1 = await client.post(
        "/v1/push/subscriptions", json=phone, headers={**owner, "User-Agent": "Phone/1.0"}
    )
    r2 = await client.post("/v1/push/subscriptions", json=laptop, headers=owner)
    assert r1.status_code == r2.status_code == 201, (r1.text, r2.text)
    assert set(r1.json()) >= {"id", "endpoint", "created_at"}
    assert r1.json()["endpoint"] == phone["endpoint"]
    again = await client.post(
        "/v1/push/subscriptions", json=phone, headers={**owner, "User-Agent": "Phone/1.1"}
    )
    assert again.status_code == 200 and again.json()["id"] == r1.json()["id"]

    mine = (await client.get("/v1/push/subscriptions", headers=owner)).json()
    assert {s["id"] for s in mine} == {r1.json()["id"], r2.json()["id"]}
    assert {s["id"]: s["user_agent"] for s in mine}[r1.json()["id"]] == "Phone/1.1"
    assert (await client.get("/v1/push/subscriptions", headers=other)).json() == []

    r = await client.delete(f"/v1/push/subscriptions/{r1.json()['id']}", headers=other)
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = await client.delete(f"/v1/push/subscriptions/{uuid4()}", headers=other)
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert len((await client.get("/v1/push/subscriptions", headers=owner)).json()) == 2

    assert (
        await client.delete(f"/v1/push/subscriptions/{r1.json()['id']}", headers=owner)
    ).status_code == 204
    r = await client.delete(f"/v1/push/subscriptions/{r1.json()['id']}", headers=owner)
    assert r.status_code == 404
    left = (await client.get("/v1/push/subscriptions", headers=owner)).json()
    assert [s["id"] for s in left] == [r2.json()["id"]]


async def test_an_endpoint_moves_to_whoever_registers_it(
    client: httpx.AsyncClient, family: Ids, tidy: list[str]
) -> None:
    """A device that changed hands: its endpoint becomes the new person's, under a new id."""
    tidy.extend(["g2", "t2"])
    before, after = await headers(client, "g2"), await headers(client, "t2")
    device = subscription()
    first = (await client.post("/v1/push/subscriptions", json=device, headers=before)).json()
    r = await client.post("/v1/push/subscriptions", json=device, headers=after)
    assert r.status_code == 201 and r.json()["id"] != first["id"]
    assert (await client.get("/v1/push/subscriptions", headers=before)).json() == []
    assert [
        s["id"] for s in (await client.get("/v1/push/subscriptions", headers=after)).json()
    ] == [r.json()["id"]]
    r = await client.delete(f"/v1/push/subscriptions/{first['id']}", headers=before)
    assert r.status_code == 404


async def test_the_oldest_device_goes_beyond_the_bound(
    local_app: httpx.AsyncClient, own_clock: FixedClock, tidy: list[str]
) -> None:
    """Registering more than MAX_SUBSCRIPTIONS_PER_PERSON devices deletes the oldest."""
    tidy.append("st")
    h = await login(local_app, f"st@{FAMILY}")
    ids = []
    for _ in range(prefs.MAX_SUBSCRIPTIONS_PER_PERSON + 2):
        own_clock.advance(timedelta(minutes=1))
        r = await local_app.post("/v1/push/subscriptions", json=subscription(), headers=h)
        assert r.status_code == 201
        ids.append(r.json()["id"])
    listed = (await local_app.get("/v1/push/subscriptions", headers=h)).json()
    assert [s["id"] for s in listed] == ids[::-1][: prefs.MAX_SUBSCRIPTIONS_PER_PERSON]
    # re-registering a kept device does not make it new, nor delete another
    r = await local_app.post(
        "/v1/push/subscriptions",
        json={**subscription(listed[-1]["endpoint"])},
        headers=h,
    )
    assert r.status_code == 200 and r.json()["id"] == listed[-1]["id"]
    assert len((await local_app.get("/v1/push/subscriptions", headers=h)).json()) == 10
    for sub in listed:
        await local_app.delete(f"/v1/push/subscriptions/{sub['id']}", headers=h)


@pytest.mark.parametrize(
    ("endpoint", "code"),
    [
        ("http://fcm.googleapis.com/fcm/send/x", "endpoint_not_https"),
        (LOCAL_PUSH + "/push/x", "endpoint_not_https"),
        ("https://push.example.com/x", "push_service_not_allowed"),
        ("https://notfcm.googleapis.com/x", "push_service_not_allowed"),
        ("https://fcm.googleapis.com.attacker.example/x", "push_service_not_allowed"),
        ("https://fcm.googleapis.com:8443/x", "push_service_not_allowed"),
        ("https://user:pw@fcm.googleapis.com/x", "invalid_endpoint"),
        ("https://fcm.googleapis.com:99999/x", "invalid_endpoint"),
        ("https://fcm.googleapis.com/x y", "invalid_endpoint"),
        ("https://fcm.googleapis.com/" + "x" * prefs.MAX_ENDPOINT_CHARS, "invalid_endpoint"),
        ("not a url", "invalid_endpoint"),
        ("", "invalid_endpoint"),
    ],
)
async def test_endpoint_validation(
    client: httpx.AsyncClient, family: Ids, endpoint: str, code: str
) -> None:
    """Only https endpoints of the known push services (by default)."""
    h = await headers(client, "t3")
    r = await client.post("/v1/push/subscriptions", json=subscription(endpoint), headers=h)
    assert r.status_code == 400 and r.json()["code"] == code, r.text
    assert (await client.get("/v1/push/subscriptions", headers=h)).json() == []


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://fcm.googleapis.com/fcm/send/abc",
        "https://FCM.googleapis.com:443/wp/abc",
        "https://updates.push.services.mozilla.com/wpush/v2/abc",
        "https://wns2-par02p.notify.windows.com/w/?token=abc",
        "https://web.push.apple.com/QGx",
        "https://api.push.apple.com/3/device/abc",
    ],
)
async def test_known_push_services_are_accepted(
    client: httpx.AsyncClient, family: Ids, tidy: list[str], endpoint: str
) -> None:
    """Chrome/Edge (FCM), Firefox, Windows and Safari endpoints register."""
    tidy.append("t3")
    h = await headers(client, "t3")
    r = await client.post("/v1/push/subscriptions", json=subscription(endpoint), headers=h)
    assert r.status_code == 201, r.text


async def test_push_origins_allow_a_local_push_service(
    local_app: httpx.AsyncClient, tidy: list[str]
) -> None:
    """REPPU_PUSH_ORIGINS lets an http origin register; another port of it is still refused."""
    tidy.append("st")
    h = await login(local_app, f"st@{FAMILY}")
    r = await local_app.post(
        "/v1/push/subscriptions", json=subscription(LOCAL_PUSH + "/push/1"), headers=h
    )
    assert r.status_code == 201, r.text
    r = await local_app.post(
        "/v1/push/subscriptions", json=subscription("http://127.0.0.1:8124/push/1"), headers=h
    )
    assert r.status_code == 400 and r.json()["code"] == "endpoint_not_https"
    for sub in (await local_app.get("/v1/push/subscriptions", headers=h)).json():
        await local_app.delete(f"/v1/push/subscriptions/{sub['id']}", headers=h)


def _bad_keys() -> Iterator[tuple[dict[str, str], str]]:
    good = browser_keys()
    point = base64.urlsafe_b64decode(good["p256dh"] + "=")
    off_curve = point[:-1] + bytes([point[-1] ^ 1])
    yield {**good, "p256dh": vapid.b64url(point[:64])}, "invalid_p256dh"
    yield {**good, "p256dh": vapid.b64url(b"\x02" + point[1:33])}, "invalid_p256dh"
    yield {**good, "p256dh": vapid.b64url(off_curve)}, "invalid_p256dh"
    yield {**good, "p256dh": good["p256dh"][:40] + "!!" + good["p256dh"][42:]}, "invalid_p256dh"
    yield {**good, "p256dh": ""}, "invalid_p256dh"
    yield {**good, "auth": vapid.b64url(secrets.token_bytes(15))}, "invalid_auth_secret"
    yield {**good, "auth": vapid.b64url(secrets.token_bytes(32))}, "invalid_auth_secret"
    yield {**good, "auth": "***"}, "invalid_auth_secret"


@pytest.mark.parametrize(("keys", "code"), list(_bad_keys()))
async def test_key_validation(
    client: httpx.AsyncClient, family: Ids, keys: dict[str, str], code: str
) -> None:
    """p256dh must be an uncompressed P-256 point and auth 16 bytes, both base64url."""
    h = await headers(client, "t3")
    r = await client.post("/v1/push/subscriptions", json=subscription(keys=keys), headers=h)
    assert r.status_code == 400 and r.json()["code"] == code, r.text


@pytest.mark.parametrize(
    "body",
    [
        {"endpoint": FCM + "x"},
        {"endpoint": FCM + "x", "keys": {"p256dh": "a"}},
        {**subscription(), "colour": "red"},
        {**subscription(), "keys": {**browser_keys(), "extra": "x"}},
    ],
)
async def test_malformed_subscription(
    client: httpx.AsyncClient, family: Ids, body: dict[str, Any]
) -> None:
    """A body that is not a PushSubscription is 400 invalid_request."""
    h = await headers(client, "t3")
    r = await client.post("/v1/push/subscriptions", json=body, headers=h)
    assert r.status_code == 400 and r.json()["code"] == "invalid_request", r.text


# ---- e-mail unsubscribe ------------------------------------------------------------------


def token_of(settings: Settings, family: Ids, who: str) -> str:
    return prefs.make_unsubscribe_token(settings.secret, tenant(), family[who])


async def test_unsubscribe_url(settings: Settings, family: Ids) -> None:
    """The URL is the public URL's unsubscribe route with an opaque token of the person."""
    url = prefs.unsubscribe_url(settings, tenant(), family["g1"])
    prefix = f"{settings.public_url}/v1/email/unsubscribe?token="
    assert url.startswith(prefix)
    token = url.removeprefix(prefix)
    assert prefs.read_unsubscribe_token(settings.secret, token) == (tenant(), family["g1"])
    assert token.isascii() and all(c.isalnum() or c in "-_" for c in token)
    assert token != token_of(settings, family, "gi")


async def test_one_click_unsubscribe_is_idempotent(
    client: httpx.AsyncClient, settings: Settings, family: Ids, tidy: list[str]
) -> None:
    """POST with a good token turns mail off (200 every time) and keeps the rest."""
    tidy.append("gi")
    h = await headers(client, "gi")
    await client.put("/v1/me/preferences", json={"quiet_weekends": True}, headers=h)
    url = "/v1/email/unsubscribe"
    token = token_of(settings, family, "gi")
    for _ in range(2):
        r = await client.post(
            url,
            params={"token": token},
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 200 and r.json() == {"status": "unsubscribed"}
        now = (await client.get("/v1/me/preferences", headers=h)).json()
        assert now["email"] is False and now["quiet_weekends"] is True and now["push"] is True
    # without a body too (RFC 8058 asks for one; a missing one is no reason to fail)
    assert (await client.post(url, params={"token": token})).status_code == 200


async def test_unsubscribe_page_does_not_unsubscribe(
    client: httpx.AsyncClient, settings: Settings, family: Ids, tidy: list[str]
) -> None:
    """GET shows a confirmation page whose button POSTs; only the POST turns mail off."""
    tidy.append("g2")
    h = await headers(client, "g2")
    token = token_of(settings, family, "g2")
    for _ in range(3):  # a mail scanner fetching the link
        r = await client.get("/v1/email/unsubscribe", params={"token": token})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert (await client.get("/v1/me/preferences", headers=h)).json()["email"] is True
    page = r.text
    assert '<form method="post"' in page and f"token={token}" in page
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert "<script" not in page
    # the browser submits the form
    r = await client.post(
        "/v1/email/unsubscribe",
        params={"token": token},
        data={"List-Unsubscribe": "One-Click"},
        headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"},
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert (await client.get("/v1/me/preferences", headers=h)).json()["email"] is False


async def test_unsubscribe_page_speaks_the_persons_language(
    client: httpx.AsyncClient, settings: Settings, family: Ids, tidy: list[str]
) -> None:
    """The page is in the person's effective language."""
    tidy.append("g2")
    h = await headers(client, "g2")
    await client.put("/v1/me/preferences", json={"language": "sv"}, headers=h)
    r = await client.get(
        "/v1/email/unsubscribe", params={"token": token_of(settings, family, "g2")}
    )
    assert 'lang="sv"' in r.text and "e-post" in r.text


async def test_bad_unsubscribe_tokens(
    client: httpx.AsyncClient, settings: Settings, family: Ids
) -> None:
    """A token that is missing, malformed, tampered with or made with another secret
    is 400 invalid_token on GET and POST, and changes nothing."""
    good = token_of(settings, family, "t3")
    raw = base64.urlsafe_b64decode(good + "=" * (-len(good) % 4))
    swapped = vapid.b64url(raw[16:32] + raw[:16] + raw[32:])
    flipped = vapid.b64url(raw[:-1] + bytes([raw[-1] ^ 1]))
    other_person = vapid.b64url(raw[:16] + family["g1"].bytes + raw[32:])
    other_secret = prefs.make_unsubscribe_token("z" * 40, tenant(), family["t3"])
    bad = [None, "", "x", "!" * 64, good[:-2], good + "AA", swapped, flipped, other_person]
    bad += [other_secret, good * 50]
    for token in bad:
        params = {} if token is None else {"token": token}
        for method in ("GET", "POST"):
            r = await client.request(method, "/v1/email/unsubscribe", params=params)
            assert r.status_code == 400 and r.json()["code"] == "invalid_token", (method, token)
    h = await headers(client, "t3")
    assert (await client.get("/v1/me/preferences", headers=h)).json()["email"] is True


async def test_unsubscribe_of_a_person_who_is_gone(
    client: httpx.AsyncClient, settings: Settings, db: Database, family: Ids
) -> None:
    """A valid token of a person no longer on the roster is a 200 that writes nothing."""
    ghost = uuid4()
    token = prefs.make_unsubscribe_token(settings.secret, tenant(), ghost)
    r = await client.post("/v1/email/unsubscribe", params={"token": token})
    assert r.status_code == 200
    async with db.tenant(tenant()) as conn:
        assert (
            await conn.fetchval("SELECT count(*) FROM preferences WHERE person_id = $1", ghost) == 0
        )


# ---- store helpers -----------------------------------------------------------------------


@asynccontextmanager
async def rolled_back(db: Database, tenant_id: UUID) -> AsyncIterator[Connection]:
    """A tenant transaction that is rolled back: store tests leave nothing behind."""
    async with db.pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            await conn.execute("SELECT set_config('reppu.tenant', $1, true)", str(tenant_id))
            yield conn
        finally:
            await tx.rollback()


async def test_load_preferences_in_one_query(db: Database, family: Ids) -> None:
    """Stored preferences for those who have a row, the defaults for the rest."""
    at = datetime(2026, 11, 24, tzinfo=UTC)
    async with rolled_back(db, tenant()) as conn:
        mine = Preferences(email=False, quiet_end=time(6), kinds={"message": "digest"})
        await prefs_store.save_preferences(conn, family["g1"], mine, at)
        got = await prefs_store.load_preferences(conn, [family["g1"], family["g2"], family["gi"]])
    assert set(got) == {family["g1"], family["g2"], family["gi"]}
    assert got[family["g2"]] == got[family["gi"]] == Preferences()
    assert got[family["g1"]].email is False and got[family["g1"]].quiet_end == time(6)
    assert got[family["g1"]].kinds == {
        "message": "digest",
        "announcement": "instant",
        "notification": "instant",
    }


async def test_email_destination_and_bounces(db: Database, family: Ids) -> None:
    """Address, name and language; None without an address or while it bounces;
    a new roster address is mailed again."""
    at = datetime(2026, 11, 24, tzinfo=UTC)
    async with rolled_back(db, tenant()) as conn:
        g1 = family["g1"]
        assert await prefs_store.email_destination(conn, g1) == (
            "gunnar@example.fi",
            "Gunnar Lapsi",
            "fi",
        )
        assert await prefs_store.email_destination(conn, family["g2"]) is None
        await prefs_store.save_preferences(conn, g1, Preferences(language="en", email=False), at)
        dest = await prefs_store.email_destination(conn, g1)
        assert dest is not None and dest[2] == "en"  # opting out is policy, not "no address"
        await prefs_store.mark_bounced(conn, g1, "Gunnar@example.fi", "550 no such user", at)
        assert await prefs_store.email_destination(conn, g1) is None
        await prefs_store.mark_bounced(conn, g1, "gunnar@example.fi", "x" * 2000, at)
        row = await conn.fetchrow("SELECT * FROM email_status WHERE person_id = $1", g1)
        assert row is not None and len(row["bounce_reason"]) == prefs_store.MAX_BOUNCE_REASON_CHARS
        await conn.execute("UPDATE persons SET email = 'gunnar@uusi.example' WHERE id = $1", g1)
        dest = await prefs_store.email_destination(conn, g1)
        assert dest is not None and dest[0] == "gunnar@uusi.example"


async def test_subscriptions_of_and_delete(db: Database, family: Ids) -> None:
    """Subscriptions come back as channels' PushSubscription; delete is idempotent."""
    at = datetime(2026, 11, 24, tzinfo=UTC)
    async with rolled_back(db, tenant()) as conn:
        sub = PushSubscription(endpoint=FCM + "abc", keys=PushKeys(**browser_keys()))
        sub_id, _ = await prefs_store.upsert_subscription(
            conn, family["g2"], sub, None, uuid4(), at
        )
        assert await prefs_store.subscriptions_of(conn, family["g2"]) == [(sub_id, sub)]
        await prefs_store.delete_subscription(conn, sub_id)
        await prefs_store.delete_subscription(conn, sub_id)
        assert await prefs_store.subscriptions_of(conn, family["g2"]) == []


async def test_tenant_flags_default_to_privacy(db: Database, family: Ids) -> None:
    """No subjects in push and no text in mail until the tenant allows them."""
    async with rolled_back(db, tenant()) as conn:
        assert await prefs_store.tenant_flags(conn) == (False, False)
        await conn.execute("UPDATE tenants SET push_subjects = true")
        assert await prefs_store.tenant_flags(conn) == (True, False)


async def test_other_tenants_see_nothing(
    client: httpx.AsyncClient, db: Database, family: Ids, demo: object, tidy: list[str]
) -> None:
    """A subscription and preferences of one tenant are invisible from another."""
    tidy.append("g2")
    h = await headers(client, "g2")
    await client.put("/v1/me/preferences", json={"email": False}, headers=h)
    r = await client.post("/v1/push/subscriptions", json=subscription(), headers=h)
    sub_id = UUID(r.json()["id"])
    async with db.tenant(actions.tenant_id_for("kuusikko")) as conn:
        assert (
            await conn.fetchval("SELECT count(*) FROM push_subscriptions WHERE id = $1", sub_id)
            == 0
        )
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM preferences WHERE person_id = $1", family["g2"]
            )
            == 0
        )
        await prefs_store.delete_subscription(conn, sub_id)
    async with db.tenant(tenant()) as conn:
        assert [s for s, _ in await prefs_store.subscriptions_of(conn, family["g2"])] == [sub_id]
