"""The batch payload of one message's deliveries (hub.frames)."""

from __future__ import annotations

from uuid import uuid4

import pytest
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import OPEN
from websockets.uri import parse_uri

from hub.frames import decode_batch, encode_batch, learners_of
from hub.live import text_header


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


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65_535, 65_536, 70_000])
def test_a_direct_frame_is_what_websockets_would_write(size: int) -> None:
    """`Wire.send` writes a text frame's header itself: byte for byte what the
    websockets protocol writes for the same payload as a server, and a client
    reads it back."""
    payload = b"x" * size
    ours = text_header(size) + payload
    assert ours == Frame(Opcode.TEXT, payload).serialize(mask=False, extensions=[])
    client = ClientProtocol(parse_uri("ws://reppu.test/v1/live"), state=OPEN)
    client.receive_data(ours)
    [event] = client.events_received()
    assert event.opcode is Opcode.TEXT and event.data == payload
