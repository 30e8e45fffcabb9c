"""Secrets on the wire: where clients carry API keys, and the one way the fake masks them wherever it shows them.

Every output of the fake (the journal and its handshakes, the admin API, recordings, reports) masks a secret
with :func:`redact`, and finds secrets in headers, subprotocols and query parameters with the functions
below: a stricter policy, or a new place where keys travel, is one change here.

The live ``invalid_api_key`` message masks keys its own way
(:func:`fake_server.protocol.rules.masked_key_in_error`): that is a wire fact, not an output policy, and it
shows more of a short key than :func:`redact` does.
"""

from __future__ import annotations

from .rules import KEY_SUBPROTOCOL, masked_key_in_error

__all__ = ["KNOWN_PREFIXES", "SHORT_SECRET", "is_secret_parameter", "redact", "redact_header", "redact_query",
           "redact_subprotocols"]

KNOWN_PREFIXES = ("ek_", "sk-")
"""Prefixes that say what a secret is (an ephemeral client secret, an API key) and hide nothing of it."""
SHORT_SECRET = 24
"""Secrets shorter than this are masked whole but for a known prefix: keeping 12 characters of a short one
would show most of it."""

_BEARER_HEADERS = ("authorization", "proxy-authorization")
_KEY_HEADERS = ("api-key", "x-api-key", "openai-api-key", "cookie")
_SECRET_PARAMETERS = frozenset({"api_key", "api-key", "key", "token"})


def redact(secret: str) -> str:
    """A secret as every output of the fake shows it.

    At least :data:`SHORT_SECRET` characters: as the live error shows a key (the first 8 characters, stars,
    the last 4). Shorter: stars but for an ``ek_`` / ``sk-`` prefix (``ek_abcdefgh12`` -> ``ek_**********``,
    ``short`` -> ``*****``).
    """
    if len(secret) >= SHORT_SECRET:
        return masked_key_in_error(secret)
    prefix = next((p for p in KNOWN_PREFIXES if secret.startswith(p)), "")
    return prefix + "*" * (len(secret) - len(prefix))


def redact_subprotocols(value: str) -> str:
    """A ``Sec-WebSocket-Protocol`` value with the key of each ``openai-insecure-api-key.<key>`` masked."""
    parts = [part.strip() for part in value.split(",")]
    return ", ".join(
        KEY_SUBPROTOCOL + redact(part[len(KEY_SUBPROTOCOL):]) if part.startswith(KEY_SUBPROTOCOL) else part
        for part in parts
    )


def redact_header(name: str, value: str) -> str:
    """A request header's value with any key in it masked (a bearer token keeps its scheme)."""
    lower = name.lower()
    if lower in _BEARER_HEADERS:
        scheme, space, token = value.strip().partition(" ")
        return f"{scheme} {redact(token.strip())}" if space else redact(value)
    if lower in _KEY_HEADERS:
        return redact(value)
    if lower == "sec-websocket-protocol":
        return redact_subprotocols(value)
    return value


def is_secret_parameter(name: str) -> bool:
    """Whether a query parameter of this name carries a key (``api_key``, ``api-key``, ``key``, ``token``)."""
    return name.lower() in _SECRET_PARAMETERS


def redact_query(query: str) -> str:
    """A query string as sent, with the values of key-carrying parameters masked."""
    def pair(text: str) -> str:
        name, equals, value = text.partition("=")
        return f"{name}={redact(value)}" if equals and is_secret_parameter(name) else text

    return "&".join(pair(text) for text in query.split("&"))
