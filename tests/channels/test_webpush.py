"""The Web Push adapter against a local push service that checks VAPID and
decrypts like a browser."""

from __future__ import annotations

import socket
import stat
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import jwt
import msgspec
import pytest
from cryptography.hazmat.primitives import serialization

from channels import vapid
from channels.base import Delivered, PermanentFailure, Rendered, TemporaryFailure
from channels.webpush import (
    DEFAULT_RETRY_AFTER_S,
    MAX_PAYLOAD_BYTES,
    MIN_TTL_S,
    PushKeys,
    PushSubscription,
    WebPushDeliverer,
    encode_payload,
    parse_retry_after,
    push_topic,
)
from tests.channels.push_service import PushService

SUBJECT = "mailto:ops@reppu.example"
KINDS = ("message", "announcement", "notification", "reminder", "digest")


@pytest.fixture(scope="session")
async def service() -> AsyncIterator[PushService]:
    push = PushService()
    async with push.running():
        yield push


@pytest.fixture(scope="session")
def keys() -> vapid.VapidKeys:
    return vapid.generate()


@pytest.fixture(scope="session")
async def deliverer(keys: vapid.VapidKeys) -> AsyncIterator[WebPushDeliverer]:
    async with WebPushDeliverer(keys, SUBJECT) as d:
        yield d


def rendered(**changes: object) -> Rendered:
    base = Rendered(
        title="Uusi viesti: Retki torstaina",
        text="Muistakaa eväät ja sadevaatteet ☔",
        url="/messages/42",
        kind="message",
    )
    return msgspec.structs.replace(base, **changes)


# --- VAPID keys ---------------------------------------------------------------


def test_vapid_public_key_is_uncompressed_point() -> None:
    """The applicationServerKey is 65 bytes of base64url starting with 0x04."""
    raw = vapid.b64url_decode(vapid.generate().public_key)
    assert len(raw) == 65 and raw[0] == 0x04


def test_vapid_key_persists_with_private_mode(tmp_path: Path) -> None:
    """A generated key is written 0600 and the same key is loaded again."""
    first = vapid.load_or_create(tmp_path, None)
    path = tmp_path / vapid.KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert vapid.load_or_create(tmp_path, None).public_key == first.public_key
    assert [p.name for p in tmp_path.iterdir()] == [vapid.KEY_FILE]


def test_vapid_key_from_raw_and_pem(tmp_path: Path) -> None:
    """VAPID_PRIVATE_KEY is accepted as base64url raw and as PEM, and wins over the file."""
    keys = vapid.generate()
    from_raw = vapid.load_or_create(tmp_path, keys.private_raw)
    from_pem = vapid.load_or_create(tmp_path, keys.private_pem.decode())
    assert from_raw.public_key == from_pem.public_key == keys.public_key
    assert not (tmp_path / vapid.KEY_FILE).exists()


def test_vapid_key_rejects_garbage() -> None:
    """A key of the wrong length or curve is refused at start-up."""
    with pytest.raises(ValueError):
        vapid.parse(vapid.b64url(b"x" * 31))
    from cryptography.hazmat.primitives.asymmetric import ec

    other = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError):
        vapid.parse(other.decode())


# --- pure parts ---------------------------------------------------------------


def test_topic_kept_or_hashed() -> None:
    """A valid topic passes as is; any other becomes a stable 32-char base64url hash."""
    assert push_topic("thread-42_a") == "thread-42_a"
    hashed = push_topic("thread:42/with spaces and much more than thirty-two chars")
    assert len(hashed) == 32 and hashed == push_topic(
        "thread:42/with spaces and much more than thirty-two chars"
    )
    assert push_topic("x" * 33) != "x" * 32


