"""Broken script files and what the fake must say about each: where the mistake is, and what is expected.

The same table runs through ``script_from_data``, ``PUT /__admin/script`` (400) and
``fake-realtime serve --script`` (exit 2, one line on stderr).
"""

from __future__ import annotations

from typing import Any

import pytest

_SAY = {"say": "x"}

BAD_SCRIPTS: list[Any] = [
    pytest.param({"rules": 5}, "rules: expected a list of rules, got 5", id="rules-not-a-list"),
    pytest.param({"rules": [{"when": {"user_matches": "("}, "reply": _SAY}]},
                 'rules[0].when.user_matches: expected a regular expression, got "("', id="bad-regex"),
    pytest.param({"rules": [{"when": {"turn": "abc"}, "reply": _SAY}]},
                 'rules[0].when.turn: expected a response number (1 or more), got "abc"', id="turn-not-a-number"),
    pytest.param({"rules": [{"when": {"sometimes": True}, "reply": _SAY}]},
                 'rules[0].when: unknown key "sometimes"', id="unknown-condition"),
    pytest.param({"rules": [{"reply": {"delays": {"first_delta_ms": "x"}}}]},
                 'rules[0].reply.delays.first_delta_ms: expected milliseconds, 0 or more, got "x"', id="delay-text"),
    pytest.param({"rules": [{"reply": _SAY, "times": "2"}]},
                 'rules[0].times: expected a count of 1 or more, or null (every time), got "2"', id="times-text"),
    pytest.param({"rules": [{"reply": _SAY, "connection": "0"}]},
                 'rules[0].connection: expected a connection index', id="connection-text"),
    pytest.param({"rules": [{"reply": {"close": {"code": 99999}}}]},
                 "rules[0].reply.close.code: expected a close code a server may send", id="close-code-too-big"),
    pytest.param({"rules": [{"reply": {"close": {"code": 1005}}}]},
                 "rules[0].reply.close.code: expected a close code a server may send", id="close-code-reserved"),
    pytest.param({"rules": [{"reply": {"close": {"reason": "\u00e9" * 100}}}]},
                 "rules[0].reply.close: expected a close reason of at most 123 bytes", id="close-reason-too-long"),
    pytest.param({"rules": [{"reply": {"shout": "x"}}]}, 'rules[0].reply: unknown key "shout"', id="unknown-reply"),
    pytest.param({"rules": [{"reply": 5}]}, "rules[0].reply: expected exactly one of say, speak", id="reply-number"),
    pytest.param({"rules": [{"reply": []}]}, "rules[0].reply: expected a list of at least 1 item", id="empty-reply"),
    pytest.param({"rules": [{"reply": [[_SAY]]}]}, "rules[0].reply[0]: expected exactly one of say", id="nested-list"),
    pytest.param({"rules": [{"reply": {"rate_limited": {"modle": "x"}}}]},
                 'rules[0].reply.rate_limited: unknown key "modle"; allowed: model, retry_after_s', id="rate-limited-key"),
    pytest.param({"rules": [{"reply": _SAY, "tiems": 2}]}, 'rules[0]: unknown key "tiems"', id="unknown-rule-key"),
    pytest.param({"rules": [{"when": {"always": True}}]}, 'rules[0]: missing "reply"', id="no-reply"),
    pytest.param({"rules": [{"reply": {"call": {"arguments": {}}}}]}, 'rules[0].reply.call: missing "name"',
                 id="call-without-name"),
    pytest.param({"rules": [{"reply": [_SAY, {"speak": {"text": "a", "pcm_base64": "not base64!"}}]}]},
                 "rules[0].reply[1].speak.pcm_base64: expected base64", id="pcm-not-base64"),
    pytest.param({"events": [{"event": "session.update", "match": "str", "reply": {"close": {}}}]},
                 'events[0].match: expected a partial client event (an object), got "str"', id="match-text"),
    pytest.param({"events": [{"event": "session.update", "reply": _SAY}]},
                 "events[0].reply: a session.update event can only be answered with error(...) or close(...)",
                 id="say-to-session-update"),
    pytest.param({"events": [{"event": "sesion.update", "reply": {"close": {}}}]},
                 'events[0].event: expected a client event type', id="unknown-event-type"),
    pytest.param({"faults": {"dorp": 0.1}}, 'faults: unknown key "dorp"', id="unknown-fault"),
    pytest.param({"faults": {"drop": "often"}}, 'faults.drop: expected a chance from 0 to 1, got "often"',
                 id="drop-text"),
    pytest.param({"faults": {"close_after_events": [3, 1015, ""]}},
                 "faults.close_after_events[1]: expected a close code a server may send", id="fault-close-code"),
    pytest.param({"pacing": "fast"}, 'pacing: expected a pacing of 0 or more', id="pacing-text"),
    pytest.param({"quirks": ["nope"]}, 'quirks[0]: expected one of "text_history_answers_in_text"',
                 id="unknown-quirk"),
    pytest.param([1, 2], "script: expected an object with rules, events, faults, pacing and/or quirks",
                 id="not-an-object"),
]
