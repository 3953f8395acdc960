"""Web Push (RFC 8030) with VAPID (RFC 8292) and aes128gcm (RFC 8291): one
POST to the subscription's push service, one typed result.

Policy-free (ARCHITECTURE.md, invariant 8): the adapter never decides whether
to send and never retries — the hub's durable jobs do, guided by the result.

Privacy: the payload is exactly `Rendered`'s title, text, url and kind, and
nothing else; minimising them (no message body unless the tenant allows it)
is the caller's job. The adapter never adds content, only shortens it.

Why pywebpush's async path: pywebpush ≥ 2 has `WebPusher.send_async`, which
encrypts with http_ece (aes128gcm) and POSTs through an aiohttp session we
pass in. aiohttp is a hard dependency of pywebpush anyway, so this adds no
HTTP client and needs no thread. We call `WebPusher` rather than
`webpush_async()` because the latter raises on every status above 202 and we
map statuses ourselves; the VAPID JWT is signed with py_vapid (as pywebpush
does) so that `aud`, `exp` and `sub` are ours to set.

Bounds: the JSON payload is at most `MAX_PAYLOAD_BYTES` (text shortened
first, then the title; never a 413 from the push service, whose limit is
4,096 bytes of encrypted body, RFC 8030 §7.2); one request waits at most
`REQUEST_TIMEOUT_S`; a push service's Retry-After is clamped to
`MAX_RETRY_AFTER_S`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import TYPE_CHECKING, Self
from urllib.parse import urlsplit

import aiohttp
import msgspec
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import VapidException
from pywebpush import WebPusher

from channels.base import (
    Delivered,
    Deliverer,
    PermanentFailure,
    Rendered,
    Result,
    TemporaryFailure,
)
from channels.vapid import VapidKeys, b64url_decode
from core.clock import Clock, SystemClock

#: bound on the JSON payload before encryption; aes128gcm adds 103 bytes
#: (86-byte header, 1 delimiter, 16-byte tag), far below the 4,096 limit
MAX_PAYLOAD_BYTES = 3_000
#: TTL 0 means "drop unless the device is online right now"; never send that
MIN_TTL_S = 60
#: Retry-After missing or unparsable on a 429
DEFAULT_RETRY_AFTER_S = 60
#: a Retry-After further out than this is clamped (the hub may still give up)
MAX_RETRY_AFTER_S = 24 * 3600
#: total time for one request: connect, send, response
REQUEST_TIMEOUT_S = 10.0
#: VAPID JWT lifetime; RFC 8292 §2 allows at most 24 h
VAPID_EXPIRY = timedelta(hours=12)
#: RFC 8030 §5.4: a topic is at most 32 characters of the base64url alphabet
_TOPIC = re.compile(r"[A-Za-z0-9_-]{1,32}")
#: what the shortened text or title ends with
ELLIPSIS = "…"


class PushKeys(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    #: the browser's ECDH P-256 public key, base64url uncompressed point
    p256dh: str
    #: the 16-byte authentication secret, base64url
    auth: str


class PushSubscription(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """As the browser's `PushSubscription.toJSON()` gives it."""

    endpoint: str
    keys: PushKeys
    expiration_time: float | None = msgspec.field(default=None, name="expirationTime")


class _Payload(msgspec.Struct, frozen=True):
    title: str
    text: str
    url: str
    kind: str


_encoder = msgspec.json.Encoder()


def _shorten(value: str, keep: int) -> str:
    if keep >= len(value):
        return value
    return value[:keep] + ELLIPSIS if keep else ""


def _largest_fit(value: str, size: Callable[[int], int]) -> int | None:
    """The most characters of `value` to keep so that size(keep) fits, or
    None if not even none fits. size() grows with keep (JSON escapes make it
    non-linear, hence the search)."""
    if size(0) > MAX_PAYLOAD_BYTES:
        return None
    low, high = 0, len(value)
    while low < high:
        mid = (low + high + 1) // 2
        if size(mid) <= MAX_PAYLOAD_BYTES:
            low = mid
        else:
            high = mid - 1
    return low


def encode_payload(n: Rendered) -> bytes | None:
    """The JSON payload within `MAX_PAYLOAD_BYTES`: the text is shortened
    first, then the title. None if even url and kind alone are too long."""

    def encode(title: str, text: str) -> bytes:
        return _encoder.encode(_Payload(title=title, text=text, url=n.url, kind=n.kind))

    whole = encode(n.title, n.text)
    if len(whole) <= MAX_PAYLOAD_BYTES:
        return whole
    keep = _largest_fit(n.text, lambda k: len(encode(n.title, _shorten(n.text, k))))
    if keep is not None:
        return encode(n.title, _shorten(n.text, keep))
    keep = _largest_fit(n.title, lambda k: len(encode(_shorten(n.title, k), "")))
    if keep is None:
        return None
    return encode(_shorten(n.title, keep), "")


