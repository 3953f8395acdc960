"""The batch payload of one message's deliveries (hub.frames)."""

from __future__ import annotations

from uuid import uuid4

import pytest

from hub.frames import decode_batch, encode_batch, learners_of


def test_a_batch_round_trips_every_delivery_with_its_learners() -> None:
    mid, a, b, c, k1, k2 = (uuid4() for _ in range(6))
    message = b'{"id":"x","subject":"\xc3\xa4"}'
    deliveries = [(a, 1, set()), (b, 7, {k2, k1}), (c, 2**40, {k1})]
    got_mid, got_message, entries = decode_batch(encode_batch(mid, message, deliveries))
    assert got_mid == mid and got_message == message
    assert [(p, seq, learners_of(raw)) for p, seq, raw in entries] == [
        (a.bytes, 1, []),
        (b.bytes, 7, sorted([k1, k2])),
        (c.bytes, 2**40, [k1]),
    ]


def test_a_batch_of_another_version_is_refused() -> None:
    payload = bytearray(encode_batch(uuid4(), b"{}", []))
    payload[0] = 9
    with pytest.raises(ValueError, match="version"):
        decode_batch(bytes(payload))
