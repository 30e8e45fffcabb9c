"""Base64 for audio payloads: strict decoding where the interpreter has it, no line breaks."""

from __future__ import annotations

import binascii

__all__ = ["b64decode", "b64encode"]

try:
    binascii.a2b_base64(b"", strict_mode=True)

    def b64decode(text: str) -> bytes:
        """Decode, rejecting characters outside the base64 alphabet (raises ``binascii.Error``)."""
        return binascii.a2b_base64(text, strict_mode=True)

except TypeError:  # Python 3.10 has no strict mode
    import base64

    def b64decode(text: str) -> bytes:
        """Decode, rejecting characters outside the base64 alphabet (raises ``binascii.Error``)."""
        return base64.b64decode(text, validate=True)


def b64encode(data: bytes | bytearray | memoryview) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")
