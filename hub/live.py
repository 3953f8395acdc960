"""Live sessions at `/v1/live` (protocol: docs/live-protocol.md).

A session authenticates with a single-use ticket in its first frame, says the
last seq it holds, and receives every later event of its person exactly once:
first a replay from PostgreSQL, then live frames from the broker. The broker
is at most once, so the session checks the sequence of what it sends: a
duplicate is dropped, a gap is filled from PostgreSQL before going on. That
makes the client's view gap-free and duplicate-free whichever node it is on.

Bounds (each named, each with its overflow behaviour):

* HELLO_TIMEOUT_S — no valid hello by then: close 4008.
* SEND_QUEUE_MAX — frames waiting for a slow client; beyond it the session is
  closed with 4009 (slow consumer) and the client resumes from its last seq.
  A broadcast cannot wait for its slowest listener (see websockets'
  broadcast essay); a bounded queue and a resume position can.
* MAX_FRAME_BYTES — a client frame larger than this: close 1009.
* RATE_PER_S / RATE_BURST — client frames beyond this token bucket: close 4029.
* PING_INTERVAL_S / PONG_TIMEOUT_S — the server sends {"type":"ping"}; no frame
  from the client within PONG_TIMEOUT_S after it: close 4002.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, cast
from uuid import UUID

import jwt
import msgspec
from litestar import Litestar, Request, WebSocket, post, websocket
from litestar.exceptions import WebSocketDisconnect
from websockets.exceptions import InvalidState
from websockets.protocol import OPEN as _OPEN

from core.api import Services, principal
from core.auth import ALGORITHM, Principal
from core.errors import ReppuError, Unauthorized
from hub.actions import Hub, state_of, view_of
from hub.broker import Broker, Subscription
from hub.fanout import ForLearners, batches
from hub.frames import (
    ENCODER,
    batch_topic,
    decode_batch,
    encode_message,
    learners_of,
    message_frame,
    open_envelope,
    state_frame,
    topic,
)
from hub.schedule import PRESENCE_INTERVAL_S

log = logging.getLogger("reppu.hub.live")

TICKET_AUDIENCE = "reppu-live"
TICKET_TTL_S = 30
HELLO_TIMEOUT_S = 10.0
SEND_QUEUE_MAX = 1_000
MAX_FRAME_BYTES = 16 * 1024
RATE_PER_S = 20.0
RATE_BURST = 40
PING_INTERVAL_S = 25.0
PONG_TIMEOUT_S = 20.0
REPLAY_BATCH = 500


class LiveLimits(msgspec.Struct, frozen=True, kw_only=True):
    """The bounds above, as one value (tests shrink them)."""

    hello_timeout_s: float = HELLO_TIMEOUT_S
    send_queue_max: int = SEND_QUEUE_MAX
    max_frame_bytes: int = MAX_FRAME_BYTES
    rate_per_s: float = RATE_PER_S
    rate_burst: int = RATE_BURST
    ping_interval_s: float = PING_INTERVAL_S
    pong_timeout_s: float = PONG_TIMEOUT_S


#: How often the delivered-at marks of sent frames are written (batched).
DELIVERY_FLUSH_S = 0.2

# Close codes (4000–4099: the client should reconnect and resume; 4100+: not).
CLOSE_GOING_AWAY = 1001
CLOSE_TOO_BIG = 1009
CLOSE_PROTOCOL = 4000
CLOSE_UNAUTHORIZED = 4100
CLOSE_PONG_TIMEOUT = 4002
CLOSE_HELLO_TIMEOUT = 4008
CLOSE_SLOW_CONSUMER = 4009
SLOW_REASON = "slow consumer: resume from your seq"
CLOSE_RATE_LIMITED = 4029
CLOSE_TRY_AGAIN = 1013
#: How long a new session waits for its broker subscription to be active.
READY_TIMEOUT_S = 10.0
#: A connection closed as a slow consumer whose client has not taken what was
#: buffered for it (the close frame last) by then is dropped (TCP abort).
CLOSE_ABORT_S = 30.0


# ---- client frames -----------------------------------------------------------------------


class Hello(msgspec.Struct, tag="hello", tag_field="type", forbid_unknown_fields=True):
    ticket: str
    last_seq: int = 0


class ReadFrame(msgspec.Struct, tag="read", tag_field="type", forbid_unknown_fields=True):
    message_id: UUID


class AckFrame(msgspec.Struct, tag="ack", tag_field="type", forbid_unknown_fields=True):
    message_id: UUID


class PingFrame(msgspec.Struct, tag="ping", tag_field="type", forbid_unknown_fields=True):
    pass


class PongFrame(msgspec.Struct, tag="pong", tag_field="type", forbid_unknown_fields=True):
    pass


ClientFrame = Hello | ReadFrame | AckFrame | PingFrame | PongFrame
DECODER = msgspec.json.Decoder(ClientFrame)


class Ticket(msgspec.Struct, kw_only=True):
    ticket: str
    expires_in: int


# ---- the node ----------------------------------------------------------------------------


@dataclass(eq=False, slots=True)
class Session:
    tenant_id: UUID
    person_id: UUID
    socket: WebSocket[Any, Any, Any]
    sent_seq: int = 0
    queue_max: int = SEND_QUEUE_MAX
    #: frames waiting to be sent; None while there are none (an empty deque
    #: costs ~600 bytes, times every idle connection)
    pending: deque[tuple[int, UUID | None, bytes]] | None = None
    #: the task sending `pending`: started when frames arrive, ends when they
    #: are sent, so an idle session holds no task of its own but its receiver
    drainer: asyncio.Task[None] | None = None
    #: replay done: until then arriving frames only queue up
    live: bool = False
    overflow: bool = False
    #: set when the broker lost its connection: frames may have been lost with no
    #: later frame to reveal the gap, so the session refetches from PostgreSQL
    resync: bool = False
    #: the server's own connection, written to without a task (see `Wire`)
    wire: Wire | None = None


#: The scope key under which `direct_sends` keeps the server's own ASGI send.
RAW_SEND = "reppu.raw_send"


class Wire:
    """The websocket of one session as uvicorn's websockets-sansio protocol
    holds it, written to synchronously.

    A broadcast is a loop over thousands of sessions; an ASGI send is a chain
    of coroutines (litestar's wrappers, uvicorn's `send`) and the session
    needed a task to run it. Written here, a frame is what uvicorn's own
    `send` would do once its `writable` wait returned at once: frame it
    (permessage-deflate included) and hand the bytes to the transport. When
    that is not possible right now — the transport asked to pause writing,
    or the connection is closing — `send` returns False and the session
    queues the frame for its ASGI sender, as it does without a `Wire`.
    """

    __slots__ = ("_proto",)

    def __init__(self, proto: Any) -> None:
        self._proto = proto

    @staticmethod
    def of(raw_send: object) -> Wire | None:
        """The wire behind uvicorn's send, or None for any other server."""
        proto = getattr(raw_send, "__self__", None)
        if _SANSIO is None or not isinstance(proto, _SANSIO):
            return None
        conn = getattr(proto, "conn", None)
        if not all(hasattr(proto, a) for a in _SANSIO_STATE) or not all(
            hasattr(conn, a) for a in _CONN_STATE
        ):
            return None  # another uvicorn or websockets than this was written against
        return Wire(proto)

    def send(self, frame: bytes) -> bool:
        """Write `frame` now; False when it cannot be written directly now."""
        p = self._proto
        if (
            p.disconnected
            or p.close_sent
            or not p.handshake_complete
            or not p.writable.is_set()
            or p.transport.is_closing()
        ):
            return False
        conn = p.conn
        if (
            conn.state is _OPEN
            and not conn.extensions
            and not conn.writes
            and not conn.expect_continuation_frame
        ):
            # what `send_text` would write, without its Frame object: a
            # server's frame is unmasked and, with no extension (the hub
            # declines permessage-deflate), only a header and the payload
            p.transport.write(text_header(len(frame)) + frame)
            return True
        try:
            conn.send_text(frame)
        except InvalidState:
            return False
        p.transport.write(b"".join(conn.data_to_send()))
        return True

    def close(self, code: int, reason: str) -> None:
        """Close now, past the transport's pause: what uvicorn's close does
        once its `writable` wait returns, which for a client that stopped
        reading would be never. The close frame (a few bytes) goes behind what
        is buffered; a client that takes none of it within CLOSE_ABORT_S is
        dropped. The session's receiver gets the disconnect and cleans up."""
        p = self._proto
        if p.disconnected or p.close_sent or p.transport.is_closing():
            return
        p.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        try:
            p.conn.send_close(code, reason)
        except InvalidState:
            p.transport.abort()
            return
        p.transport.write(b"".join(p.conn.data_to_send()))
        p.close_sent = True
        if p.read_paused:
            p.read_paused = False
            p.transport.resume_reading()
        p.close_timer = p.loop.call_later(p.close_timeout, p.transport.close)
        p.loop.call_later(CLOSE_ABORT_S, p.transport.abort)


