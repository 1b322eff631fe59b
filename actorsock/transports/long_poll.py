"""Long-poll sessions: a Handler served over HTTP requests that come and go.

The session core (:class:`LongPollSessions`, :class:`LongPollTransport`)
that wire formats put their requests on: Phoenix LongPoll and Engine.IO
polling later, and here a plain JSON one (:func:`json_routes`). The
bookkeeping (numbered outbox, polls, expiry) is pure code in
:mod:`actorsock.core.long_poll`; this module adds the waiting::

    open(request)      init(request) --Reject / crash--> its response (no session)
                       otherwise a session, found by an unguessable token
    poll(token, after) held until a message numbered above ``after`` waits
                       (answered with them) or ``long_poll.poll_timeout``
                       (answered empty); a newer poll answers it at once
                       ("replaced"); a session that ended answers "gone"
    post(token, frames) the client's messages, to websocket_handle in order
    close(token)       the client says goodbye ------------------> Remote()
    no poll for long_poll.session_timeout ------------------------> Timeout()
    Stop / Close / server shutdown: a held poll (or the next one, within
    websocket.close_timeout) gets what is left, marked closed --> StopReason / Shutdown

Each session is a process like a WebSocket connection: it holds a slot of
``server.max_connections``, broadcasts reach it, and its outbox is bounded by
the handler's send queue options (``send_queue_bytes``,
``send_queue_messages``, ``send_overflow``).
"""

from __future__ import annotations

import base64
import json
import secrets
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import trio

from ..core.admission import Admission
from ..core.frames import Binary, DataFrame, Event, Frame, Ping, Pong, Text
from ..core.handler import Handler
from ..core.long_poll import Outbox, Phase, Polls, Sequenced
from ..core.options import LongPollOptions
from ..core.reasons import ErrorKind, ErrorReason, Reason, Remote, Timeout
from ..core.request import Accept, Request, Response
from ..core.transport import Transport, TransportClosed
from ..core.wire import PreparedFrame
from ..runtime.session import Session, SessionServices, serve_session
from ..runtime.waker import Waker

__all__ = ["LongPollSessions", "LongPollTransport", "PollAnswer", "json_routes"]

# Messages one poll answer carries at most; the rest wait for the next poll.
POLL_BATCH = 256


def _size_of(item: DataFrame | PreparedFrame) -> int:
    frame = item.frame if isinstance(item, PreparedFrame) else item
    return len(frame.text) if isinstance(frame, Text) else len(frame.data)


@dataclass(frozen=True, slots=True)
class PollAnswer:
    """What one poll gets.

    Attributes:
        messages: The messages, numbered (items are frames, or a broadcast's
            :class:`~actorsock.core.wire.PreparedFrame`; a wire encodes them).
        closed: The session has ended: no further poll will be answered.
        replaced: A newer poll of the same session took this one's place.
        gone: There is no such session (unknown token, or it has ended).
    """

    messages: list[Sequenced] = field(default_factory=list)
    closed: bool = False
    replaced: bool = False
    gone: bool = False


