"""Legality: which client event is handled in which session, and what must hold for it to apply.

One row per client event type: the session kinds it is handled in (a ``response.*`` event in a
transcription session gets :data:`WRONG_KIND_RULE`), and its preconditions in the order they are
checked. Each precondition names the error it answers with (a row of
:data:`fake_server.protocol.rules.ERRORS`) and its evidence tag (docs/fidelity.md). The shape of an
event (fields, types, enums) is not here but in ``schemas/``, checked before any of this.

Every event is handled only while the session is open; once the session has asked to close the
connection, client frames are not read. An event whose preconditions all hold applies completely;
one that breaks one changes nothing and is answered by that error alone.

The session checks its preconditions through :func:`rule_for` (one lookup each),
``fake_server.strategies`` expects its errors from here, and docs/fidelity.md lists this table (a
test keeps them equal).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .rules import ERRORS

__all__ = ["Precondition", "Legality", "LEGALITY", "SESSION_KINDS", "WRONG_KIND_RULE", "WRONG_KIND_TAG",
           "legality", "rule_for"]

SESSION_KINDS = ("realtime", "transcription")

WRONG_KIND_RULE = "not_in_transcription_session"
"""The error for an event a session of this kind does not handle."""
WRONG_KIND_TAG = "inf"


@dataclass(frozen=True)
class Precondition:
    """What must hold for a client event to apply, and the error answering it when it does not."""

    name: str
    """The name the session checks it by."""
    text: str
    """What must hold, in words (for docs/fidelity.md)."""
    rule: str
    """The row of ``ERRORS`` that answers a breach."""
    tag: str
    """The evidence that the live service checks it with this error: obs, spec, rep or inf."""


@dataclass(frozen=True)
class Legality:
    """One client event type: the session kinds that handle it and its preconditions, in checking order."""

    event: str
    kinds: tuple[str, ...]
    preconditions: tuple[Precondition, ...] = ()

    def rule(self, name: str) -> str:
        """The error rule of precondition ``name`` (``KeyError`` for a name this event does not have)."""
        for precondition in self.preconditions:
            if precondition.name == name:
                return precondition.rule
        raise KeyError(f"{self.event} has no precondition {name!r}")


_BOTH = SESSION_KINDS
_REALTIME = ("realtime",)

# Preconditions shared by several events: the audio a client sends, and the tool call it answers.
_AUDIO_BASE64 = Precondition("audio_base64", "every audio payload is valid base64", "invalid_audio_base64", "inf")
_AUDIO_SIZE = Precondition("audio_size", "every audio payload holds at most `max_append_bytes` (15 MiB) of audio",
                           "audio_too_large", "spec")
_TURN_LONG_ENOUGH = Precondition(
    "turn_long_enough", "a turn that turn detection ends holds at least 100 ms of audio",
    "input_audio_buffer_commit_empty", "inf")
_APPEND = (_AUDIO_BASE64, _AUDIO_SIZE, _TURN_LONG_ENOUGH)


def _row(event: str, kinds: tuple[str, ...], *preconditions: Precondition) -> tuple[str, Legality]:
    return event, Legality(event, kinds, preconditions)


LEGALITY: Mapping[str, Legality] = dict([
    _row("session.update", _BOTH,
         Precondition("session_type_realtime", "in a realtime session, `session.type` is `realtime`",
                      "session_type_mismatch", "rep"),
         Precondition("session_type_transcription", "in a transcription session, `session.type` is `transcription`",
                      "session_type_mismatch_transcription", "inf"),
         Precondition("voice_unlocked", "the voice changes only while no assistant audio is in the conversation",
                      "cannot_update_voice", "obs")),
    _row("session.close", _BOTH),
    _row("input_audio_buffer.append", _BOTH, *_APPEND),
    _row("session.input_audio_buffer.append", _BOTH, *_APPEND),
    _row("input_audio_buffer.commit", _BOTH,
         Precondition("buffer_long_enough", "the input audio buffer holds at least 100 ms of audio",
                      "input_audio_buffer_commit_empty", "obs")),
    _row("input_audio_buffer.clear", _BOTH),
    _row("conversation.item.create", _BOTH, _AUDIO_BASE64, _AUDIO_SIZE,
         Precondition("tool_call_exists", "a `function_call_output` answers a `function_call` in the conversation",
                      "invalid_tool_call_id", "obs"),
         Precondition("previous_item_exists",
                      "`previous_item_id` names an item in the conversation (or is `root`, empty or absent)",
                      "item_create_invalid_previous_item_id", "rep")),
    _row("conversation.item.truncate", _BOTH,
         Precondition("item_exists", "`item_id` names an item in the conversation", "item_truncate_invalid_item_id",
                      "rep"),
         Precondition("assistant_audio", "the item is an assistant message with audio", "truncate_not_audio", "obs"),
         Precondition("content_index_audio", "`content_index` names the item's audio part",
                      "truncate_invalid_content_index", "inf"),
         Precondition("within_audio", "`audio_end_ms` is at most the audio's length", "truncate_too_long", "obs")),
    _row("conversation.item.delete", _BOTH,
         Precondition("item_exists", "`item_id` names an item in the conversation", "item_delete_invalid_item_id",
                      "obs")),
    _row("conversation.item.retrieve", _BOTH,
         Precondition("item_exists", "`item_id` names an item in the conversation", "item_retrieve_invalid_item_id",
                      "obs")),
    _row("response.create", _REALTIME,
         Precondition("no_active_response",
                      "no response is in progress in the default conversation (when this one writes there)",
                      "conversation_already_has_active_response", "obs"),
         Precondition("input_items_exist", "every `item_reference` in `response.input` names an item",
                      "response_input_invalid_item_id", "inf"),
         _AUDIO_BASE64, _AUDIO_SIZE,
         Precondition("tool_call_exists",
                      "a `function_call_output` in `response.input` answers a `function_call` before it",
                      "invalid_tool_call_id", "obs")),
    _row("response.cancel", _REALTIME,
         Precondition("response_active",
                      "a response is in progress: the one `response_id` names, else the default conversation's",
                      "response_cancel_not_active", "obs")),
])
"""Every client event type the fake handles, in the live order of the accepted types."""


def legality(event_type: str) -> Legality:
    """The row of a client event type (``KeyError`` for a type the schemas would have refused)."""
    return LEGALITY[event_type]


def rule_for(event_type: str, precondition: str) -> str:
    """The error rule answering a breach of ``precondition`` by an event of ``event_type``."""
    return LEGALITY[event_type].rule(precondition)


def _check_table() -> None:
    """Every rule the table names exists (caught at import, not at the first breach)."""
    missing = sorted({p.rule for row in LEGALITY.values() for p in row.preconditions} - set(ERRORS))
    if missing or WRONG_KIND_RULE not in ERRORS:
        raise RuntimeError(f"the legality table names unknown error rules: {missing or [WRONG_KIND_RULE]}")


_check_table()
