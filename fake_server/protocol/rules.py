"""The rules table: every error the fake can send, with the live wording.

One row per error. Each row names its FACTS tag: ``obs`` rows are copied byte for byte
from live captures, ``rep``/``spec`` rows from reports and documentation, ``inf`` rows
are our own wording where the live text was never captured (see docs/fidelity.md).

Shape rules (which fields an event has, which content part types each role may use,
which values an enum allows) are not here: they live in ``schemas/``, and the schema
compiler turns a violation into one of the generic rows below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

__all__ = ["ErrorRule", "ERRORS", "RealtimeError", "error_body", "error_event_body", "quote_values",
           "masked_key_in_error"]


@dataclass(frozen=True)
class ErrorRule:
    """How one kind of error looks on the wire."""

    code: str | None
    message: str  # str.format template
    param: str | None = None  # str.format template, or None
    type: str = "invalid_request_error"
    tag: str = "obs"  # FACTS evidence tag for the wording
    close_code: int | None = None  # set for errors that end the connection


ERRORS: Mapping[str, ErrorRule] = {
    # --- handshake (the socket is closed right after the error) --------------------------
    "missing_auth": ErrorRule(None, "Missing bearer or basic authentication in header", close_code=3000),
    "invalid_api_key": ErrorRule(
        "invalid_api_key",
        "Incorrect API key provided: {masked_key}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        close_code=3000,
    ),
    "missing_model": ErrorRule(
        "missing_model",
        "You must provide a model parameter, for example wss://api.openai.com/v1/realtime?model=gpt-realtime-1.5",
        close_code=4000,
    ),
    "invalid_model": ErrorRule(
        "invalid_model", 'Model "{model}" is not supported in realtime mode.', tag="obs+inf", close_code=4000
    ),
    "beta_api_shape_disabled": ErrorRule(
        "beta_api_shape_disabled",
        "The beta Realtime API shape (OpenAI-Beta: realtime=v1) is no longer supported. "
        "Remove the beta header to use the GA interface.",
        tag="inf",
        close_code=4000,
    ),
    # --- frames and envelopes --------------------------------------------------------------
    "invalid_json": ErrorRule("invalid_json", "Invalid event: failed to parse JSON value. {detail}", tag="obs+inf"),
    "binary_frame": ErrorRule(
        "invalid_event", "Expected a text WebSocket message; binary frames are not supported."
    ),
    "not_an_object": ErrorRule(
        "invalid_event", "Invalid event: expected a JSON object, but got {actual} instead.", tag="inf"
    ),
    "missing_type": ErrorRule("invalid_event", "The 'type' field is missing.", tag="spec"),
    # --- generic validation (produced by the schema compiler) ------------------------------
    "unknown_parameter": ErrorRule("unknown_parameter", "Unknown parameter: '{path}'.", "{path}"),
    "missing_required_parameter": ErrorRule(
        "missing_required_parameter", "Missing required parameter: '{path}'.", "{path}"
    ),
    "invalid_value": ErrorRule("invalid_value", "Invalid value: '{given}'. {allowed}", "{path}"),
    "invalid_type": ErrorRule(
        "invalid_type", "Invalid type for '{path}': expected {expected}, but got {actual} instead.", "{path}", tag="rep"
    ),
    "integer_below_min_value": ErrorRule(
        "integer_below_min_value",
        "Invalid '{path}': integer below minimum value. Expected a value >= {limit}, but got {given} instead.",
        "{path}",
        tag="obs+inf",
    ),
    "integer_above_max_value": ErrorRule(
        "integer_above_max_value",
        "Invalid '{path}': integer above maximum value. Expected a value <= {limit}, but got {given} instead.",
        "{path}",
        tag="inf",
    ),
    "decimal_below_min_value": ErrorRule(
        "decimal_below_min_value",
        "Invalid '{path}': decimal below minimum value. Expected a value >= {limit}, but got {given} instead.",
        "{path}",
        tag="inf",
    ),
    "decimal_above_max_value": ErrorRule(
        "decimal_above_max_value",
        "Invalid '{path}': decimal above maximum value. Expected a value <= {limit}, but got {given} instead.",
        "{path}",
        tag="inf",
    ),
    "string_above_max_length": ErrorRule(
        "string_above_max_length",
        "Invalid '{path}': string too long. Expected a string with maximum length {limit}, "
        "but got a string with length {given} instead.",
        "{path}",
        tag="inf",
    ),
    "string_below_min_length": ErrorRule(
        "string_below_min_length",
        "Invalid '{path}': string too short. Expected a string with minimum length {limit}, "
        "but got a string with length {given} instead.",
        "{path}",
        tag="inf",
    ),
    "array_above_max_length": ErrorRule(
        "array_above_max_length",
        "Invalid '{path}': array too long. Expected an array with maximum length {limit}, "
        "but got an array with length {given} instead.",
        "{path}",
        tag="inf",
    ),
    "array_below_min_length": ErrorRule(
        "array_below_min_length",
        "Invalid '{path}': array too short. Expected an array with minimum length {limit}, "
        "but got an array with length {given} instead.",
        "{path}",
        tag="inf",
    ),
    # --- session ---------------------------------------------------------------------------
    "cannot_update_voice": ErrorRule(
        "cannot_update_voice", "Cannot update a conversation's voice if assistant audio is present."
    ),
    "session_type_mismatch": ErrorRule(
        None, "Passing a transcription session update event to a realtime session is not allowed.", tag="rep"
    ),
    "session_type_mismatch_transcription": ErrorRule(
        None, "Passing a realtime session update event to a transcription session is not allowed.", tag="inf"
    ),
    "not_in_transcription_session": ErrorRule(
        "invalid_value", "'{type}' is not supported in a transcription session.", "type", tag="inf"
    ),
    # --- conversation items ----------------------------------------------------------------
    "item_create_invalid_previous_item_id": ErrorRule(
        "item_create_invalid_previous_item_id",
        "Error adding item: the previous item with id '{previous_item_id}' does not exist.",
        tag="rep",
    ),
    "invalid_tool_call_id": ErrorRule("invalid_tool_call_id", "Tool call ID '{call_id}' not found in conversation."),
    "item_delete_invalid_item_id": ErrorRule(
        "item_delete_invalid_item_id", "Error deleting item: the item with id '{item_id}' does not exist."
    ),
    "item_retrieve_invalid_item_id": ErrorRule(
        "item_retrieve_invalid_item_id", "Error retrieving item: the item with id '{item_id}' does not exist."
    ),
    "item_truncate_invalid_item_id": ErrorRule(
        "item_truncate_invalid_item_id",
        "Error truncating item: the item with id '{item_id}' does not exist.",
        tag="inf",
    ),
    "truncate_not_audio": ErrorRule("unsupported_content_type", "Only model output audio messages can be truncated"),
    "truncate_too_long": ErrorRule(
        "invalid_value", "Audio content of {actual_ms}ms is already shorter than {audio_end_ms}ms", "audio_end_ms",
        tag="obs+inf",
    ),
    "truncate_invalid_content_index": ErrorRule(
        "invalid_value",
        "Invalid 'content_index': the item has no content part at index {content_index}.",
        "content_index",
        tag="inf",
    ),
    # --- input audio -----------------------------------------------------------------------
    "input_audio_buffer_commit_empty": ErrorRule(
        "input_audio_buffer_commit_empty",
        "Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, "
        "but buffer only has {buffered_ms:.2f}ms of audio.",
    ),
    "invalid_audio_base64": ErrorRule(
        "invalid_value", "Invalid value for '{path}': expected base64-encoded audio bytes.", "{path}", tag="inf"
    ),
    "audio_too_large": ErrorRule(
        "invalid_value",
        "Invalid '{path}': audio too large. Expected at most {limit} bytes of audio, but got {given} bytes instead.",
        "{path}",
        tag="inf",
    ),
    # --- input transcription (sent in conversation.item.input_audio_transcription.failed) ---
    "audio_unintelligible": ErrorRule(
        "audio_unintelligible", "The audio could not be transcribed.", type="transcription_error", tag="spec"
    ),
    # --- responses -------------------------------------------------------------------------
    "conversation_already_has_active_response": ErrorRule(
        "conversation_already_has_active_response",
        "Conversation already has an active response in progress: {response_id}. "
        "Wait until the response is finished before creating a new one.",
    ),
    "response_cancel_not_active": ErrorRule(
        "response_cancel_not_active", "Cancellation failed: no active response found"
    ),
    "response_input_invalid_item_id": ErrorRule(
        "invalid_value",
        "Error creating response: the item with id '{item_id}' referenced in 'response.input' does not exist.",
        "response.input",
        tag="inf",
    ),
    # --- session lifetime and internal failures --------------------------------------------
    "session_expired": ErrorRule(
        "session_expired", "Your session hit the maximum duration of {minutes} minutes.", close_code=1001
    ),
    "server_error": ErrorRule(
        None,
        "The server had an error while processing your request. Sorry about that! Please contact us through our "
        "help center at help.openai.com if the error persists. (include session ID in your message: {session_id}). "
        "We recommend you retry your request.",
        type="server_error",
    ),
}


class RealtimeError(Exception):
    """A client event the live service would reject; becomes one ``error`` event."""

    def __init__(self, rule: str, **fields: Any) -> None:
        self.rule = rule
        self.fields = fields
        super().__init__(self.message)

    @property
    def spec(self) -> ErrorRule:
        return ERRORS[self.rule]

    @property
    def type(self) -> str:
        return self.spec.type

    @property
    def code(self) -> str | None:
        return self.spec.code

    @property
    def message(self) -> str:
        return self.spec.message.format(**self.fields)

    @property
    def param(self) -> str | None:
        template = self.spec.param
        return None if template is None else template.format(**self.fields)

    def body(self, client_event_id: str | None) -> dict[str, Any]:
        """The ``error`` object of the event, in the live key order."""
        return error_body(self.type, self.code, self.message, param=self.param, event_id=client_event_id)


_ABSENT: Any = object()


def error_body(type_: str, code: str | None, message: str, *, param: Any = _ABSENT,
               event_id: Any = _ABSENT) -> dict[str, Any]:
    """An error object in the live key order: ``type``, ``code``, ``message``, then ``param`` and
    ``event_id`` where the carrying event has them.

    An ``error`` event has both; ``conversation.item.input_audio_transcription.failed`` has ``param``
    only; the ``error`` in a failed response's ``status_details`` has neither (leave them out).
    """
    body: dict[str, Any] = {"type": type_, "code": code, "message": message}
    if param is not _ABSENT:
        body["param"] = param
    if event_id is not _ABSENT:
        body["event_id"] = event_id
    return body


def error_event_body(
    type_: str, code: str | None, message: str, param: str | None, client_event_id: str | None
) -> dict[str, Any]:
    """The ``error`` object of an ``error`` event (every key present)."""
    return error_body(type_, code, message, param=param, event_id=client_event_id)


def quote_values(values: "list[Any] | tuple[Any, ...]") -> str:
    """The live enum tail: ``Value must be 'a'.`` / ``Supported values are: 'a' and 'b'.`` / Oxford list."""
    quoted = [f"'{v}'" for v in values]
    if len(quoted) == 1:
        return f"Value must be {quoted[0]}."
    if len(quoted) == 2:
        return f"Supported values are: {quoted[0]} and {quoted[1]}."
    return f"Supported values are: {', '.join(quoted[:-1])}, and {quoted[-1]}."


def masked_key_in_error(key: str) -> str:
    """A rejected API key as the live ``invalid_api_key`` message shows it: the first 8 characters, one star
    per hidden character, the last 4; a key of 12 characters or fewer is all stars (FACTS §8.2).

    This is a wire fact, used only in that message. Everything else the fake shows (journal, admin API,
    recordings, reports) masks secrets with :func:`fake_server.protocol.secrets.redact`, which shows less.
    """
    if len(key) <= 12:
        return "*" * len(key)
    return key[:8] + "*" * (len(key) - 12) + key[-4:]


KEY_SUBPROTOCOL = "openai-insecure-api-key."
"""Browsers cannot set headers: they offer the API key as a subprotocol with this prefix (FACTS §2.2)."""
BETA_HEADER = ("OpenAI-Beta", "realtime=v1")
"""The handshake header that selects the beta dialect (FACTS §1)."""
BETA_SUBPROTOCOL = "openai-beta.realtime-v1"
"""The browser form of :data:`BETA_HEADER`."""


def offers_beta(beta_header: str | None, subprotocols: Sequence[str]) -> bool:
    """Whether a handshake asks for the beta dialect: ``OpenAI-Beta: realtime=v1`` (the header's value is
    ``beta_header``) or the ``openai-beta.realtime-v1`` subprotocol."""
    return BETA_HEADER[1] in (beta_header or "").replace(" ", "").lower() or BETA_SUBPROTOCOL in subprotocols
