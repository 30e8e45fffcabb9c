"""Identifier generation in the live formats, reproducible from a seed.

Live ids are a prefix plus 21 base62 characters whose first four characters advance
with time and are shared by ids minted close together (FACTS §3). We mimic that: the
first four characters encode the injected clock in seconds, the other 17 come from a
seeded random generator. Nothing here reads the real clock or global randomness.
"""

from __future__ import annotations

import random
from typing import Callable

__all__ = ["IdGenerator", "BASE62"]

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# random bytes to base62 characters in one C call (a slight bias towards the first 8 characters
# is of no matter for ids that only need to look like the live ones)
_BYTE_TO_BASE62 = bytes(ord(BASE62[b % 62]) for b in range(256))
_SUFFIX_LENGTH = 21
_TIME_CHARS = 4


def _time_prefix(seconds: float) -> str:
    value = int(seconds) // 16  # advances about every 16 s, like the observed ids
    chars = []
    for _ in range(_TIME_CHARS):
        value, digit = divmod(value, 62)
        chars.append(BASE62[digit])
    return "".join(reversed(chars))


class IdGenerator:
    """Mints `prefix_` + 21 base62 ids from a seed and an injected clock."""

    __slots__ = ("_rng", "_clock", "_prefix_second", "_prefix")

    def __init__(self, seed: int | str | None = None, clock: Callable[[], float] | None = None) -> None:
        self._rng = random.Random(seed)
        self._clock = clock or (lambda: 0.0)
        self._prefix_second = -1
        self._prefix = ""

    def _chars(self, n: int) -> str:
        return self._rng.randbytes(n).translate(_BYTE_TO_BASE62).decode("ascii")

    def new(self, prefix: str) -> str:
        """An id such as ``item_Ct1OhVepyDFpDovHrgmNp``."""
        second = int(self._clock())
        if second != self._prefix_second:
            self._prefix_second, self._prefix = second, _time_prefix(second)
        return f"{prefix}_{self._prefix}{self._chars(_SUFFIX_LENGTH - _TIME_CHARS)}"

    def call_id(self) -> str:
        """A function call id such as ``call_Xz0z4X8aSYDdkTf2`` (16 characters)."""
        return "call_" + self._chars(16)

    def obfuscation(self) -> str:
        """The random-looking padding string carried by text deltas (11 to 14 characters)."""
        return self._chars(11 + self._rng.randrange(4))