#: A final text frame's first byte (FIN, opcode 1) and its length bytes, for
#: the lengths below 126 that fit in the second byte (RFC 6455, 5.2).
_SHORT_HEADERS = tuple(bytes((0x81, n)) for n in range(126))


def text_header(n: int) -> bytes:
    """The header of an unmasked final text frame of `n` payload bytes."""
    if n < 126:
        return _SHORT_HEADERS[n]
    if n < 1 << 16:
        return b"\x81\x7e" + n.to_bytes(2, "big")
    return b"\x81\x7f" + n.to_bytes(8, "big")


def _sansio_protocol() -> type | None:
    try:
        from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    except ImportError:  # pragma: no cover - another server: every frame takes the ASGI path
        return None
    return WebSocketsSansIOProtocol


_SANSIO = _sansio_protocol()
#: What `Wire` reads and sets of uvicorn's protocol (uvicorn 0.3x-0.5x; tests
#: run against the installed one, and a protocol without these is not used).
_SANSIO_STATE = (
    "conn",
    "transport",
    "writable",
    "disconnected",
    "close_sent",
    "handshake_complete",
    "queue",
    "read_paused",
    "close_timeout",
    "loop",
)

#: What `Wire.send` reads of the websockets protocol object (websockets 13 and later).
_CONN_STATE = ("state", "extensions", "writes", "expect_continuation_frame")


