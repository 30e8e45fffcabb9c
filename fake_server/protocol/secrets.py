"""Secrets on the wire: where clients carry API keys, and how the fake masks them wherever it shows them.

A key is shown as the live service shows it in its ``invalid_api_key`` message (first 8,
stars, last 4; short keys all stars): in journals, admin output and error messages.
"""

from __future__ import annotations

import re

from .rules import KEY_SUBPROTOCOL, mask_key

__all__ = ["redact", "redact_header", "redact_query", "redact_subprotocols"]

_BEARER_HEADERS = ("authorization", "proxy-authorization")
_KEY_HEADERS = ("api-key", "x-api-key", "openai-api-key", "cookie")
_KEY_QUERY = re.compile(r"((?:^|&)(?:api[-_]key|key|token)=)([^&]*)", re.IGNORECASE)


def redact(value: str) -> str:
    """An API key as the live error shows it (first 8, stars, last 4); short keys are all stars."""
    return mask_key(value)


def redact_subprotocols(value: str) -> str:
    parts = [part.strip() for part in value.split(",")]
    return ", ".join(
        KEY_SUBPROTOCOL + redact(part[len(KEY_SUBPROTOCOL):]) if part.startswith(KEY_SUBPROTOCOL) else part
        for part in parts
    )


def redact_header(name: str, value: str) -> str:
    lower = name.lower()
    if lower in _BEARER_HEADERS:
        scheme, space, token = value.strip().partition(" ")
        return f"{scheme} {redact(token.strip())}" if space else redact(value)
    if lower in _KEY_HEADERS:
        return redact(value)
    if lower == "sec-websocket-protocol":
        return redact_subprotocols(value)
    return value


def redact_query(query: str) -> str:
    """A query string with the values of key-carrying parameters masked."""
    return _KEY_QUERY.sub(lambda m: m.group(1) + redact(m.group(2)), query)