def push_topic(topic: str) -> str:
    """The topic as given if RFC 8030 allows it, else a stable hash of it."""
    if _TOPIC.fullmatch(topic):
        return topic
    digest = hashlib.sha256(topic.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")[:32]


def ttl_seconds(n: Rendered) -> int:
    return max(MIN_TTL_S, int(n.ttl.total_seconds()))


def parse_retry_after(value: str | None, now: datetime) -> timedelta:
    """Retry-After as delay-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    delay = timedelta(seconds=DEFAULT_RETRY_AFTER_S)
    if value:
        value = value.strip()
        if value.isdigit():
            delay = timedelta(seconds=int(value))
        else:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                pass
            else:
                if when.tzinfo is None:
                    when = when.replace(tzinfo=UTC)
                delay = max(when - now, timedelta(0))
    return min(delay, timedelta(seconds=MAX_RETRY_AFTER_S))


def classify(status: int, retry_after: str | None, now: datetime) -> Result:
    """The result of a push service's answer (RFC 8030 §5, §8.3)."""
    if status in (200, 201, 202):
        return Delivered()
    if status in (404, 410):
        return PermanentFailure(reason=f"http_{status}", gone=True)
    if status == 429:
        return TemporaryFailure(reason="http_429", retry_after=parse_retry_after(retry_after, now))
    if status >= 500:
        return TemporaryFailure(reason=f"http_{status}")
    # 413 cannot happen within MAX_PAYLOAD_BYTES; like any other 4xx, sending
    # the same request again would not help.
    return PermanentFailure(reason=f"http_{status}")


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _valid_keys(keys: PushKeys) -> bool:
    try:
        p256dh = b64url_decode(keys.p256dh)
        auth = b64url_decode(keys.auth)
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256dh)
    except (binascii.Error, ValueError):
        return False
    return len(p256dh) == 65 and len(auth) == 16


class WebPushDeliverer:
    """`Deliverer[PushSubscription]`: one attempt, never raises for an outcome.

    Holds one aiohttp session (connections are reused across deliveries);
    use it as an async context manager or call `aclose()` when done."""

    def __init__(self, keys: VapidKeys, subject: str, *, clock: Clock | None = None) -> None:
        if not subject.startswith(("mailto:", "https:")):
            raise ValueError("VAPID subject must be a mailto: or https: URL")
        self._signer = keys.signer()
        self._subject = subject
        self._clock: Clock = clock or SystemClock()
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def headers(self, n: Rendered, endpoint: str) -> dict[str, str]:
        """VAPID authorization, Urgency and Topic (pywebpush adds TTL and
        Content-Encoding)."""
        claims = {
            "aud": origin(endpoint),
            "exp": int((self._clock.now() + VAPID_EXPIRY).timestamp()),
            "sub": self._subject,
        }
        signed: Mapping[str, str] = self._signer.sign(claims)
        headers = dict(signed)
        headers["Urgency"] = n.urgency
        if n.topic:
            headers["Topic"] = push_topic(n.topic)
        return headers

    async def deliver(self, notification: Rendered, destination: PushSubscription) -> Result:
        payload = encode_payload(notification)
        if payload is None:
            return PermanentFailure(reason="payload_too_large")
        if not _valid_keys(destination.keys) or not destination.endpoint.startswith(
            ("https://", "http://")
        ):
            return PermanentFailure(reason="invalid_subscription", gone=True)
        try:
            headers = self.headers(notification, destination.endpoint)
        except VapidException:
            return PermanentFailure(reason="invalid_endpoint", gone=True)
        if self._session is None:
            self._session = aiohttp.ClientSession()
        pusher = WebPusher(
            {
                "endpoint": destination.endpoint,
                "keys": {"p256dh": destination.keys.p256dh, "auth": destination.keys.auth},
            },
            aiohttp_session=self._session,
        )
        try:
            response = await pusher.send_async(
                payload,
                headers,
                ttl=ttl_seconds(notification),
                content_encoding="aes128gcm",
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
            )
        except aiohttp.InvalidURL:
            return PermanentFailure(reason="invalid_endpoint", gone=True)
        except (aiohttp.ClientError, TimeoutError) as e:
            return TemporaryFailure(reason=f"network: {type(e).__name__}")
        return classify(
            int(response.status), response.headers.get("Retry-After"), self._clock.now()
        )


if TYPE_CHECKING:

    def _implements(d: WebPushDeliverer) -> Deliverer[PushSubscription]:
        return d  # mypy checks WebPushDeliverer against the protocol here