def direct_sends(app: Litestar) -> None:
    """Keep the server's own send in each websocket's scope (under RAW_SEND),
    before litestar wraps it, so that sessions can use a `Wire`."""
    inner = getattr(app, "asgi_handler", None)
    if inner is None:  # pragma: no cover - another litestar: the ASGI path for every frame
        log.warning("litestar has no asgi_handler to wrap; live frames take the ASGI path")
        return

    async def handler(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            scope[RAW_SEND] = send
        await inner(scope, receive, send)

    app.asgi_handler = handler


class Closed(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class LiveNode:
    """All live sessions of this process."""

    def __init__(
        self, svc: Services, hub: Hub, broker: Broker, limits: LiveLimits | None = None
    ) -> None:
        self.svc = svc
        self.limits = limits or LiveLimits()
        self.hub = hub
        self.broker = broker
        self.sessions: set[Session] = set()
        #: sessions by tenant and person id bytes, for the message batches
        self._here: dict[tuple[UUID, bytes], set[Session]] = {}
        #: each tenant's batch subscription and how many sessions use it
        self._batches: dict[UUID, tuple[Subscription, int]] = {}
        self._batching = batches(broker)
        self._delivered: dict[UUID, list[tuple[UUID, UUID]]] = {}
        self._flusher: asyncio.Task[None] | None = None
        self.frames_sent = 0
        self.slow_closed = 0
        #: called every PRESENCE_INTERVAL_S with each tenant's connected persons
        #: (hub.delivery: who is active in a web client gets no Web Push)
        self.on_presence: Callable[[UUID, list[UUID]], Awaitable[None]] | None = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[LiveNode]:
        self._flusher = asyncio.create_task(self._flush_loop())
        try:
            yield self
        finally:
            for s in list(self.sessions):
                with contextlib.suppress(Exception):
                    await s.socket.close(CLOSE_GOING_AWAY, "server shutting down")
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            await self._flush()

    # -- tickets --

    def issue_ticket(self, who: Principal) -> Ticket:
        person_id = who.require_person()
        now = self.svc.clock.now()
        token = jwt.encode(
            {
                "aud": TICKET_AUDIENCE,
                "sub": str(person_id),
                "tid": str(who.tenant_id),
                "iat": now,
                "exp": now + timedelta(seconds=TICKET_TTL_S),
                "jti": secrets.token_urlsafe(16),
            },
            self.svc.settings.secret,
            algorithm=ALGORITHM,
        )
        return Ticket(ticket=token, expires_in=TICKET_TTL_S)

    async def claim_ticket(self, ticket: str) -> tuple[UUID, UUID]:
        try:
            claims = jwt.decode(
                ticket,
                self.svc.settings.secret,
                algorithms=[ALGORITHM],
                audience=TICKET_AUDIENCE,
                options={"verify_exp": False},
            )
            tenant_id, person_id = UUID(claims["tid"]), UUID(claims["sub"])
            expires = float(claims["exp"])
            nonce = str(claims["jti"])
        except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
            raise Unauthorized("invalid ticket", code="invalid_ticket") from exc
        now = self.svc.clock.now()
        if expires < now.timestamp():
            raise Unauthorized("ticket expired", code="ticket_expired")
        async with self.svc.db.tenant(tenant_id) as conn:
            claimed = await conn.fetchval(
                "INSERT INTO live_ticket_uses (tenant_id, nonce, expires_at) "
                "VALUES ($1, $2, to_timestamp($3)) ON CONFLICT DO NOTHING RETURNING 1",
                tenant_id,
                nonce,
                expires,
            )
            await conn.execute("DELETE FROM live_ticket_uses WHERE expires_at < $1", now)
        if not claimed:
            raise Unauthorized("ticket already used", code="ticket_used")
        return tenant_id, person_id

    # -- a session --

    async def serve(self, socket: WebSocket[Any, Any, Any]) -> None:
        # from the raw ASGI headers: socket.headers would build and keep a parsed
        # copy of every header for the life of the connection
        origin = next(
            (v.decode("latin-1") for k, v in socket.scope["headers"] if k == b"origin"), None
        )
        if origin is not None and origin.rstrip("/") not in self.svc.settings.allowed_origins:
            await socket.close(code=1008, reason="origin not allowed")  # before accept: 403
            return
        await socket.accept()
        session: Session | None = None
        sub: Subscription | None = None
        try:
            hello = await self._hello(socket)
            tenant_id, person_id = await self.claim_ticket(hello.ticket)
            session = Session(
                tenant_id,
                person_id,
                socket,
                sent_seq=max(0, hello.last_seq),
                queue_max=self.limits.send_queue_max,
                wire=Wire.of(cast(dict[str, Any], socket.scope).get(RAW_SEND)),
            )
            sub = self.broker.subscribe(
                topic(tenant_id, person_id), functools.partial(self._push, session)
            )
            tenant_sub = self._join(session)
            try:
                async with asyncio.timeout(READY_TIMEOUT_S):
                    await sub.ready()
                    if tenant_sub is not None:
                        await tenant_sub.ready()
            except TimeoutError:
                raise Closed(CLOSE_TRY_AGAIN, "live delivery unavailable, try again") from None
            self.sessions.add(session)
            head = await self._replay(session)
            await self._send(
                session, ENCODER.encode({"type": "synced", "head": head, "person_id": person_id})
            )
            session.live = True
            self._kick(session)
            await self._receive(session)
        except Closed as c:
            with contextlib.suppress(Exception):
                await socket.close(code=c.code, reason=c.reason)
        except ReppuError as e:
            with contextlib.suppress(Exception):
                await socket.send_data(
                    ENCODER.encode({"type": "error", "code": e.code}).decode(), mode="text"
                )
                await socket.close(
                    code=CLOSE_UNAUTHORIZED if e.status == 401 else CLOSE_PROTOCOL, reason=e.code
                )
        except (WebSocketDisconnect, OSError):
            pass  # gone (uvicorn's ClientDisconnected is an OSError: a ping that raced the close)
        except Exception:
            log.exception("live session failed")
            with contextlib.suppress(Exception):
                await socket.close(code=1011, reason="internal error")
        finally:
            if sub is not None:
                sub.close()
            if session is not None:
                self._leave(session)
                self.sessions.discard(session)
                if session.drainer is not None:
                    session.drainer.cancel()

    async def _hello(self, socket: WebSocket[Any, Any, Any]) -> Hello:
        try:
            async with asyncio.timeout(self.limits.hello_timeout_s):
                raw = await socket.receive_data("text")
        except TimeoutError:
            raise Closed(CLOSE_HELLO_TIMEOUT, "no hello") from None
        frame = self._decode(raw)
        if not isinstance(frame, Hello):
            raise Closed(CLOSE_PROTOCOL, "hello expected")
        return frame

    def _decode(self, raw: str | bytes) -> ClientFrame:
        if len(raw) > self.limits.max_frame_bytes:
            raise Closed(CLOSE_TOO_BIG, "frame too big")
        try:
            frame: ClientFrame = DECODER.decode(raw)
            return frame
        except msgspec.DecodeError:
            raise Closed(CLOSE_PROTOCOL, "bad frame") from None

    async def _replay(self, s: Session) -> int:
        """Send every event after s.sent_seq from PostgreSQL; returns the head."""
        while True:
            rows, head = await self.hub.events_after(
                s.tenant_id, s.person_id, s.sent_seq, REPLAY_BATCH
            )
            for r in rows:
                if r["type"] == "message":
                    frame = message_frame(
                        r["seq"], encode_message(view_of(r)), list(r["for_learners"]), state_of(r)
                    )
                    self._mark_delivered(s, r["id"])
                else:
                    frame = state_frame(r["seq"], r["id"], state_of(r))
                await self._send(s, frame)
                s.sent_seq = r["seq"]
            if len(rows) < REPLAY_BATCH or s.sent_seq >= head:
                return head

    # -- message batches (hub.frames.encode_batch) --

    def _join(self, s: Session) -> Subscription | None:
        """Index the session for batches, and listen to its tenant's batch topic
        if it is the first session of that tenant here (None: no batches)."""
        self._here.setdefault((s.tenant_id, s.person_id.bytes), set()).add(s)
        if not self._batching:
            return None
        sub, n = self._batches.get(s.tenant_id, (None, 0))
        if sub is None:
            sub = self.broker.subscribe(
                batch_topic(s.tenant_id), functools.partial(self._batch, s.tenant_id)
            )
        self._batches[s.tenant_id] = (sub, n + 1)
        return sub

    def _leave(self, s: Session) -> None:
        key = (s.tenant_id, s.person_id.bytes)
        here = self._here.get(key)
        if here is not None:
            here.discard(s)
            if not here:
                del self._here[key]
        if s.tenant_id in self._batches:
            sub, n = self._batches[s.tenant_id]
            if n > 1:
                self._batches[s.tenant_id] = (sub, n - 1)
            else:
                del self._batches[s.tenant_id]
                sub.close()

    def take_message(
        self,
        tenant_id: UUID,
        message_id: UUID,
        message: bytes,
        deliveries: Sequence[tuple[UUID, int]],
        recipients: Mapping[UUID, ForLearners],
    ) -> None:
        """`Fanout.local` of a single node: the frames of the recipients
        connected here, straight to their sessions."""
        here = self._here
        for person, seq in deliveries:
            sessions = here.get((tenant_id, person.bytes))
            if sessions:
                frame = message_frame(seq, message, recipients[person].for_learners)
                for s in tuple(sessions):
                    self._offer(s, (seq, message_id, frame))

    def _batch(self, tenant_id: UUID, _topic: str, payload: bytes) -> None:
        """Broker sink of a tenant's batches: the frames of this node's sessions."""
        message_id, message, entries = decode_batch(payload)
        here = self._here
        for person, seq, learners in entries:
            sessions = here.get((tenant_id, person))
            if sessions:
                frame = message_frame(seq, message, learners_of(learners))
                for s in tuple(sessions):
                    self._offer(s, (seq, message_id, frame))

    def _push(self, s: Session, _topic: str, payload: bytes) -> None:
        """Broker sink of the session's own topic."""
        self._offer(s, open_envelope(payload))

    def _offer(self, s: Session, item: tuple[int, UUID | None, bytes]) -> None:
        """A frame for the session: never blocks; a full queue marks it slow.

        The common case — a live session with nothing queued and the next frame
        of its sequence (or one outside it) — is written at once through the
        session's `Wire`; anything else queues for the session's sender, which
        keeps the order, fills gaps and drops duplicates."""
        if s.overflow:
            return  # closing as a slow consumer: it resumes from its seq
        if s.pending is None:
            seq = item[0]
            if (
                s.wire is not None
                and s.live
                and (s.drainer is None or s.drainer.done())
                and not s.resync
                and (seq == 0 or seq == s.sent_seq + 1)
                and s.wire.send(item[2])
            ):
                self.frames_sent += 1
                if seq:
                    s.sent_seq = seq
                    if item[1] is not None:
                        self._mark_delivered(s, item[1])
                return
            s.pending = deque()
        if len(s.pending) >= s.queue_max:
            s.overflow = True
            self.slow_closed += 1
            if s.wire is not None:
                # the sender may be waiting for a transport that will not
                # drain (a client that stopped reading): close past it
                s.pending = None
                s.wire.close(CLOSE_SLOW_CONSUMER, SLOW_REASON)
                return
        else:
            s.pending.append(item)
        self._kick(s)

    def _kick(self, s: Session) -> None:
        """Start the session's sender if it has work and none is running."""
        if (
            s.live
            and (s.drainer is None or s.drainer.done())
            and (s.pending or s.overflow or s.resync)
        ):
            s.drainer = asyncio.create_task(self._drain(s))

    async def _drain(self, s: Session) -> None:
        try:
            while s.pending or s.overflow or s.resync:
                if s.overflow:
                    raise Closed(CLOSE_SLOW_CONSUMER, SLOW_REASON)
                if s.resync:
                    s.resync = False
                    await self._replay(s)
                    continue
                assert s.pending is not None
                seq, message_id, frame = s.pending.popleft()
                if not s.pending:
                    s.pending = None
                if seq > s.sent_seq + 1:
                    # the broker lost something: fill the gap from PostgreSQL, where
                    # every frame with a seq was committed before it was published
                    await self._replay(s)
                if seq == 0:
                    await self._send(s, frame)
                elif seq == s.sent_seq + 1:
                    await self._send(s, frame)
                    s.sent_seq = seq
                    if message_id is not None:
                        self._mark_delivered(s, message_id)
                elif seq > s.sent_seq:
                    log.warning("seq %d not yet readable after %d; left to resync", seq, s.sent_seq)
                # else: already sent (the replay overlapped the live stream)
        except Closed as c:
            # closing ends the receiver (in serve), which cleans the session up
            with contextlib.suppress(Exception):
                await s.socket.close(code=c.code, reason=c.reason)
        except (WebSocketDisconnect, OSError, RuntimeError):
            pass  # the connection is gone; the receiver sees it too
        except Exception:
            log.exception("live sender failed")
            with contextlib.suppress(Exception):
                await s.socket.close(code=1011, reason="internal error")

    async def _receive(self, s: Session) -> None:
        lim = self.limits
        tokens, last = float(lim.rate_burst), time.monotonic()
        while True:
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for wraps the receive
                # in a task of its own, one more object per idle connection
                async with asyncio.timeout(lim.ping_interval_s):
                    raw = await s.socket.receive_data("text")
            except TimeoutError:
                await self._send(s, b'{"type":"ping"}')
                try:
                    async with asyncio.timeout(lim.pong_timeout_s):
                        raw = await s.socket.receive_data("text")
                except TimeoutError:
                    raise Closed(CLOSE_PONG_TIMEOUT, "no pong") from None
            now = time.monotonic()
            tokens = min(lim.rate_burst, tokens + (now - last) * lim.rate_per_s)
            last = now
            if tokens < 1:
                raise Closed(CLOSE_RATE_LIMITED, "too many frames")
            tokens -= 1
            frame = self._decode(raw)
            match frame:
                case PingFrame():
                    await self._send(s, b'{"type":"pong"}')
                case PongFrame():
                    pass
                case ReadFrame(message_id=mid) | AckFrame(message_id=mid):
                    action: Literal["read", "ack"] = (
                        "ack" if isinstance(frame, AckFrame) else "read"
                    )
                    who = Principal(kind="person", tenant_id=s.tenant_id, person_id=s.person_id)
                    try:
                        await self.hub.mark(who, mid, action)
                    except ReppuError as e:
                        await self._send(
                            s, ENCODER.encode({"type": "error", "code": e.code, "message_id": mid})
                        )
                case Hello():
                    raise Closed(CLOSE_PROTOCOL, "hello twice")

    async def _send(self, s: Session, frame: bytes) -> None:
        await s.socket.send_data(frame.decode(), mode="text")
        self.frames_sent += 1

    def _mark_delivered(self, s: Session, message_id: UUID) -> None:
        self._delivered.setdefault(s.tenant_id, []).append((s.person_id, message_id))

    async def _flush_loop(self) -> None:
        reconnects = self.broker.stats.reconnects
        presence_due = 0.0
        while True:
            await asyncio.sleep(DELIVERY_FLUSH_S)
            await self._flush()
            if self.on_presence is not None and time.monotonic() >= presence_due:
                presence_due = time.monotonic() + PRESENCE_INTERVAL_S
                await self._presence()
            if self.broker.stats.reconnects != reconnects:
                reconnects = self.broker.stats.reconnects
                for session in self.sessions:
                    session.resync = True
                    self._kick(session)

    async def _presence(self) -> None:
        assert self.on_presence is not None
        by_tenant: dict[UUID, list[UUID]] = {}
        for session in self.sessions:
            by_tenant.setdefault(session.tenant_id, []).append(session.person_id)
        for tenant_id, persons in by_tenant.items():
            try:
                await self.on_presence(tenant_id, persons)
            except Exception:
                log.warning("could not record presence of %d persons", len(persons), exc_info=True)

    async def _flush(self) -> None:
        batches, self._delivered = self._delivered, {}
        for tenant_id, pairs in batches.items():
            try:
                await self.hub.delivered(tenant_id, pairs)
            except Exception:
                log.warning("could not record %d deliveries", len(pairs), exc_info=True)


# ---- routes ------------------------------------------------------------------------------


def node_of(conn: Any) -> LiveNode:
    node: LiveNode = conn.app.state["live"]
    return node


@post("/v1/live/ticket", tags=["live"], status_code=200)
async def post_ticket(request: Request[Principal, Any, Any]) -> Ticket:
    """A single-use ticket for the first frame of /v1/live (valid TICKET_TTL_S seconds)."""
    return node_of(request).issue_ticket(principal(request))


@websocket("/v1/live", exclude_from_auth=True)
async def live(socket: WebSocket[Any, Any, Any]) -> None:
    await node_of(socket).serve(socket)


ROUTES = [post_ticket, live]
