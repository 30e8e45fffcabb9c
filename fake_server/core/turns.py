"""The input audio buffer and the timeline the server VAD hears it on.

Offsets (``audio_start_ms``, ``audio_end_ms``) run from the session's first input audio,
across VAD reconfigurations. The buffer holds the audio not yet committed or dropped; where it
starts on the timeline is :attr:`Turns.buffer_start_ms`. A turn the VAD ends takes the audio up
to where the VAD decided (the rest stays buffered for the next turn), so one append holding two
utterances commits what the same audio sent in small chunks commits.

The buffer is never changed in place at its front (a cut makes a new buffer), so
:meth:`Turns.save` is cheap: the buffer object and its length.
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple

from . import speech
from ..protocol.wire import SEMANTIC_VAD_SETTINGS, SEMANTIC_VAD_SILENCE_MS

__all__ = ["Turns", "Detected", "whole_samples"]


def whole_samples(nbytes: int, audio_format: Mapping[str, Any]) -> int:
    """``nbytes`` rounded down to whole samples (PCM16 samples are 2 bytes, G.711 ones 1)."""
    return nbytes - nbytes % 2 if audio_format["type"] == "audio/pcm" else nbytes


class Detected(NamedTuple):
    """A speech start or stop, on the session's timeline (ms, rounded as sent) and where the VAD decided it."""

    kind: str
    at: int
    decided_ms: float


class Turns:
    """The input buffer, the VAD (``None`` with turn detection off) and the turn in progress."""

    def __init__(self, audio_format: dict[str, Any], detection: Mapping[str, Any] | None) -> None:
        self.format = audio_format
        self.buffer = bytearray()
        self.vad: speech.VoiceActivityDetector | None = None
        self.vad_base_ms = 0.0  # audio fed to earlier detectors (offsets run from the session's first audio)
        self.buffer_start_ms = 0.0  # where the buffer starts on that timeline
        self.item_id: str | None = None
        """The id the committed item of the turn in progress will get (minted at its speech start)."""
        self.configure(audio_format, detection)

    def configure(self, audio_format: dict[str, Any], detection: Mapping[str, Any] | None) -> None:
        """New input settings: a new detector, continuing the timeline where the old one stopped."""
        if self.vad is not None:
            self.vad_base_ms += self.vad.position_ms
        self.format = audio_format
        if detection is None:
            self.vad = None
            return
        if detection["type"] == "semantic_vad":
            threshold, padding = SEMANTIC_VAD_SETTINGS["threshold"], SEMANTIC_VAD_SETTINGS["prefix_padding_ms"]
            silence = SEMANTIC_VAD_SILENCE_MS[detection.get("eagerness", "auto")]
        else:
            threshold, padding = detection["threshold"], detection["prefix_padding_ms"]
            silence = detection["silence_duration_ms"]
        self.vad = speech.VoiceActivityDetector(audio_format, threshold=threshold, prefix_padding_ms=padding,
                                                silence_duration_ms=silence)

    @property
    def timeline_ms(self) -> float:
        return self.vad_base_ms + (self.vad.position_ms if self.vad is not None else 0.0)

    @property
    def buffered_ms(self) -> float:
        return speech.duration_ms(len(self.buffer), self.format)

    def append(self, data: bytes) -> list[Detected]:
        """Buffer ``data``; the speech starts and stops the VAD hears in it."""
        self.buffer += data
        vad = self.vad
        if vad is None:
            self.vad_base_ms += speech.duration_ms(len(data), self.format)
            return []
        base = self.vad_base_ms
        return [Detected(found.kind, round(base + found.audio_ms), base + found.decided_ms) for found in vad.feed(data)]

    def _bytes_until(self, at_ms: float) -> int:
        """How many bytes of input lie between the buffer's start and ``at_ms`` (whole samples)."""
        return whole_samples(int((at_ms - self.buffer_start_ms) * speech.bytes_per_ms(self.format)), self.format)

    def _cut(self, count: int) -> bytes:
        """Take ``count`` bytes off the buffer's front (a new buffer holds the rest)."""
        taken = bytes(self.buffer[:count])
        self.buffer = self.buffer[count:]
        self.buffer_start_ms += speech.duration_ms(count, self.format)
        return taken

    def speech_started(self, at: int, item_id: str) -> None:
        """A turn starts at ``at``: the audio before it (and its padding) is not part of the turn."""
        self.item_id = item_id
        drop = self._bytes_until(at)
        if drop > 0:
            self._cut(drop)

    def _turn_bytes(self, decided_ms: float) -> int:
        return min(len(self.buffer), max(0, self._bytes_until(decided_ms)))

    def turn_ms(self, decided_ms: float) -> float:
        """How much audio a turn the VAD ended at ``decided_ms`` holds."""
        return speech.duration_ms(self._turn_bytes(decided_ms), self.format)

    def turn_audio(self, decided_ms: float) -> bytes:
        """The audio of a turn the VAD ended, up to where it decided; the rest stays buffered."""
        self.item_id = None
        return self._cut(self._turn_bytes(decided_ms))

    def take_all(self) -> bytes:
        """A manual commit: the whole buffer."""
        audio = bytes(self.buffer)
        self.clear()
        return audio

    def clear(self) -> None:
        """Empty the buffer; the detector forgets the speech in progress."""
        self.buffer = bytearray()
        self.buffer_start_ms = self.timeline_ms
        if self.vad is not None:
            self.vad.reset()
        self.item_id = None

    def save(self) -> tuple[Any, ...]:
        """Everything appends, turns, commits, clears and reconfigurations change, for :meth:`restore`."""
        vad = self.vad
        return (self.buffer, len(self.buffer), self.format, vad, vad.save() if vad is not None else None,
                self.vad_base_ms, self.buffer_start_ms, self.item_id)

    def restore(self, saved: tuple[Any, ...]) -> None:
        buffer, length, self.format, vad, vad_state, self.vad_base_ms, self.buffer_start_ms, self.item_id = saved
        del buffer[length:]  # only appended to in place since it was saved
        self.buffer, self.vad = buffer, vad
        if vad is not None:
            vad.restore(vad_state)