def test_retry_after_forms() -> None:
    """Retry-After as seconds, HTTP date, missing or garbage."""
    now = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == timedelta(seconds=120)
    later = format_datetime(now + timedelta(minutes=5), usegmt=True)
    assert parse_retry_after(later, now) == timedelta(minutes=5)
    assert parse_retry_after(None, now) == timedelta(seconds=DEFAULT_RETRY_AFTER_S)
    assert parse_retry_after("soon", now) == timedelta(seconds=DEFAULT_RETRY_AFTER_S)


def test_subscription_decodes_browser_json() -> None:
    """A browser's PushSubscription.toJSON() decodes, expirationTime included."""
    raw = (
        b'{"endpoint":"https://p.example/x","expirationTime":null,"keys":{"p256dh":"a","auth":"b"}}'
    )
    sub = msgspec.json.decode(raw, type=PushSubscription)
    assert sub.keys.auth == "b" and sub.expiration_time is None


# --- against the push service -------------------------------------------------


async def test_delivered_and_decrypted(service: PushService, deliverer: WebPushDeliverer) -> None:
    """201 is Delivered and the decrypted payload is the rendered notification."""
    sub = service.subscribe()
    n = rendered()
    result = await deliverer.deliver(n, sub.subscription(service.origin))
    assert result == Delivered()
    [got] = sub.received
    assert got.claims["aud"] == service.origin and got.claims["sub"] == SUBJECT
    lifetime = datetime.fromtimestamp(int(str(got.claims["exp"])), UTC) - datetime.now(UTC)
    assert timedelta(hours=11) < lifetime <= timedelta(hours=12)
    assert msgspec.json.decode(got.payload) == {
        "title": n.title,
        "text": n.text,
        "url": n.url,
        "kind": n.kind,
    }


async def test_headers(service: PushService, deliverer: WebPushDeliverer) -> None:
    """TTL from the notification, Urgency, and Topic (hashed when not RFC 8030-shaped)."""
    sub = service.subscribe()
    endpoint = sub.subscription(service.origin)
    n = rendered(urgency="high", topic="thread-7", ttl=timedelta(hours=2))
    assert await deliverer.deliver(n, endpoint) == Delivered()
    n = rendered(urgency="low", topic="thread:7 / reply", ttl=timedelta(seconds=0))
    assert await deliverer.deliver(n, endpoint) == Delivered()
    n = rendered()
    assert await deliverer.deliver(n, endpoint) == Delivered()
    first, second, third = sub.received
    assert (first.ttl, first.urgency, first.topic) == (7200, "high", "thread-7")
    assert (second.ttl, second.urgency, second.topic) == (
        MIN_TTL_S,
        "low",
        push_topic("thread:7 / reply"),
    )
    assert (third.ttl, third.urgency, third.topic) == (86400, "normal", None)


@pytest.mark.parametrize("status", [404, 410])
async def test_gone(service: PushService, deliverer: WebPushDeliverer, status: int) -> None:
    """404 and 410 mean the subscription is gone."""
    sub = service.subscribe(status=status)
    result = await deliverer.deliver(rendered(), sub.subscription(service.origin))
    assert isinstance(result, PermanentFailure) and result.gone


async def test_rate_limited(service: PushService, deliverer: WebPushDeliverer) -> None:
    """429 is temporary, retry after the push service's Retry-After."""
    sub = service.subscribe(status=429, retry_after="90")
    result = await deliverer.deliver(rendered(), sub.subscription(service.origin))
    assert result == TemporaryFailure(reason="http_429", retry_after=timedelta(seconds=90))


@pytest.mark.parametrize("status", [500, 503])
async def test_server_error(service: PushService, deliverer: WebPushDeliverer, status: int) -> None:
    """5xx is temporary with backoff left to the hub."""
    sub = service.subscribe(status=status)
    result = await deliverer.deliver(rendered(), sub.subscription(service.origin))
    assert result == TemporaryFailure(reason=f"http_{status}", retry_after=None)


