"""Frames of the live protocol (docs/live-protocol.md), encoded once.

A message's content is the same for every recipient, so it is encoded once
per message and spliced into each recipient's frame beside that recipient's
`seq`. Frames travel through the broker inside an envelope: 8 bytes of
big-endian seq (0 for frames outside the sequence, such as delivery report
updates), 16 bytes of message id, then the frame's JSON, so a node can check the sequence
without decoding the JSON.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Collection, Iterable, Iterator
from datetime import datetime
from uuid import UUID

import msgspec

from hub.model import InboxState, MessageView

ENCODER = msgspec.json.Encoder()
SEQ_BYTES = 8


def encode_message(view: MessageView) -> bytes:
    return ENCODER.encode(view)


def message_frame(
    seq: int, message: bytes, for_learners: Collection[UUID], state: InboxState | None = None
) -> bytes:
    # in id order (a guardian's copy may be for several children)
    learners = ENCODER.encode(sorted(for_learners)) if for_learners else b"[]"
    st = ENCODER.encode(state) if state is not None else b"null"
    return b'{"type":"message","seq":%d,"for_learners":%b,"state":%b,"message":%b}' % (
        seq,
        learners,
        st,
        message,
    )


def state_frame(seq: int, message_id: UUID, state: InboxState) -> bytes:
    return ENCODER.encode({"type": "state", "seq": seq, "message_id": message_id, "state": state})


def report_frame(message_id: UUID, person_id: UUID, event: str, at: datetime) -> bytes:
    """A delivery report update for the sender: `event` is delivered, read or acked."""
    return ENCODER.encode(
        {
            "type": "report",
            "message_id": message_id,
            "person_id": person_id,
            "event": event,
            "at": at,
        }
    )


#: Largest transient signal frame (Hub.signal); a larger one is refused.
MAX_SIGNAL_BYTES = 4096


def signal_frame(kind: str, data: object) -> bytes:
    """A transient frame outside the sequence (docs/live-protocol.md)."""
    frame = ENCODER.encode({"type": "signal", "kind": kind, "data": data})
    if len(frame) > MAX_SIGNAL_BYTES:
        raise ValueError(f"signal frame of {len(frame)} bytes > MAX_SIGNAL_BYTES")
    return frame


NO_MESSAGE = bytes(16)


def envelope(seq: int, frame: bytes, message_id: UUID | None = None) -> bytes:
    """seq (8 bytes), the id of the message whose arrival this frame carries
    (16 bytes, zeros otherwise: used to record delivery), then the frame."""
    mid = message_id.bytes if message_id is not None else NO_MESSAGE
    return seq.to_bytes(SEQ_BYTES, "big") + mid + frame


def open_envelope(payload: bytes) -> tuple[int, UUID | None, bytes]:
    seq = int.from_bytes(payload[:SEQ_BYTES], "big")
    mid = payload[SEQ_BYTES : SEQ_BYTES + 16]
    return seq, (_uuid(mid) if mid != NO_MESSAGE else None), payload[SEQ_BYTES + 16 :]


@functools.lru_cache(maxsize=1024)
def _uuid(raw: bytes) -> UUID:
    """Every frame of one announcement carries the same message id: one UUID
    object for all of them, not one per recipient."""
    return UUID(bytes=raw)


@functools.lru_cache(maxsize=65_536)
def topic(tenant_id: UUID, person_id: UUID) -> str:
    """The broker topic of one person's devices (cached: formatting two UUIDs
    per recipient per message showed in the fan-out profile)."""
    return f"u:{tenant_id}:{person_id}"


# ---- one message's deliveries in one broker payload ---------------------------------------

#: A message to more recipients than this goes to the other nodes as one batch
#: (below): one broker payload instead of one per recipient.
BATCH_MIN = 16
_BATCH_HEAD = struct.Struct(">B16sI")  # version, message id, length of the message JSON
_BATCH_COUNT = struct.Struct(">I")
_BATCH_ENTRY = struct.Struct(">16sQH")  # person, seq, number of learners (16 bytes each follow)
_BATCH_VERSION = 1


@functools.lru_cache(maxsize=1024)
def batch_topic(tenant_id: UUID) -> str:
    """The broker topic of a tenant's message batches: every node with a live
    session of that tenant listens to it."""
    return f"b:{tenant_id}"


def encode_batch(
    message_id: UUID, message: bytes, deliveries: Iterable[tuple[UUID, int, Collection[UUID]]]
) -> bytes:
    """A message's encoded view once, then each recipient: person, seq, and the
    learners the copy is for. Each node builds the frames of its own sessions
    from it (`decode_batch`)."""
    entry = _BATCH_ENTRY.pack
    parts = [_BATCH_HEAD.pack(_BATCH_VERSION, message_id.bytes, len(message)), message, b""]
    n = 0
    for person, seq, learners in deliveries:
        parts.append(entry(person.bytes, seq, len(learners)))
        if learners:
            parts.append(b"".join(x.bytes for x in sorted(learners)))
        n += 1
    parts[2] = _BATCH_COUNT.pack(n)
    return b"".join(parts)


def decode_batch(payload: bytes) -> tuple[UUID, bytes, Iterator[tuple[bytes, int, bytes]]]:
    """(message id, the message's encoded view, entries): each entry is the
    person's 16 id bytes, the seq, and the learners' ids (16 bytes each,
    concatenated), so a node decodes only what its own sessions need."""
    version, mid, size = _BATCH_HEAD.unpack_from(payload)
    if version != _BATCH_VERSION:
        raise ValueError(f"batch version {version}")
    start = _BATCH_HEAD.size
    message = payload[start : start + size]
    (count,) = _BATCH_COUNT.unpack_from(payload, start + size)

    def entries(at: int) -> Iterator[tuple[bytes, int, bytes]]:
        unpack, step = _BATCH_ENTRY.unpack_from, _BATCH_ENTRY.size
        for _ in range(count):
            person, seq, n = unpack(payload, at)
            at += step
            yield person, seq, payload[at : at + 16 * n]
            at += 16 * n

    return _uuid(mid), message, entries(start + size + _BATCH_COUNT.size)


def learners_of(raw: bytes) -> list[UUID]:
    return [UUID(bytes=raw[i : i + 16]) for i in range(0, len(raw), 16)]