class LongPollTransport:
    """The :class:`~actorsock.core.transport.Transport` of one long-poll session.

    Args:
        outbox: The session's numbered outbox.
        polls: The session's poll bookkeeping.
        gate: The session's waker: it wakes the session, and is open while
            the session is parked, when broadcasts may go straight to the
            outbox (this transport is the pid's frame sink).
        log: The session's logger.
    """

    supports_ping = False
    own_idle_rule = True  # the session timeout (no poll) is the idle rule
    inbound_overflowed = False

    def __init__(self, outbox: Outbox, polls: Polls, gate: Waker, log: Any) -> None:
        self.outbox = outbox
        self.gate = gate
        self._wake = gate.wake
        self.polls = polls
        self._log = log
        self._inbound: deque[Frame] = deque()
        self._changed = trio.Event()
        self._client_left = False
        self._answered_upto = 0  # the highest number a poll was answered with
        self.sent_frames = 0
        self.sent_bytes = 0

    # -- the Transport the session sees ---------------------------------

    @property
    def data_open(self) -> bool:
        return not self.polls.ended

    @property
    def failed(self) -> bool:
        """True once expired (no poll in time) or the outbox overflowed."""
        return self.polls.phase is Phase.EXPIRED or self.outbox.overflowed

    def next_inbound(self) -> Frame | None:
        if self._inbound:
            return self._inbound.popleft()
        if self._client_left:
            raise TransportClosed("the client closed the long-poll session")
        return None

    def send_frame(self, frame: DataFrame) -> bool:
        return self._push(frame, _size_of(frame), None)

    def send_prepared(self, prepared: PreparedFrame) -> bool:
        return self._push(prepared, _size_of(prepared), prepared.key)

    def _push(self, item: DataFrame | PreparedFrame, size: int, key: Any) -> bool:
        if self.polls.ended:
            return False
        accepted = self.outbox.push(item, size, key)
        if self.outbox.overflowed:
            self._log.warning(
                "long-poll outbox full; ending the session",
                held_bytes=self.outbox.held_bytes,
                messages=len(self.outbox),
            )
            self.polls.close()
            self._wake()
        if accepted:
            self.sent_frames += 1
        self._notify()
        return accepted

    # -- the FrameSink broadcasts use while the session is parked ---------------

    def offer_frames(self, frames: Sequence[PreparedFrame]) -> int:
        """Take a broadcast's frames into the outbox; how many it accepted."""
        return sum(self.send_prepared(prepared) for prepared in frames)

    def take_written(self, frames: Sequence[PreparedFrame], written: int) -> int:
        """Never called: a long-poll session has no socket lane."""
        return self.offer_frames(frames)

    async def send_control(self, frame: Ping | Pong) -> None:
        """Long-poll has no control frames: nothing is sent."""
        await trio.lowlevel.checkpoint()

    async def close(self, code: int, reason: str) -> None:
        """End the session; wait (the caller bounds it) until a poll took what is left."""
        self.polls.close()
        self._notify()
        while self.outbox.last_seq > self._answered_upto and not self._client_left:
            await self._wait_change()

    def ended_reason(self) -> Reason:
        """``Remote()`` after the client's goodbye, ``Timeout()`` for no poll in
        time, ``ErrorReason("send_overflow")`` for a full outbox, else ``ErrorReason("closed")``."""
        if self._client_left:
            return Remote()
        if self.outbox.overflowed:
            return ErrorReason(ErrorKind.SEND_OVERFLOW, None)
        if self.polls.phase is Phase.EXPIRED:
            return Timeout()
        return ErrorReason(ErrorKind.CLOSED, None)

    def before_park(self) -> None:
        pass

    # -- what requests do ---------------------------------------------------

    async def poll(self, after: int, timeout: float) -> PollAnswer:
        """Wait for messages numbered above ``after``, at most ``timeout`` seconds.

        Messages numbered ``after`` or less are confirmed (forgotten): the
        client has them.
        """
        polls = self.polls
        self.outbox.confirm(after)
        ticket = polls.arrive()
        if ticket is None:  # ended: what a closing session left, or gone
            if self.outbox.has_after(after):
                return self._answer(after)
            return PollAnswer(closed=True, gone=True)
        if ticket.replaced is not None:
            self._notify()  # the replaced poll answers at once
        try:
            with trio.move_on_after(timeout):
                while True:
                    if not polls.is_current(ticket):
                        return PollAnswer(replaced=True)
                    if self.outbox.has_after(after):
                        return self._answer(after)
                    if polls.ended:
                        return PollAnswer(closed=True)
                    await self._wait_change()
            return PollAnswer()
        finally:
            polls.leave(ticket, trio.current_time())
            self._notify()  # the expiry clock may start again

    def _answer(self, after: int) -> PollAnswer:
        batch = self.outbox.after(after, POLL_BATCH)
        self._answered_upto = max(self._answered_upto, batch[-1].seq)
        self.sent_bytes += sum(message.size for message in batch)
        self._notify()  # a closing session waits for this
        closed = self.polls.ended and batch[-1].seq == self.outbox.last_seq
        return PollAnswer(batch, closed=closed)

    def post(self, frames: list[Frame]) -> bool:
        """The client's messages, delivered to the session in order; False if it ended."""
        if self.polls.ended:
            return False
        self._inbound.extend(frames)
        self._wake()
        return True

    def goodbye(self) -> None:
        """The client ends the session (``Remote()``)."""
        self._client_left = True
        self.polls.close()
        self._notify()
        self._wake()

    async def watch_expiry(self) -> None:
        """End the session once no poll came for the session timeout."""
        polls = self.polls
        while not polls.ended:
            expires_at = polls.expires_at
            if expires_at is None:
                await self._wait_change()
                continue
            with trio.move_on_at(expires_at):
                await self._wait_change()
            if polls.check_expiry(trio.current_time()):
                self._log.info("long-poll session expired", timeout=polls.session_timeout)
                self._notify()
                self._wake()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def _wait_change(self) -> None:
        await self._changed.wait()


