"""Input audio transcription: the events that transcribe one committed audio item, as a stream.

One ``...input_audio_transcription.delta`` per word heard, a second of media time apart, then
``...completed`` with the transcript and its usage (the transcript is written into the item
then); audio the speech codec did not make gives ``...failed`` instead (FACTS §5.5).
"""

from __future__ import annotations

from typing import Callable, Iterator

from . import speech
from ..protocol.ids import IdGenerator
from ..protocol.rules import RealtimeError, error_body
from ..protocol.wire import server_event
from .conversation import Item
from .responses import Step
from .usage import input_audio_tokens, text_tokens

__all__ = ["Transcription"]


class Transcription:
    """The input transcription events of one committed audio item."""

    def __init__(self, item: Item, ids: IdGenerator, hear: Callable[[Item, int], str]) -> None:
        self.item, self.ids, self.hear = item, ids, hear
        self._steps = self._run()

    def next_step(self) -> Step | None:
        return next(self._steps, None)

    def _run(self) -> Iterator[Step]:
        item, ids = self.item, self.ids
        transcript = self.hear(item, 0)
        if transcript == speech.UNRECOGNIZED:  # loud audio the codec did not make: nothing to transcribe
            error = RealtimeError("audio_unintelligible")
            yield Step(0.0, [server_event(ids, "conversation.item.input_audio_transcription.failed", item_id=item.id,
                                          content_index=0, error=error_body(error.type, error.code, error.message,
                                                                            param=None))])
            return
        at = 0.0
        for number, word in enumerate(transcript.split(" ") if transcript else []):
            yield Step(at, [server_event(ids, "conversation.item.input_audio_transcription.delta", item_id=item.id,
                                         content_index=0, delta=word if number == 0 else " " + word,
                                         obfuscation=ids.obfuscation())])
            at += 1.0
        audio = input_audio_tokens(speech.duration_ms(len(item.audio.get(0, b"")), item.audio_format or speech.PCM_24K))
        out = text_tokens(transcript)
        usage = {"type": "tokens", "total_tokens": audio + out, "input_tokens": audio,
                 "input_token_details": {"text_tokens": 0, "audio_tokens": audio}, "output_tokens": out}
        item.data["content"][0]["transcript"] = transcript
        item.segment = None  # the text changed; what was heard did not
        yield Step(at, [server_event(ids, "conversation.item.input_audio_transcription.completed", item_id=item.id,
                                     content_index=0, transcript=transcript, usage=usage)])
