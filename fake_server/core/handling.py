"""What the handler modules of a session may use of it, declared once.

:class:`fake_server.core.session.Session` is assembled from parts, one module each
(``items``, ``input_audio``, ``responding``); each part inherits :class:`SessionParts`, which
names (without defining) the state and the helpers the session gives them all.
"""

from __future__ import annotations

import enum
from typing import Any, Callable

from ..protocol.ids import IdGenerator
from ..protocol.wire import CloseConnection, Event
from .conversation import Conversation, Item
from .faults import FaultEngine
from .limits import SessionLimits
from .policy import Policy
from .responses import ResponseStream
from .schedule import Scheduler
from .turns import Turns
from .usage import Segment

__all__ = ["SessionParts", "SessionState"]


class SessionState(enum.Enum):
    """Where a session is: open to frames; closing (it asked for the close, reads nothing more); closed."""

    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


class SessionParts:
    """The session as its parts see it (every name here is set or defined by ``Session``)."""

    kind: str
    index: int
    state: SessionState
    close_requested: CloseConnection | None
    id: str
    conversation_id: str
    ids: IdGenerator
    limits: SessionLimits
    config: dict[str, Any]
    history: Conversation
    turns: Turns
    scheduler: Scheduler
    script: Policy
    responses: list[ResponseStream]
    _active: ResponseStream | None
    _last_context: list[Segment] | None
    _faults: FaultEngine | None
    _playback: list[tuple[str, list[Event]]]
    _cancelled: list[tuple[ResponseStream, Any]]
    """Undo records of the responses the client event being handled cancelled."""
    _touched: list[tuple[Item, dict[str, Any], dict[int, bytes | bytearray]]]
    """Undo records of the items the client event being handled changed in place."""
    _input_format: dict[str, Any]
    _event: Callable[..., Event]
    """A server event with a fresh id (``fake_server.protocol.wire.server_event``)."""
    _require: Callable[..., None]
    """Refuse the client event being handled unless a precondition of its legality row holds."""
    _close: Callable[[CloseConnection], None]
    hear: Callable[[Item, int], str]
    # defined by one part, used by another
    _add: Callable[[Item, str | None], list[Event]]
    _decode_audio: Callable[[str, str], bytes]
    _server_item: Callable[[dict[str, Any], Callable[[str], bool]], Item]
    _cancel: Callable[[ResponseStream, str], list[Event]]
    _start_response: Callable[..., list[Event]]
