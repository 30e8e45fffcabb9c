"""The core asks a policy, never the scripting DSL: the default policy, and the script as a policy."""

from __future__ import annotations

from _core import drain, make_session, send

from fake_server import script as s
from fake_server.core.faults import Faults
from fake_server.core.handshake import ServerPolicy
from fake_server.core.policy import DefaultPolicy, Policy
from fake_server.core.responder import ResponseContext
from fake_server.protocol import wire


def _said(policy: Policy) -> str:
    session = make_session(script=policy)
    send(session, {"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"]}})
    send(session, {"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello"}]}})
    send(session, {"type": "response.create"})
    return "".join(e["delta"] for e in drain(session) if e["type"] == "response.output_text.delta")


def test_an_unscripted_session_answers_like_an_empty_script() -> None:
    assert _said(DefaultPolicy()) == _said(s.Script()) == "You said: hello"
    assert make_session().script.faults == Faults()


def test_the_default_policy_intercepts_nothing_and_wants_no_quirk() -> None:
    policy = DefaultPolicy()
    assert policy.intercept(0, {"type": "response.create"}) is None
    assert not policy.wants("text_history_answers_in_text")
    assert policy.pacing is None
    context = ResponseContext(items=[], instructions="", tools=[], tool_choice="auto", output_modalities=["text"])
    assert policy.respond(context) == s.Script().respond(context)


def test_a_server_policy_defaults_to_the_core_policy_and_the_script_exports_the_core_facts() -> None:
    assert isinstance(ServerPolicy().script, DefaultPolicy)
    assert s.Faults is Faults
    assert s.check_close is wire.check_close and s.CLOSE_CODES == wire.CLOSE_CODES
