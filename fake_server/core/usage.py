"""The fake's token model: deterministic usage numbers shaped like the live ones.

The rules (documented in docs/responses.md):

* text: one token per 4 characters, rounded up;
* every context item costs 4 text tokens of framing, the instructions and the tools too;
* input audio: 10 tokens a second (1 per 100 ms, rounded up); assistant audio in the
  context and generated audio: 20 tokens a second (1 per 50 ms, rounded up);
* an ``input_image`` part: 85 image tokens;
* cached tokens: the part of this response's context that repeats the start of the
  previous response's context, rounded down to a multiple of 64 (the live service caches
  in 64-token blocks); the first response of a session has none.

So deleting or truncating history lowers the next response's input tokens, as it does live.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from .conversation import Item
from .speech import duration_ms

__all__ = [
    "Segment", "text_tokens", "audio_tokens", "input_audio_tokens", "output_audio_tokens", "item_segment",
    "context_segments", "cached_prefix", "usage_object", "CACHE_BLOCK",
]

CACHE_BLOCK = 64
ITEM_FRAMING = 4
IMAGE_TOKENS = 85


def text_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


INPUT_AUDIO_TOKENS_PER_SECOND = 10
OUTPUT_AUDIO_TOKENS_PER_SECOND = 20


def audio_tokens(ms: float, per_second: int) -> int:
    return math.ceil(ms * per_second / 1000)


def input_audio_tokens(ms: float) -> int:
    """User audio: 10 tokens a second."""
    return audio_tokens(ms, INPUT_AUDIO_TOKENS_PER_SECOND)


def output_audio_tokens(ms: float) -> int:
    """Assistant audio (generated, or in the context): 20 tokens a second."""
    return audio_tokens(ms, OUTPUT_AUDIO_TOKENS_PER_SECOND)


@dataclass(frozen=True)
class Segment:
    """One piece of a response's context: a key that identifies its content, and its token counts."""

    key: Any
    text: int = 0
    audio: int = 0
    image: int = 0

    @property
    def total(self) -> int:
        return self.text + self.audio + self.image


def _item_key(data: dict[str, Any], audio_ms: dict[int, float]) -> Any:
    """What identifies an item's content: equal keys mean an identical context segment."""
    if data["type"] == "message":
        parts = tuple((p["type"], p.get("text"), p.get("transcript"), p.get("image_url")) for p in data["content"])
        return (data["id"], data.get("role"), parts, tuple(sorted(audio_ms.items())))
    if data["type"] in ("function_call", "function_call_output"):
        return (data["id"], data["type"], data.get("name"), data.get("call_id"), data.get("arguments"),
                data.get("output"))
    return json.dumps(data, sort_keys=True)


def _item_segment(data: dict[str, Any], audio_ms: dict[int, float]) -> Segment:
    text = ITEM_FRAMING
    audio = image = 0
    kind = data["type"]
    if kind == "message":
        for index, part in enumerate(data["content"]):
            part_type = part["type"]
            if part_type in ("input_text", "output_text"):
                text += text_tokens(part.get("text") or "")
            elif part_type == "input_image":
                image += IMAGE_TOKENS
            elif part_type == "input_audio":
                audio += input_audio_tokens(audio_ms.get(index, 0.0))
            elif part_type == "output_audio":
                audio += output_audio_tokens(audio_ms.get(index, 0.0))
    elif kind == "function_call":
        text += text_tokens(data.get("name", "") + data.get("arguments", ""))
    elif kind == "function_call_output":
        text += text_tokens(data.get("output", ""))
    else:
        text += text_tokens(json.dumps(data, sort_keys=True))
    return Segment(_item_key(data, audio_ms), text, audio, image)


def item_segment(item: Item, default_format: Mapping[str, Any]) -> Segment:
    """The item's segment, computed once and cached on the item until it changes."""
    if item.segment is None:
        fmt = item.audio_format or default_format
        item.segment = _item_segment(item.data, {i: duration_ms(len(a), fmt) for i, a in item.audio.items()})
    segment: Segment = item.segment
    return segment


def context_segments(
    instructions: str, tools: Sequence[Any], items: Iterable[Item], default_format: Mapping[str, Any]
) -> list[Segment]:
    """The segments of a response's context: instructions and tools first, then each item."""
    head = Segment(("instructions", instructions), ITEM_FRAMING + text_tokens(instructions))
    segments = [head]
    if tools:
        dumped = json.dumps(list(tools), sort_keys=True)
        segments.append(Segment(("tools", dumped), ITEM_FRAMING + text_tokens(dumped)))
    segments.extend(item_segment(item, default_format) for item in items)
    return segments


def cached_prefix(previous: Sequence[Segment] | None, current: Sequence[Segment]) -> Segment:
    """The tokens of ``current`` that repeat the start of ``previous``, in 64-token blocks."""
    if not previous:
        return Segment("cached")
    text = audio = image = 0
    for old, new in zip(previous, current):
        if old.key != new.key:
            break
        text, audio, image = text + new.text, audio + new.audio, image + new.image
    total = (text + audio + image) // CACHE_BLOCK * CACHE_BLOCK
    cached_audio = min(audio, total)
    cached_image = min(image, total - cached_audio)
    return Segment("cached", total - cached_audio - cached_image, cached_audio, cached_image)


def usage_object(context: Sequence[Segment], cached: Segment, output_text: int, output_audio: int) -> dict[str, Any]:
    """``response.usage`` in the live key order (FACTS §5.7)."""
    in_text = sum(s.text for s in context)
    in_audio = sum(s.audio for s in context)
    in_image = sum(s.image for s in context)
    input_tokens = in_text + in_audio + in_image
    output_tokens = output_text + output_audio
    return {
        "total_tokens": input_tokens + output_tokens,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "input_token_details": {
            "text_tokens": in_text,
            "audio_tokens": in_audio,
            "image_tokens": in_image,
            "cached_tokens": cached.total,
            "cached_tokens_details": {"text_tokens": cached.text, "audio_tokens": cached.audio,
                                      "image_tokens": cached.image},
        },
        "output_token_details": {"text_tokens": output_text, "audio_tokens": output_audio},
    }
