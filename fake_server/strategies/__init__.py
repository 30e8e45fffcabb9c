"""Hypothesis strategies for testing Realtime clients (and the fake itself).

``import fake_server.strategies`` needs ``hypothesis`` (``pip install 'fake-realtime[pytest]'``);
``import fake_server`` does not.

* :func:`histories`: valid conversation histories, the ``conversation.item.create`` events
  that load them, and the conversation snapshot they make.
* :func:`invalid_items` / :func:`invalid_events`: client events that break exactly one rule,
  each carrying the live error (code, message, param, event_id).
* :func:`client_events`: valid client events generated from ``schemas/`` (a field added to a
  schema is generated without new code).
* :func:`server_streams`: server event streams for fuzzing a client's event handling.
* :class:`SessionMachine`: a stateful model of a session (``RuleBasedStateMachine``), over the
  sans-I/O core or (:func:`socket_machine`) over a real socket.

See docs/strategies.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from ._history import History, histories
from ._invalid import ExpectedError, InvalidEvent, invalid_events, invalid_items
from ._machine import CoreDriver, Reference, SessionMachine, SocketDriver, socket_machine
from ._schema import Breakage, SchemaWalker
from ._streams import Outcome, Output, ServerStream, server_streams, unknown_event_types

__all__ = [
    "Breakage",
    "CoreDriver",
    "ExpectedError",
    "History",
    "InvalidEvent",
    "Outcome",
    "Output",
    "Reference",
    "SchemaWalker",
    "ServerStream",
    "SessionMachine",
    "SocketDriver",
    "client_events",
    "histories",
    "invalid_events",
    "invalid_items",
    "server_streams",
    "socket_machine",
    "unknown_event_types",
]


def client_events(types: Sequence[str] | None = None, *, walker: SchemaWalker | None = None,
                  ) -> st.SearchStrategy[dict[str, Any]]:
    """Valid client events of ``types`` (default: every type ``schemas/`` lists), from the schemas.

    Valid means every rule of ``schemas/`` holds; the conversation state may still refuse
    them (an ``item_id`` that is not there). String fields named ``audio`` carry base64 PCM16
    (``SchemaWalker(hints=...)`` changes that). Pass ``walker=SchemaWalker(Schemas(root))``
    to generate from another copy of the schemas.
    """
    walker = walker or SchemaWalker()
    names = list(walker.event_schemas) if types is None else list(types)
    unknown = set(names) - set(walker.event_schemas)
    if unknown:
        raise ValueError(f"not client event types of these schemas: {sorted(unknown)}")
    return st.sampled_from(names).flatmap(walker.event_strategy)
