"""The ``input_audio_buffer.*`` handlers of a session, and the turns server VAD takes from the audio.

A part of :class:`fake_server.core.session.Session` (it inherits these). The buffer and the VAD
timeline are :class:`~fake_server.core.turns.Turns`; this decides what each turn sends: a speech
start (cancelling the response in progress when ``interrupt_response``), a speech stop with the
commit of the turn's audio and, when ``create_response``, a response.
"""

from __future__ import annotations

from ..protocol.wire import MIN_COMMIT_MS, Event
from .conversation import Item
from .handling import SessionParts
from .transcription import Transcription

__all__ = ["InputAudioHandlers"]


class InputAudioHandlers(SessionParts):
    """Input audio: appends, commits, clears, and the turns turn detection finds."""

    def _audio_append(self, event: Event) -> list[Event]:
        data = self._decode_audio(event["audio"], "audio")
        out: list[Event] = []
        for found in self.turns.append(data):
            if found.kind == "speech_started":
                out += self._speech_started(found.at)
            else:
                out += self._speech_stopped(found.at, found.decided_ms)
        return out

    def _speech_started(self, at: int) -> list[Event]:
        item_id = self.ids.new("item")
        self.turns.speech_started(at, item_id)
        out = [self._event("input_audio_buffer.speech_started", audio_start_ms=at, item_id=item_id)]
        detection = self.config["audio"]["input"]["turn_detection"]
        if self._active is not None and detection.get("interrupt_response", True):
            out += self._cancel(self._active, "turn_detected")
        return out

    def _speech_stopped(self, at: int, decided_ms: float) -> list[Event]:
        item_id = self.turns.item_id or self.ids.new("item")
        out = [self._event("input_audio_buffer.speech_stopped", audio_end_ms=at, item_id=item_id)]
        turn_ms = self.turns.turn_ms(decided_ms)
        self._require("turn_long_enough", turn_ms >= MIN_COMMIT_MS, buffered_ms=turn_ms)
        out += self._commit(self.turns.turn_audio(decided_ms), item_id)
        detection = self.config["audio"]["input"]["turn_detection"]
        if self.kind == "realtime" and detection.get("create_response", True) and self._active is None:
            out += self._start_response({})
        return out

    def _commit(self, audio: bytes, item_id: str | None) -> list[Event]:
        """A user audio item of ``audio``: committed, added, and transcribed when transcription is on."""
        item = Item(
            {"id": item_id or self.ids.new("item"), "type": "message", "status": "completed", "role": "user",
             "content": [{"type": "input_audio", "transcript": None}]},
            {0: audio},
            dict(self._input_format),
        )
        committed = self._event("input_audio_buffer.committed", previous_item_id=self.history.last_id,
                                item_id=item.id)
        out = [committed, *self._add(item, None)]
        if self.config["audio"]["input"]["transcription"] is not None:
            self.scheduler.add(Transcription(item, self.ids, self.hear))
        return out

    def _audio_commit(self, event: Event) -> list[Event]:
        buffered_ms = self.turns.buffered_ms
        self._require("buffer_long_enough", buffered_ms >= MIN_COMMIT_MS, buffered_ms=buffered_ms)
        item_id = self.turns.item_id
        return self._commit(self.turns.take_all(), item_id)

    def _audio_clear(self, event: Event) -> list[Event]:
        self.turns.clear()
        return [self._event("input_audio_buffer.cleared")]
