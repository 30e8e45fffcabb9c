"""The sans-I/O Realtime session: a state machine with frames in and server events out.

A :class:`Session` owns the session configuration, the conversation (ordered items), the input
audio buffer and the responses. It reads no socket and no clock of its own: the transport feeds
it frames (:meth:`Session.receive_text`, :meth:`Session.receive_binary`), tells it the time
(:meth:`Session.advance`, for everything time-driven: streamed responses and transcriptions,
expiry) and takes what it has to say from one place (:meth:`Session.events_to_send`, then
:attr:`Session.close_requested`). A seeded run is reproducible.

Every client event is checked against ``schemas/`` first (live codes and messages), then
against the preconditions of its row in ``fake_server.protocol.legality``. It applies completely
(state changed, every event it caused sent) or not at all (the state is rolled back and one error
answers it). Any exception other than the protocol's own :class:`RealtimeError` is a bug of the
fake: it becomes one live-shaped ``server_error`` event here, and the transport is told through
``on_failure`` so it can record the traceback.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable

from . import speech
from ..protocol.ids import IdGenerator
from ..protocol.legality import WRONG_KIND_RULE, legality, rule_for
from ..protocol.rules import RealtimeError
from ..protocol.schema import Schemas, load_schemas
from ..protocol.wire import ABNORMAL_CLOSURE, MIN_COMMIT_MS, CloseConnection, Event, default_session, error_event
from ..protocol.wire import server_event
from .conversation import Conversation, Item, snapshot
from .faults import FaultEngine
from .handling import SessionState
from .input_audio import InputAudioHandlers
from .items import ItemHandlers
from .journal import Cause, Journal
from .limits import SessionLimits
from .outbox import Outbox
from .policy import DefaultPolicy, Policy
from .responding import ResponseHandlers, client_event_id
from .responses import ResponseStream
from .rollback import Rollback
from .schedule import Scheduler
from .session_config import ConfigHandlers
from .turns import Turns
from .usage import Segment

__all__ = ["Session", "SessionLimits", "SessionState", "CloseConnection", "Item", "ABNORMAL_CLOSURE", "MIN_COMMIT_MS"]

_NOT_OBJECT = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
_NO_FRAME = Cause("script")


class Session(ConfigHandlers, ItemHandlers, InputAudioHandlers, ResponseHandlers, Rollback):
    """One Realtime session (one WebSocket connection), without any I/O.

    The transport calls :meth:`start` once, then for every frame :meth:`receive_text` or
    :meth:`receive_binary`, and :meth:`advance` whenever :meth:`next_deadline` comes; after each
    call it sends :meth:`events_to_send` and, if :attr:`close_requested` is set, closes the socket.
    When the socket is gone it calls :meth:`connection_lost`.
    """

    def __init__(
        self, *, model: str, kind: str = "realtime", ids: IdGenerator, clock: Callable[[], float],
        limits: SessionLimits | None = None, schemas: Schemas | None = None, script: Policy | None = None,
        index: int = 0, journal: Journal | None = None, on_failure: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.kind, self.ids, self.clock, self.index = kind, ids, clock, index
        self.limits = limits or SessionLimits()
        self.schemas = schemas or load_schemas()
        self.script: Policy = script or DefaultPolicy()
        """What the model says and how the server misbehaves (``fake_server.script.Script``, or the default)."""
        self.on_failure = on_failure
        """Told of every exception that was a bug of the fake (the transport records it)."""
        self.id = ids.new("sess")
        self.conversation_id = ids.new("conv")
        self.created_at = clock()
        self.expires_at = self.created_at + self.limits.max_duration_seconds
        self.config: dict[str, Any] = default_session(kind, self.id, model, int(self.expires_at))
        self.history = Conversation()
        self.journal = journal if journal is not None else Journal(self.limits.journal_max_entries)
        """Every frame of this connection, both ways."""
        self.responses: list[ResponseStream] = []
        """Every response of this session, in creation order (finished ones included)."""
        self.state = SessionState.OPEN
        self.close_requested: CloseConnection | None = None
        """The close the session wants once its events are sent (then it reads no more frames)."""
        faults = self.script.faults
        self._faults = FaultEngine.for_connection(faults, index)
        self.scheduler = Scheduler(clock, self._pacing, self._faults)
        check = self.schemas.check_server_event if self.limits.validate_server_events else None
        self._outbox = Outbox(self.journal, clock, check, self._faults)
        self.turns = Turns(self.config["audio"]["input"]["format"], self.config["audio"]["input"]["turn_detection"])
        self._active: ResponseStream | None = None
        self._last_context: list[Segment] | None = None
        self._playback: list[tuple[str, list[Event]]] = []
        self._cancelled: list[tuple[ResponseStream, Any]] = []  # undo records of the event being handled
        self._touched: list[tuple[Item, dict[str, Any], dict[int, bytes | bytearray]]] = []
        self._event_type = ""  # the type of the client event being handled (whose preconditions apply)
        self._cause = _NO_FRAME  # the client frame being handled, for the errors answering it
        self._handlers: dict[str, Callable[[Event], list[Event]]] = {
            "session.update": self._session_update,
            "session.close": self._session_close,
            "input_audio_buffer.append": self._audio_append,
            "session.input_audio_buffer.append": self._audio_append,
            "input_audio_buffer.commit": self._audio_commit,
            "input_audio_buffer.clear": self._audio_clear,
            "conversation.item.create": self._item_create,
            "conversation.item.truncate": self._item_truncate,
            "conversation.item.delete": self._item_delete,
            "conversation.item.retrieve": self._item_retrieve,
            "response.create": self._response_create,
            "response.cancel": self._response_cancel,
        }

    # ------------------------------------------------------------------ what the transport reads
    @property
    def model(self) -> str:
        return str(self.config.get("model", ""))

    @property
    def active_response(self) -> ResponseStream | None:
        """The response writing to the default conversation, if one is in progress."""
        return self._active

    @property
    def input_audio(self) -> bytes:
        """The audio in the input buffer (not yet committed or dropped)."""
        return bytes(self.turns.buffer)

    @property
    def input_audio_ms(self) -> float:
        """How much audio the input buffer holds, in milliseconds of the input format."""
        return self.turns.buffered_ms

    def events_to_send(self) -> list[Event]:
        """Every server event made since the last call, in order: the one way out (already journaled)."""
        return self._outbox.take()

    def next_deadline(self) -> float | None:
        """When :meth:`advance` has something to do (the next streamed batch, else expiry); ``None`` once
        the session is not open. The next batch is prepared now, and journaled only when taken."""
        if self.state is not SessionState.OPEN:
            return None
        try:
            due = self.scheduler.next_due()
        except Exception as exc:  # a bug inside a stream: reported; advance() sends it at once
            self._fail(exc, None)
            return self.clock()
        return self.expires_at if due is None else min(due, self.expires_at)

    def conversation(self) -> list[dict[str, Any]]:
        """A snapshot of the conversation: the items in order, as the server would show them."""
        return self.history.snapshot()

    @property
    def _input_format(self) -> dict[str, Any]:
        fmt: dict[str, Any] = self.config["audio"]["input"]["format"]
        return fmt

    def hear(self, item: Item, index: int) -> str:
        """What the fake hears in an audio part: the speech codec's text, or its placeholder."""
        if index not in item.heard:
            audio = item.audio.get(index)
            item.heard[index] = speech.transcribe(audio, item.audio_format or self._input_format) if audio else ""
        return item.heard[index]

    # ------------------------------------------------------------------ input
    def start(self) -> None:
        """The events the server sends unprompted once the upgrade is done (``session.created``)."""
        faults = self._faults.faults if self._faults is not None else None
        if faults is not None and faults.close_before_created is not None:
            self._close(CloseConnection(*faults.close_before_created))
            return
        self._emit([self._event("session.created", session=snapshot(self.config))])

    def receive_text(self, text: str | bytes) -> None:
        """Handle one TEXT frame."""
        self._receive(text, decode=True)

    def receive_binary(self, data: bytes) -> None:
        """Handle one BINARY frame: the live service rejects them but keeps the socket."""
        self._receive(data, binary=True)

    def receive_event(self, event: Any) -> None:
        """Handle one decoded client event."""
        self._receive(event)

    def advance(self, now: float, max_batches: int | None = None) -> int:
        """Time is ``now`` (on the session's clock): expire, or take the streamed batches due by then (at
        most ``max_batches``, so that a client event can land between them). How many batches it took: when
        it took the most it may, the next is not prepared yet (ask :meth:`next_deadline` only when idle, so
        that a cancel arriving meanwhile finds nothing of it made)."""
        taken = 0
        if self.state is not SessionState.OPEN:
            return taken
        try:
            if now >= self.expires_at:
                self._expire()
                return taken
            while max_batches is None or taken < max_batches:
                due = self.scheduler.next_due()
                if due is None or due > now or self.state is not SessionState.OPEN:
                    break
                self._take()
                taken += 1
        except Exception as exc:  # a bug inside a stream: the stream is gone, the session stays
            self._fail(exc, None)
        return taken

    def connection_lost(self) -> None:
        """The socket is gone: nothing is read, streamed or sent any more."""
        self.state = SessionState.CLOSED
        self.scheduler.clear()

    def play(self, events: Iterable[Event], *, on: str = "response.create") -> None:
        """Answer the next valid ``on`` client event with ``events``, sent as they are.

        For fuzzing a client's event handling with generated server streams
        (``fake_server.strategies.server_streams``): instead of its normal answer, the
        client event gets exactly these events. They change no state, are not checked
        against ``schemas/`` (they may be of types the client has never seen) and go in
        the journal. Queued plays answer in order.
        """
        self._playback.append((on, [dict(event) for event in events]))

    # ------------------------------------------------------------------ the boundary
    def _receive(self, frame: Any, *, decode: bool = False, binary: bool = False) -> None:
        """One client frame, applied completely or not at all, answered through the outbox.

        This is the session's one error contract: a :class:`RealtimeError` (a rule the frame breaks)
        rolls the state back and is answered by its ``error``; any other exception is a bug, rolled back
        the same way, answered by ``server_error`` and reported through ``on_failure``.
        """
        if self.state is not SessionState.OPEN:
            return
        saved = self._save()
        self._cause = _NO_FRAME
        try:
            self._answer(self._decoded(frame, decode, binary))
        except RealtimeError as exc:
            self._restore(saved)
            cause = self._cause
            self._emit([error_event(self.ids, exc, client_event_id(cause.event))],
                       Cause(exc.rule, cause.position, cause.event, cause.raw))
        except Exception as exc:
            self._restore(saved)
            self._fail(exc, self._cause)
        finally:
            self._cancelled.clear()
            self._touched.clear()

    def _decoded(self, frame: Any, decode: bool, binary: bool) -> Event:
        """The frame as a client event, journaled; :class:`RealtimeError` for a frame that is none."""
        if binary:
            self._journal_client(raw=frame)
            raise RealtimeError("binary_frame")
        text = frame if decode else None
        if decode:
            try:
                frame = json.loads(frame)
            except ValueError as exc:
                self._journal_client(raw=text)
                raise RealtimeError("invalid_json", detail=str(exc)) from None
        if type(frame) is not dict:
            self._journal_client(raw=text if text is not None else repr(frame))
            raise RealtimeError("not_an_object", actual=_NOT_OBJECT.get(type(frame), "a number"))
        self._journal_client(event=frame)
        return frame

    def _journal_client(self, event: Event | None = None, raw: str | bytes | None = None) -> None:
        """Record the client frame being handled; what an error answering it will name as its cause."""
        position = self.journal.client(self.clock(), event, raw)
        self._cause = Cause("script", position, event, raw)

    def _answer(self, event: Event) -> None:
        """Answer a decoded client event: with a play, a policy's interception, or its handler."""
        if "type" not in event:
            raise RealtimeError("missing_type")
        self.schemas.validate_client_event(event)
        event_type = event["type"]
        if self._playback and self._playback[0][0] == event_type:
            self._outbox.send_as_is(self._playback.pop(0)[1], self._cause)
            return
        scripted = self.script.intercept(self.index, event)
        if scripted:
            self._emit(self._scripted(scripted, event), self._cause)
            return
        if self.kind not in legality(event_type).kinds:
            raise RealtimeError(WRONG_KIND_RULE, type=event_type)
        self._event_type = event_type
        self._emit(self._handlers[event_type](event), self._cause)

    def _require(self, precondition: str, holds: bool, **fields: Any) -> None:
        """Refuse the client event being handled unless ``precondition`` (of its legality row) holds."""
        if not holds:
            raise RealtimeError(rule_for(self._event_type, precondition), **fields)

    def _fail(self, exc: Exception, cause: Cause | None) -> None:
        """A bug of the fake: report it, and tell the client as the live service does (``server_error``)."""
        if self.on_failure is not None:
            self.on_failure(exc)
        error = RealtimeError("server_error", session_id=self.id)
        where = cause or Cause("server_error")
        self._outbox.send_as_is([error_event(self.ids, error)],
                                Cause("server_error", where.position, where.event, where.raw))

    # ------------------------------------------------------------------ output and time
    def _event(self, type_: str, **payload: Any) -> Event:
        return server_event(self.ids, type_, **payload)

    def _emit(self, events: list[Event], cause: Cause | None = None, **fault: Any) -> None:
        closing = self._outbox.send(events, cause=cause, **fault)
        if closing is not None:
            self._close(closing)

    def _pacing(self) -> float:
        return self.script.pacing if self.script.pacing is not None else self.limits.pacing

    def _take(self) -> None:
        """Send the next streamed batch. A response stops being active when its ``response.done`` goes."""
        batch = self.scheduler.take()
        assert batch is not None
        if batch.stream is self._active and self._active.finished:
            self._active = None
        if batch.close is not None:
            self._close(batch.close)
        self._emit(batch.events, source=batch.source, faulted=batch.source is not None)

    def _close(self, closing: CloseConnection) -> None:
        """Ask the transport to close after the events at hand: nothing streams or is read any more."""
        self.close_requested = closing
        self.state = SessionState.CLOSING
        self.scheduler.clear()

    def _expire(self) -> None:
        """The session reached :attr:`expires_at`: the live error, then close 1001 with its text."""
        minutes = self.limits.max_duration_seconds / 60
        error = RealtimeError("session_expired", minutes=f"{minutes:g}")
        self._close(CloseConnection(1001, error.message))
        self._emit([error_event(self.ids, error)], Cause(error.rule))
