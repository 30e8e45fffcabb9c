"""One masking policy for every output of the fake, and the live wording for the live error."""

from __future__ import annotations

import pytest

from fake_server.protocol.rules import RealtimeError, masked_key_in_error
from fake_server.protocol.secrets import (
    KNOWN_PREFIXES,
    SHORT_SECRET,
    is_secret_parameter,
    redact,
    redact_header,
    redact_query,
    redact_subprotocols,
)

LONG = "sk-test-journal-0123456789"  # 26 characters


@pytest.mark.parametrize(("secret", "shown"), [
    (LONG, "sk-test-**************6789"),
    ("ek_" + "a1" * 12, "ek_a1a1a" + "*" * 15 + "a1a1"),
    ("x" * SHORT_SECRET, "xxxxxxxx" + "*" * (SHORT_SECRET - 12) + "xxxx"),
    ("x" * (SHORT_SECRET - 1), "*" * (SHORT_SECRET - 1)),
    ("sk-short123", "sk-********"),
    ("ek_abcdefgh12", "ek_**********"),
    ("sk-test", "sk-****"),
    ("short", "*****"),
    ("abcdefghijklmnopqrs", "*******************"),
    ("", ""),
])
def test_every_output_masks_a_secret_one_way(secret: str, shown: str) -> None:
    assert redact(secret) == shown


@pytest.mark.parametrize("secret", ["sk-test", "sk-short123", "abcdefghijklmnop", LONG, "x" * 40])
def test_outputs_never_show_more_than_the_live_error_but_a_known_prefix(secret: str) -> None:
    shown, live = redact(secret), masked_key_in_error(secret)
    assert len(shown) == len(secret)
    prefix = 3 if secret[:3] in KNOWN_PREFIXES else 0
    assert all(char == "*" or char == live[index] or index < prefix for index, char in enumerate(shown))


@pytest.mark.parametrize(("key", "shown"), [
    ("sk-proj-abcdefghijklmnopAAAA", "sk-proj-****************AAAA"),
    ("abcdefghijklm", "abcdefgh*jklm"),
    ("abcdefghijkl", "************"),
    ("sk-test", "*******"),
])
def test_the_live_invalid_api_key_message_keeps_the_live_mask(key: str, shown: str) -> None:
    assert masked_key_in_error(key) == shown
    message = RealtimeError("invalid_api_key", masked_key=masked_key_in_error(key)).message
    assert message.startswith(f"Incorrect API key provided: {shown}. ")


def test_each_place_a_key_travels_is_masked_with_the_policy() -> None:
    assert redact_header("Authorization", f"Bearer {LONG}") == f"Bearer {redact(LONG)}"
    assert redact_header("proxy-authorization", "sk-test") == "sk-****"
    assert redact_header("X-Api-Key", LONG) == redact(LONG)
    assert redact_header("user-agent", LONG) == LONG
    assert redact_header("Sec-WebSocket-Protocol", f"realtime, openai-insecure-api-key.{LONG}") == \
        f"realtime, openai-insecure-api-key.{redact(LONG)}"
    assert redact_subprotocols("realtime,openai-insecure-api-key.sk-test") == \
        "realtime, openai-insecure-api-key.sk-****"


def test_query_parameters_that_carry_keys_are_masked_and_the_rest_kept_as_sent() -> None:
    assert [name for name in ("api_key", "API-KEY", "key", "Token", "model", "keys", "monkey")
            if is_secret_parameter(name)] == ["api_key", "API-KEY", "key", "Token"]
    assert redact_query(f"model=m&api-key={LONG}&TOKEN=sk-test&flag&key&x=%20") == \
        f"model=m&api-key={redact(LONG)}&TOKEN=sk-****&flag&key&x=%20"
    assert redact_query("") == ""


def test_the_journal_and_recordings_use_the_same_policy() -> None:
    from fake_server.core.journal import Handshake
    from fake_server.scenarios.record import mask, scrub

    for secret in ("sk-test", "sk-short123", LONG, "ek_" + "b2" * 15):
        assert mask(secret) == redact(secret)
        assert scrub({"text": f"use {secret} here"}, [secret]) == {"text": f"use {redact(secret)} here"}
        seen = Handshake.redacted("/v1/realtime", f"api_key={secret}", {"authorization": f"Bearer {secret}"},
                                  [f"openai-insecure-api-key.{secret}"], 0.0)
        assert seen.headers["authorization"] == f"Bearer {redact(secret)}"
        assert seen.query == f"api_key={redact(secret)}"
        assert seen.subprotocols == (f"openai-insecure-api-key.{redact(secret)}",)