class LongPollSessions:
    """The long-poll sessions of a server, by token.

    Args:
        services: What the server's sessions share (options, counters...); the
            outbox is bounded by the send queue options and policy.
        long_poll: The ``[long_poll]`` options.
        admission: Each session holds one of its connection slots.
    """

    def __init__(
        self, *, services: SessionServices, long_poll: LongPollOptions, admission: Admission
    ) -> None:
        self.services = services
        self.long_poll = long_poll
        self.admission = admission
        self._sessions: dict[str, LongPollTransport] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def find(self, token: str) -> LongPollTransport | None:
        """The open session of ``token``, or None."""
        return self._sessions.get(token)

    async def open(
        self, request: Request, handler_class: type[Handler], nursery: trio.Nursery
    ) -> str | Response:
        """Start a session for ``request``; its token, or the response that refused it.

        Args:
            request: The request that opens it (``init`` sees it).
            handler_class: The route's handler.
            nursery: Where the session's task runs (outliving this request).
        """
        if not self.admission.admit():
            return Response(
                503, "server is at its connection limit or shutting down\n", headers=_RETRY
            )
        token = secrets.token_urlsafe(32)
        services = self.services
        session = services.session(handler_class, request, transport="long-poll")

        opening = _LongPollOpening(session, token, self._sessions, self.long_poll.session_timeout)

        async def run() -> None:
            try:
                await serve_session(session, opening, services)
            finally:
                self.admission.release()
                opening.decided.set()

        nursery.start_soon(run)
        await opening.decided.wait()
        return opening.refusal or token


class _LongPollOpening:
    """How a long-poll session starts (see :class:`~actorsock.runtime.session.Opening`).

    Its link is made here, not on a stream: the request that starts the
    session waits for :attr:`decided`, then answers with the token or
    with :attr:`refusal`.
    """

    __slots__ = ("by_token", "decided", "refusal", "session", "session_timeout", "token")

    runs_tasks = True  # the expiry watcher

    def __init__(
        self,
        session: Session,
        token: str,
        by_token: dict[str, LongPollTransport],
        session_timeout: float,
    ) -> None:
        self.session = session
        self.token = token
        self.by_token = by_token  # the server's open sessions, where this one is found
        self.session_timeout = session_timeout
        self.decided = trio.Event()
        self.refusal: Response | None = None

    async def refuse(self, response: Response) -> None:
        self.refusal = response
        self.decided.set()

    async def open_transport(
        self, accept: Accept, nursery: trio.Nursery | None
    ) -> LongPollTransport:
        assert nursery is not None
        session = self.session
        queue = session.queue
        transport = LongPollTransport(
            Outbox(queue.max_bytes, queue.max_messages, queue.policy),
            Polls(self.session_timeout, trio.current_time()),
            session.waker,
            session.log,
        )
        session.pid.frame_sink = transport
        nursery.start_soon(transport.watch_expiry)
        self.by_token[self.token] = transport
        session.log.info("open")
        self.decided.set()
        return transport

    async def release(self, transport: Transport | None) -> None:
        self.by_token.pop(self.token, None)


