"""VAPID keys (RFC 8292): the one P-256 key pair that identifies this server
to every push service.

The public key is what browsers are given as `applicationServerKey` when they
subscribe; a subscription is bound to it, so changing the key silently breaks
every existing subscription. Hence the key is loaded, never regenerated once
it exists: from `VAPID_PRIVATE_KEY` when set (which every node of a
multi-node deployment must share), else from `vapid_private.pem` in the data
directory, else generated once and written there (mode 0600).
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid

#: file in the data directory holding the generated private key (PKCS#8 PEM)
KEY_FILE = "vapid_private.pem"
#: a P-256 private scalar is 32 bytes
RAW_PRIVATE_LEN = 32


def b64url(data: bytes) -> str:
    """URL-safe base64 without padding, as Web Push uses everywhere."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    text = text.strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class VapidKeys:
    private_key: ec.EllipticCurvePrivateKey

    @property
    def private_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def private_raw(self) -> str:
        """The 32-byte private scalar, base64url (the `VAPID_PRIVATE_KEY` form)."""
        return b64url(self.private_key.private_numbers().private_value.to_bytes(32, "big"))

    @property
    def public_key(self) -> str:
        """The uncompressed point (65 bytes, 0x04…), base64url: the browser's
        `applicationServerKey`."""
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(point)

    def signer(self) -> Vapid:
        """py_vapid's RFC 8292 signer (`Authorization: vapid t=…, k=…`)."""
        return Vapid(self.private_key)


def generate() -> VapidKeys:
    return VapidKeys(ec.generate_private_key(ec.SECP256R1()))


def parse(value: str) -> VapidKeys:
    """A private key given as PEM or as the base64url raw 32-byte scalar."""
    value = value.strip()
    if value.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(value.encode("ascii"), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(
            key.curve, ec.SECP256R1
        ):
            raise ValueError("VAPID private key must be an EC P-256 key")
        return VapidKeys(key)
    try:
        raw = b64url_decode(value)
    except (binascii.Error, ValueError) as e:
        raise ValueError("VAPID private key is neither PEM nor base64url") from e
    if len(raw) != RAW_PRIVATE_LEN:
        raise ValueError(f"raw VAPID private key must be {RAW_PRIVATE_LEN} bytes, not {len(raw)}")
    return VapidKeys(ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1()))


def load_or_create(data_dir: Path, private_key: str | None) -> VapidKeys:
    """The configured key, else the stored one, else a new one stored for good."""
    if private_key:
        return parse(private_key)
    path = data_dir / KEY_FILE
    if path.exists():
        return parse(path.read_text("ascii"))
    keys = generate()
    data_dir.mkdir(parents=True, exist_ok=True)
    # Written whole under a private name, then linked into place: link fails
    # if another process got there first, and then its key wins, so two
    # processes starting together never end up with different keys.
    tmp = data_dir / f".{KEY_FILE}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(keys.private_pem)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return parse(path.read_text("ascii"))
    finally:
        tmp.unlink(missing_ok=True)
    return keys
