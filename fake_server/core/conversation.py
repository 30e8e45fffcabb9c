"""The default conversation: ordered items, each with its server-side shape and audio bytes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

__all__ = ["Item", "Conversation", "snapshot", "has_function_call"]


def _copy(value: Any) -> Any:
    if type(value) is dict:
        return {key: _copy(item) for key, item in value.items()}
    if type(value) is list:
        return [_copy(item) for item in value]
    return value  # str, int, float, bool, None: immutable


def snapshot(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of an item for an event: later changes to the item must not reach sent events.

    Items are JSON-shaped (dicts, lists, immutable scalars), so this is a deep copy without
    ``copy.deepcopy``'s bookkeeping.
    """
    result: dict[str, Any] = _copy(data)
    return result


@dataclass
class Item:
    """A conversation item: its server-side shape plus the audio bytes of its parts.

    ``audio`` maps a content index to raw audio in ``audio_format`` (the session's input
    format for user audio, the output format for assistant audio); a bytearray while a
    response is still streaming it.
    """

    data: dict[str, Any]
    audio: dict[int, bytes | bytearray] = field(default_factory=dict)
    audio_format: dict[str, Any] | None = None
    segment: Any = field(default=None, repr=False, compare=False)
    """The item's token segment (fake_server.core.usage), cached until :meth:`changed`."""
    heard: dict[int, str] = field(default_factory=dict, repr=False, compare=False)
    """What the speech codec heard in each audio part, cached until :meth:`changed`."""

    def changed(self) -> None:
        """Call after changing ``data`` or ``audio`` in place: drops what was derived from them."""
        self.segment = None
        self.heard.clear()

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def role(self) -> str | None:
        return self.data.get("role")


def has_function_call(items: Iterable[Item], call_id: str) -> bool:
    """Whether one of ``items`` is a ``function_call`` with this ``call_id``."""
    return any(item.data["type"] == "function_call" and item.data.get("call_id") == call_id for item in items)


class Conversation:
    """Items in order. Ids are not unique (the live service accepts duplicates); lookups find the first."""

    def __init__(self) -> None:
        self.items: list[Item] = []

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def index(self, item_id: str) -> int | None:
        for index, item in enumerate(self.items):
            if item.data["id"] == item_id:
                return index
        return None

    def position(self, item: Item) -> int | None:
        """Where this very item is (searched from the end, where new items are)."""
        for index in range(len(self.items) - 1, -1, -1):
            if self.items[index] is item:
                return index
        return None

    def get(self, item_id: str) -> Item | None:
        index = self.index(item_id)
        return None if index is None else self.items[index]

    @property
    def last_id(self) -> str | None:
        return self.items[-1].id if self.items else None

    def insert(self, item: Item, previous_item_id: str | None = None) -> str | None:
        """Insert after ``previous_item_id`` (``None``: append; ``"root"``: first; any other id must exist,
        :class:`KeyError` if not: the session checks it first).

        Returns the id of the item now before it (``None`` when it is first).
        """
        if previous_item_id is None:
            index = len(self.items)
        elif previous_item_id == "root":
            index = 0
        else:
            found = self.index(previous_item_id)
            if found is None:
                raise KeyError(previous_item_id)
            index = found + 1
        self.items.insert(index, item)
        return self.items[index - 1].id if index > 0 else None

    def remove(self, item_id: str) -> bool:
        index = self.index(item_id)
        if index is None:
            return False
        del self.items[index]
        return True

    def has_function_call(self, call_id: str) -> bool:
        return has_function_call(self.items, call_id)

    def has_assistant_audio(self) -> bool:
        return any(
            item.role == "assistant" and any(part["type"] == "output_audio" for part in item.data["content"])
            for item in self.items
        )

    def snapshot(self) -> list[dict[str, Any]]:
        return [snapshot(item.data) for item in self.items]