_RETRY = (("retry-after", "5"),)


# -- a plain JSON wire -----------------------------------------------------------


def encode_message(message: Sequenced) -> dict[str, Any]:
    """One message as JSON: ``{"seq": n, "text": ...}`` or ``{"seq": n, "binary": base64}``."""
    item = message.item
    frame = item.frame if isinstance(item, PreparedFrame) else item
    if isinstance(frame, Binary):
        return {"seq": message.seq, "binary": base64.b64encode(frame.data).decode()}
    if isinstance(frame, Event):
        encoded: dict[str, Any] = {"seq": message.seq, "text": frame.data}
        if frame.event is not None:
            encoded["event"] = frame.event
        return encoded
    return {"seq": message.seq, "text": frame.text}


def _json(status: int, value: Any) -> Response:
    return Response(status, json.dumps(value, separators=(",", ":")), "application/json")


_GONE = Response(410, '{"error":"no such session"}', "application/json")


def json_routes(
    pattern: str,
    handler_class: type[Handler],
    sessions: Callable[[], tuple[LongPollSessions, trio.Nursery]],
) -> Mapping[str, Mapping[str, Any]]:
    """The HTTP routes of a plain JSON long-poll transport at ``pattern``.

    * ``POST pattern`` opens a session: ``201 {"token": ...}``, or what
      ``init`` answered;
    * ``GET pattern/{token}?after=N`` polls: ``200 {"messages": [{"seq": n,
      "text": ...} | {"seq": n, "binary": base64}], "closed": bool}``, and
      ``"replaced": true`` for a poll a newer one replaced; ``after`` is the
      highest ``seq`` the client has (0 at first); 410 once the session is gone;
    * ``POST pattern/{token}`` sends the body as one message (``Text`` if it
      is UTF-8 text, ``Binary`` for ``Content-Type:
      application/octet-stream``): 204, 400 for bad UTF-8, 410 when gone;
    * ``DELETE pattern/{token}`` ends the session: 204.

    Args:
        pattern: The route, e.g. ``/poll/chat``.
        handler_class: The handler each session runs.
        sessions: Returns the server's sessions and the nursery they run in
            (available once the server runs).
    """

    async def open_session(request: Request) -> Response:
        hub, nursery = sessions()
        opened = await hub.open(request, handler_class, nursery)
        if isinstance(opened, Response):
            return opened
        return _json(201, {"token": opened})

    async def poll(request: Request) -> Response:
        hub, _ = sessions()
        transport = hub.find(request.path_params["token"])
        after = request.query.get("after", "0")
        if not after.isdigit():
            return _json(400, {"error": "after must be a message number"})
        if transport is None:
            return _GONE
        answer = await transport.poll(int(after), hub.long_poll.poll_timeout)
        if answer.gone:
            return _GONE
        body: dict[str, Any] = {
            "messages": [encode_message(message) for message in answer.messages],
            "closed": answer.closed,
        }
        if answer.replaced:
            body["replaced"] = True
        return _json(200, body)

    async def post(request: Request) -> Response:
        hub, _ = sessions()
        transport = hub.find(request.path_params["token"])
        if transport is None:
            return _GONE
        frame: Frame
        if (request.header("content-type") or "").startswith("application/octet-stream"):
            frame = Binary(request.body)
        else:
            try:
                frame = Text(request.body.decode("utf-8"))
            except UnicodeDecodeError:
                return _json(400, {"error": "the message is not UTF-8 text"})
        if not transport.post([frame]):
            return _GONE
        return Response(204)

    async def goodbye(request: Request) -> Response:
        hub, _ = sessions()
        transport = hub.find(request.path_params["token"])
        if transport is None:
            return _GONE
        transport.goodbye()
        return Response(204)

    return {
        pattern: {"POST": open_session},
        pattern.rstrip("/") + "/{token}": {"GET": poll, "POST": post, "DELETE": goodbye},
    }