async def test_other_client_error(service: PushService, deliverer: WebPushDeliverer) -> None:
    """Another 4xx is permanent but not gone."""
    sub = service.subscribe(status=400)
    result = await deliverer.deliver(rendered(), sub.subscription(service.origin))
    assert result == PermanentFailure(reason="http_400", gone=False)


async def test_connection_refused(service: PushService, deliverer: WebPushDeliverer) -> None:
    """Nobody listening is a temporary failure."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        sub = service.subscribe().subscription(f"http://127.0.0.1:{port}")
        result = await deliverer.deliver(rendered(), sub)
    assert isinstance(result, TemporaryFailure) and result.retry_after is None


async def test_invalid_subscription_keys(deliverer: WebPushDeliverer) -> None:
    """Keys a browser could not have made mark the subscription gone, without a request."""
    sub = PushSubscription(
        endpoint="http://127.0.0.1:9/push/x",
        keys=PushKeys(p256dh="AAAA", auth="AAAA"),
    )
    result = await deliverer.deliver(rendered(), sub)
    assert result == PermanentFailure(reason="invalid_subscription", gone=True)


@pytest.mark.parametrize("kind", KINDS)
async def test_payload_bound(service: PushService, deliverer: WebPushDeliverer, kind: str) -> None:
    """A maximal title and text of any kind stays under 4,096 encrypted bytes and decrypts."""
    sub = service.subscribe()
    n = rendered(kind=kind, title="Ä" * 10_000, text='"\n' * 5_000)
    assert await deliverer.deliver(n, sub.subscription(service.origin)) == Delivered()
    [got] = sub.received
    assert got.body_size < 4096
    assert len(got.payload) <= MAX_PAYLOAD_BYTES
    body = msgspec.json.decode(got.payload)
    assert body["kind"] == kind and body["url"] == n.url
    assert n.title.startswith(body["title"].rstrip("…"))


def test_payload_text_shortened_before_title() -> None:
    """An over-long text is cut (with an ellipsis) and the title kept whole."""
    n = rendered(text="sana " * 2_000)
    body = msgspec.json.decode(encode_payload(n) or b"")
    assert body["title"] == n.title
    assert body["text"].endswith("…") and n.text.startswith(body["text"][:-1])
    assert len(encode_payload(n) or b"") <= MAX_PAYLOAD_BYTES


# --- the harness refuses bad VAPID --------------------------------------------


async def test_harness_refuses_bad_vapid(service: PushService, keys: vapid.VapidKeys) -> None:
    """The push service refuses a forged, expired, wrong-aud or too-long JWT."""
    sub = service.subscribe()
    url = sub.subscription(service.origin).endpoint
    now = datetime.now(UTC)
    key = keys.private_key
    other = vapid.generate().private_key

    def header(signer: object, **claims: object) -> str:
        base: dict[str, object] = {
            "aud": service.origin,
            "exp": int((now + timedelta(hours=1)).timestamp()),
            "sub": SUBJECT,
        }
        token = jwt.encode(base | claims, signer, algorithm="ES256")
        return f"vapid t={token}, k={keys.public_key}"

    bad = {
        "forged": header(other),
        "expired": header(key, exp=int((now - timedelta(minutes=1)).timestamp())),
        "wrong aud": header(key, aud="https://push.example"),
        "too long": header(key, exp=int((now + timedelta(hours=25)).timestamp())),
    }
    refused_before = len(service.refused)
    async with httpx.AsyncClient() as client:
        good = await client.post(
            url,
            content=b"x",
            headers={"Authorization": header(key), "TTL": "60", "Content-Encoding": "nope"},
        )
        assert good.status_code == 400  # past VAPID, stopped at the encoding
        for why, auth in bad.items():
            r = await client.post(
                url,
                content=b"x",
                headers={"Authorization": auth, "TTL": "60", "Content-Encoding": "aes128gcm"},
            )
            assert r.status_code == 401, why
    assert len(service.refused) == refused_before + 1 + len(bad)
    assert sub.received == []
