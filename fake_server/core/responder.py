"""What the fake "model" says: a deterministic function of the response's context.

The default rules (documented in docs/responses.md):

1. Tools: when function tools are available and ``tool_choice`` is not ``"none"``, the
   model calls one when ``tool_choice`` names it, when ``tool_choice`` is ``"required"``,
   or when the last user message mentions a tool by name (``get_weather`` or
   ``get weather``). It never calls a tool right after a tool result. Arguments fill the
   tool's JSON-schema properties with placeholders (enum: first value, string:
   ``"example"``, number: ``0``, boolean: ``false``, array: ``[]``, object: ``{}``).
2. After a tool result: ``"The <name> tool returned: <output>"``.
3. After a user message: ``"You said: <text>"``; audio is heard through the speech codec
   (``fake_server.core.speech``) or its given transcript.
4. Otherwise: ``"Hello! How can I help you today?"``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol, Sequence

__all__ = ["ModelOutput", "Reply", "ResponseContext", "Responder", "DefaultResponder", "GREETING", "reply_of"]

GREETING = "Hello! How can I help you today?"


@dataclass(frozen=True)
class ModelOutput:
    """One output item: a message (``text``) or a function call (``name``, ``arguments``).

    A spoken message uses ``pcm`` as its audio when given (raw audio in the session's output
    format), else the speech codec's rendering of ``text``.
    """

    kind: str  # "message" | "function_call"
    text: str = ""
    name: str = ""
    arguments: str = ""
    pcm: bytes | None = None


@dataclass(frozen=True)
class Reply:
    """Everything one ``response.create`` leads to; built with the helpers in ``fake_server.script``.

    ``error``: answer with this ``error`` event body instead of a response. ``status`` /
    ``status_details``: how the response ends (``failed`` and ``incomplete`` keep the outputs
    given). ``close``: close the connection with ``(code, reason)`` once ``close_after`` of
    the response's events have been sent (0: before ``response.created``). ``spoken``:
    force spoken (True) or written (False) output whatever the modalities say.
    """

    outputs: tuple[ModelOutput, ...] = ()
    error: dict[str, Any] | None = None
    status: str = "completed"
    status_details: dict[str, Any] | None = None
    close: tuple[int, str] | None = None
    close_after: int = 0
    spoken: bool | None = None
    first_delta_delay_ms: float = 0.0
    delta_delay_ms: float = 0.0


@dataclass
class ResponseContext:
    """What the model sees for one response."""

    items: Sequence[dict[str, Any]]
    instructions: str
    tools: Sequence[dict[str, Any]]
    tool_choice: Any
    output_modalities: Sequence[str]
    hear: Callable[[dict[str, Any], int], str] = field(default=lambda item, index: "")
    """Returns what the model hears in the audio part ``index`` of a user item."""
    turn: int = 1
    """This response's number on its connection (1 for the first)."""
    connection: int = 0
    """The connection's index on its server (0 for the first since the last reset)."""
    session_id: str = ""
    in_conversation: bool = True
    client_event: Mapping[str, Any] | None = None
    """The ``response.create`` event that asked for this response (``None`` when turn detection started it)."""

    @property
    def last_item(self) -> dict[str, Any] | None:
        return self.items[-1] if self.items else None

    @property
    def user_text(self) -> str:
        """What the user said last (text, transcript, or what the speech codec heard), or ``""``."""
        for item in reversed(self.items):
            if item["type"] == "message" and item.get("role") == "user":
                return _user_text(item, self.hear)
        return ""


class Responder(Protocol):
    def reply(self, context: ResponseContext) -> list[ModelOutput] | Reply: ...


def reply_of(responder: Responder, context: ResponseContext) -> Reply:
    """The responder's answer as a :class:`Reply` (a bare list of outputs is a plain reply)."""
    produced = responder.reply(context)
    return produced if isinstance(produced, Reply) else Reply(outputs=tuple(produced))


def _placeholder(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return None
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "object":
        return {name: _placeholder(sub) for name, sub in (schema.get("properties") or {}).items()}
    return {"string": "example", "integer": 0, "number": 0, "boolean": False, "array": []}.get(str(kind))


def placeholder_arguments(tool: dict[str, Any]) -> str:
    params = tool.get("parameters") or {}
    value = _placeholder({**params, "type": "object"}) if isinstance(params, dict) else {}
    return json.dumps(value)


def _user_text(item: dict[str, Any], hear: Callable[[dict[str, Any], int], str]) -> str:
    pieces: list[str] = []
    for index, part in enumerate(item.get("content", [])):
        if part["type"] == "input_text":
            pieces.append(part["text"])
        elif part["type"] == "input_audio":
            pieces.append(part.get("transcript") or hear(item, index))
        elif part["type"] == "input_image":
            pieces.append("[an image]")
    return " ".join(p for p in pieces if p)


class DefaultResponder:
    """The rules in this module's docstring."""

    def reply(self, context: ResponseContext) -> list[ModelOutput]:
        items = list(context.items)
        last = items[-1] if items else None
        functions = [t for t in context.tools if t.get("type") == "function" and t.get("name")]
        after_tool = last is not None and last["type"] == "function_call_output"
        if functions and context.tool_choice != "none" and not after_tool:
            tool = self._chosen_tool(functions, context.tool_choice, last, context.hear)
            if tool is not None:
                return [ModelOutput("function_call", name=tool["name"], arguments=placeholder_arguments(tool))]
        if after_tool:
            assert last is not None
            name = next((i.get("name", "") for i in items if i["type"] == "function_call"
                         and i.get("call_id") == last.get("call_id")), "")
            return [ModelOutput("message", text=f"The {name} tool returned: {last.get('output', '')}")]
        for item in reversed(items):
            if item["type"] == "message" and item.get("role") == "user":
                heard = _user_text(item, context.hear)
                return [ModelOutput("message", text=f"You said: {heard}" if heard else GREETING)]
        return [ModelOutput("message", text=GREETING)]

    @staticmethod
    def _chosen_tool(
        functions: list[dict[str, Any]], choice: Any, last: dict[str, Any] | None,
        hear: Callable[[dict[str, Any], int], str],
    ) -> dict[str, Any] | None:
        if isinstance(choice, dict) and choice.get("type") == "function":
            return next((t for t in functions if t["name"] == choice.get("name")), None)
        said = _user_text(last, hear).lower() if last is not None and last.get("role") == "user" else ""
        for tool in functions:
            name = tool["name"].lower()
            if name in said or name.replace("_", " ") in said:
                return tool
        return functions[0] if choice == "required" else None
