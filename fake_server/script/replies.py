"""The words of the scripting DSL: when a rule applies (conditions over a
:class:`~fake_server.core.responder.ResponseContext`) and what it answers (reply builders, each a
:class:`~fake_server.core.responder.Reply`). ``fake_server.script`` exports them all (``s.say``, ``s.turn``, ...).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any, Callable, Mapping, Pattern

from ..core.faults import check_count, check_ms
from ..core.responder import ModelOutput, Reply, ResponseContext
from ..protocol.rules import error_body
from ..protocol.wire import RATE_LIMIT_TOKENS, check_close

__all__ = [
    "Condition", "always", "user_says", "turn", "tool_output",
    "say", "speak", "write", "call", "error", "fail", "server_error", "rate_limited", "incomplete", "close",
    "delays", "combine",
]

Condition = Callable[[ResponseContext], bool]
"""When a rule applies: a predicate over the context of one response."""


# ---------------------------------------------------------------------- conditions
def always(context: ResponseContext) -> bool:
    return True


def user_says(pattern: str | Pattern[str]) -> Condition:
    """The response answers a user message (the context ends with one) that contains ``pattern``:
    a case-insensitive substring, or a regex. Audio counts by what the speech codec hears."""
    regex = pattern if isinstance(pattern, re.Pattern) else re.compile(re.escape(pattern), re.IGNORECASE)

    def condition(context: ResponseContext) -> bool:
        last = context.last_item
        if last is None or last["type"] != "message" or last.get("role") != "user":
            return False
        return regex.search(context.user_text) is not None

    return condition


def turn(number: int) -> Condition:
    """The ``number``-th response of the connection (1 for the first)."""
    return lambda context: context.turn == number


def tool_output(name: str | None = None, contains: str | None = None) -> Condition:
    """The context ends with a tool result (of tool ``name``; containing ``contains``)."""

    def condition(context: ResponseContext) -> bool:
        last = context.last_item
        if last is None or last["type"] != "function_call_output":
            return False
        if contains is not None and contains not in last.get("output", ""):
            return False
        if name is None:
            return True
        return any(item["type"] == "function_call" and item.get("call_id") == last.get("call_id")
                   and item.get("name") == name for item in context.items)

    return condition


# ---------------------------------------------------------------------- replies
def say(text: str) -> Reply:
    """A message, spoken or written as the session's ``output_modalities`` say."""
    return Reply(outputs=(ModelOutput("message", text=text),))


def speak(text: str, pcm: bytes | None = None) -> Reply:
    """A spoken message: the speech codec's audio of ``text``, or ``pcm`` (raw audio in the output format)."""
    return Reply(outputs=(ModelOutput("message", text=text, pcm=pcm),), spoken=True)


def write(text: str) -> Reply:
    """A written message, even when audio was requested."""
    return Reply(outputs=(ModelOutput("message", text=text),), spoken=False)


def call(name: str, arguments: Mapping[str, Any] | str | None = None) -> Reply:
    """A function call (``arguments`` as a mapping, or already as a JSON string)."""
    text = arguments if isinstance(arguments, str) else json.dumps(dict(arguments or {}))
    return Reply(outputs=(ModelOutput("function_call", name=name, arguments=text),))


def error(code: str | None, message: str, param: str | None = None, type: str = "invalid_request_error") -> Reply:
    """Answer with an ``error`` event (echoing the client's event_id) and no response."""
    return Reply(error=error_body(type, code, message, param=param))


def fail(code: str | None, message: str, type: str = "server_error") -> Reply:
    """A response that ends ``failed`` with this error in ``status_details``."""
    return Reply(status="failed",
                 status_details={"type": "failed", "error": error_body(type, code, message)})


def server_error() -> Reply:
    """The live service's internal failure (``response.done`` status ``failed``, code null)."""
    return fail(None, "The server had an error while processing your request. Sorry about that! Please contact us "
                "through our help center at help.openai.com if the error persists. We recommend you retry your "
                "request.")


def rate_limited(model: str = "gpt-realtime", retry_after_s: float = 6.946) -> Reply:
    """A response failed on the token rate limit, in the reported live wording."""
    return fail("rate_limit_exceeded",
                f"Rate limit reached for {model} in organization org-fake on tokens per min (TPM): "
                f"Limit {RATE_LIMIT_TOKENS}, Used 39000, Requested 9000. Please try again in {retry_after_s}s.",
                type="tokens")


def incomplete(text: str, reason: str = "content_filter") -> Reply:
    """A message that stops at ``text`` with status ``incomplete`` (reason ``content_filter`` or
    ``max_output_tokens``)."""
    return Reply(outputs=(ModelOutput("message", text=text),), status="incomplete",
                 status_details={"type": "incomplete", "reason": reason})


def close(code: int = 1011, reason: str = "", after_events: int = 0) -> Reply:
    """Close the connection with ``code`` after ``after_events`` events of the response
    (0: instead of the response; alone, or combined with a reply, to close mid-response).

    ``code`` is one a server may send (:data:`CLOSE_CODES`); 1006 drops the connection
    without a close frame, as a network failure would."""
    check_close(code, reason)
    check_count("after_events", after_events, 0, optional=False)
    return Reply(close=(code, reason), close_after=after_events)


def delays(first_delta_ms: float = 0.0, per_delta_ms: float = 0.0) -> Reply:
    """Wait ``first_delta_ms`` before the first delta and ``per_delta_ms`` before each later one,
    whatever the pacing. Alone it delays the default answer; combine it with a reply to delay that."""
    check_ms("first_delta_ms", first_delta_ms)
    check_ms("per_delta_ms", per_delta_ms)
    return Reply(first_delta_delay_ms=float(first_delta_ms), delta_delay_ms=float(per_delta_ms))


def combine(*replies: Reply) -> Reply:
    """One reply doing all of these: outputs in order; the other settings of the last that sets them."""
    merged = Reply()
    for part in replies:
        changes: dict[str, Any] = {"outputs": merged.outputs + part.outputs}
        default = Reply()
        for name in ("error", "status", "status_details", "close", "close_after", "spoken",
                     "first_delta_delay_ms", "delta_delay_ms"):
            value = getattr(part, name)
            if value != getattr(default, name):
                changes[name] = value
        merged = replace(merged, **changes)
    return merged
