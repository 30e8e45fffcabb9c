"""Scripting the fake: tests decide what the model says and how the server misbehaves.

A :class:`Script` is an ordered list of rules. For each ``response.create`` the first rule
whose condition matches decides the :class:`~fake_server.core.responder.Reply`; with no match the
default responder answers (``docs/responses.md``). Rules fire once (``times=1``, the
default of :meth:`Script.reply`) or any number of times (:meth:`Script.on`), on every
connection or on one, and may require and set a named state of the connection, so a
scenario can move from state to state. Rules on client events (:meth:`Script.on_event`)
answer a client event with an ``error`` or a close instead of the normal handling, or answer
a matching ``response.create`` with a reply.

A reply that says nothing and ends nothing (only delays, a mid-response close, ``spoken``)
applies to the default responder's answer. Script files (JSON or YAML) are checked against
``schemas/script.json`` first, so a mistake is reported with where it is and what is expected.

The script is shared by the server's connections and safe to change from a test thread
while the server runs.

The rooms: :mod:`.replies` (conditions and reply builders), :mod:`.rules` (:class:`Script`,
:class:`Rule`), :mod:`.files` (script files). Everything is exported here, with the core's reply types the rules
answer with (``s.Reply``, ``s.ResponseContext``): ``from fake_server import script as s; s.say("Hi")``.
"""

from __future__ import annotations

from ..core.faults import Faults
from ..core.responder import DefaultResponder as DefaultResponder, ModelOutput as ModelOutput, Reply as Reply
from ..core.responder import Responder as Responder, ResponseContext as ResponseContext
from ..protocol.wire import CLOSE_CODES, check_close
from .files import ScriptFileError, faults_from_data, load_script, parse_script_text, script_from_data
from .replies import (
    Condition, always, call, close, combine, delays, error, fail, incomplete, rate_limited, say, server_error, speak,
    tool_output, turn, user_says, write,
)
from .rules import QUIRKS, Rule, Script

__all__ = [
    "Script", "Rule", "Faults", "Condition", "QUIRKS",
    "always", "user_says", "turn", "tool_output",
    "say", "speak", "write", "call", "error", "fail", "server_error", "rate_limited", "incomplete", "close",
    "delays", "combine", "check_close", "CLOSE_CODES",
    "script_from_data", "parse_script_text", "faults_from_data", "load_script", "ScriptFileError",
]
