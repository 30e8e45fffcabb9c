"""How the fake hears and speaks: a deterministic text <-> audio codec, G.711 and a server VAD.

Audio formats (GA objects; the beta strings ``"pcm16"``, ``"g711_ulaw"``, ``"g711_alaw"`` are
accepted too):

* ``{"type": "audio/pcm", "rate": 24000}`` -- PCM16 signed little-endian mono (48 bytes/ms);
* ``{"type": "audio/pcmu"}`` -- G.711 mu-law at 8 kHz (8 bytes/ms);
* ``{"type": "audio/pcma"}`` -- G.711 A-law at 8 kHz (8 bytes/ms).

The codec (why the fake's "speech" sounds like fast beeps)
---------------------------------------------------------
An utterance is a run of 5 ms symbols, each a pure tone with peak 12000 (of 32767) and a whole
number of cycles, so the phase is continuous and the audio has no clicks and no silence inside.
Tones are multiples of 200 Hz, all below 4 kHz so they survive 8 kHz G.711::

    preamble   3600 3800 3600 3800 Hz   (20 ms, marks the start and fixes the symbol grid)
    data       each UTF-8 byte as two 4-bit symbols, high nibble first: nibble d -> (2 + d) * 200 Hz
               (400..3400 Hz); after each character, a 200 Hz filler tone until the character's
               time slot (1 / chars_per_second) is used up, so characters are spread evenly
    end        one 3800 Hz symbol, after filler padding the utterance to a multiple of 10 ms

So ``synthesize(text)`` lasts ``len(text) / chars_per_second`` seconds plus 25-30 ms (longer only
when the UTF-8 symbols of the text need more time than that, at very high speeds).

``transcribe`` works on the signal at 8 kHz (PCM at 24 kHz is decimated; the tones are all below
4 kHz). It skips silence in 5 ms blocks, finds each preamble (first at the first loud sample of a
loud stretch, else by scanning it), then reads symbols at that alignment by correlating each 5 ms
window with sine and cosine templates (non-coherent FSK detection), until the end marker, a
window that is no symbol (the utterance was cut) or the end of the data. A loud stretch without a
preamble is heard as :data:`UNRECOGNIZED`.

Loudness
--------
A PCM sample is "loud" for :func:`transcribe` when its magnitude exceeds 800 (-32 dBFS). The VAD
uses ``threshold * 8000`` instead; see :class:`VoiceActivityDetector`.
"""

from __future__ import annotations

import codecs
import math
import operator
import sys
from array import array
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal, Mapping, Union

__all__ = [
    "PCM_24K",
    "UNRECOGNIZED",
    "AudioFormat",
    "VadEvent",
    "VoiceActivityDetector",
    "bytes_per_ms",
    "duration_ms",
    "from_pcm16",
    "silence",
    "synthesize",
    "to_pcm16",
    "transcribe",
]

AudioFormat = Union[Mapping[str, Any], str]
Buffer = Union[bytes, bytearray, memoryview]

PCM_24K: dict[str, Any] = {"type": "audio/pcm", "rate": 24000}
UNRECOGNIZED = "[unrecognized audio]"

_BIG_ENDIAN = sys.byteorder == "big"
_BETA_FORMATS = {"pcm16": ("pcm", 24000), "g711_ulaw": ("pcmu", 8000), "g711_alaw": ("pcma", 8000)}
_GA_G711 = {"audio/pcmu": "pcmu", "audio/pcma": "pcma"}

# --- codec constants -------------------------------------------------------------------------
_SYMBOL_MS = 5
_AMPLITUDE = 12000
_RATE = 8000  # the decoder's working rate
_N = _RATE * _SYMBOL_MS // 1000  # samples per symbol at 8 kHz (40)
_TONE_STEP_HZ = 1000 // _SYMBOL_MS  # 200 Hz: tones are orthogonal over one symbol
_FILL = 16
_PRE_A = 17
_PRE_B = 18  # also the end marker
_TONE_K = tuple([2 + d for d in range(16)] + [1, 18, 19])  # symbol code -> multiple of 200 Hz
_PREAMBLE = (_PRE_A, _PRE_B, _PRE_A, _PRE_B)
_CLASSIFY_ORDER: tuple[int, ...] = (_FILL, *range(16), _PRE_B, _PRE_A)
_MATCH = 0.5  # share of a window's energy a symbol's tone must hold
_LOUD = 800  # transcribe: loud sample magnitude
_E_MIN = _N * 200 * 200  # transcribe: a window quieter than RMS 200 is no symbol
_mul = operator.mul


def _parse(audio_format: AudioFormat) -> tuple[str, int]:
    """``("pcm" | "pcmu" | "pcma", sample rate)`` of a GA format object or a beta format string."""
    if isinstance(audio_format, str):
        try:
            return _BETA_FORMATS[audio_format]
        except KeyError:
            raise ValueError(f"unknown audio format {audio_format!r}") from None
    kind = audio_format.get("type")
    if kind == "audio/pcm":
        rate = audio_format.get("rate")
        if rate is None:
            return "pcm", 24000
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate <= 0 or rate != int(rate):
            raise ValueError(f"bad PCM rate {rate!r}")
        return "pcm", int(rate)
    if kind in _GA_G711:
        return _GA_G711[kind], 8000
    raise ValueError(f"unknown audio format {dict(audio_format)!r}")


def bytes_per_ms(audio_format: AudioFormat) -> float:
    """Bytes per millisecond: 48.0 for 24 kHz PCM16, 8.0 for G.711."""
    kind, rate = _parse(audio_format)
    return rate * 2 / 1000 if kind == "pcm" else rate / 1000


def duration_ms(nbytes: int, audio_format: AudioFormat = PCM_24K) -> float:
    """How long ``nbytes`` of audio in that format last, in milliseconds."""
    return nbytes / bytes_per_ms(audio_format)


def silence(ms: float, audio_format: AudioFormat = PCM_24K) -> bytes:
    """``ms`` of digital silence (a whole number of samples): zeros, mu-law 0xFF, A-law 0xD5."""
    kind, rate = _parse(audio_format)
    samples = max(0, round(ms * rate / 1000))
    if kind == "pcm":
        return bytes(2 * samples)
    return (b"\xff" if kind == "pcmu" else b"\xd5") * samples


# --- G.711 (ITU-T G.711, as in the classic Sun reference implementation) ----------------------

def _ulaw_decode(code: int) -> int:
    u = ~code & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return 0x84 - t if u & 0x80 else t - 0x84


def _ulaw_encode(sample: int) -> int:
    value = sample >> 2  # 14-bit magnitude, as the reference encoder
    if value < 0:
        value, mask = -value, 0x7F
    else:
        mask = 0xFF
    value = min(value, 8159) + 0x21
    seg = value.bit_length() - 6
    if seg >= 8:
        return 0x7F ^ mask
    return ((seg << 4) | ((value >> (seg + 1)) & 0x0F)) ^ mask


def _alaw_decode(code: int) -> int:
    a = code ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    if seg == 0:
        t += 8
    else:
        t = (t + 0x108) << (seg - 1)
    return t if a & 0x80 else -t


def _alaw_encode(sample: int) -> int:
    value = sample >> 3
    if value >= 0:
        mask = 0xD5
    else:
        mask, value = 0x55, -value - 1
    seg = max(0, value.bit_length() - 5)
    if seg >= 8:
        return 0x7F ^ mask
    mantissa = (value >> 1) & 0x0F if seg < 2 else (value >> seg) & 0x0F
    return ((seg << 4) | mantissa) ^ mask


@lru_cache(maxsize=None)
def _g711_decode_table(kind: str) -> tuple[int, ...]:
    """Byte -> PCM16 value."""
    decode = _ulaw_decode if kind == "pcmu" else _alaw_decode
    return tuple(decode(code) for code in range(256))


@lru_cache(maxsize=None)
def _g711_decode_bytes(kind: str) -> tuple[bytes, ...]:
    """Byte -> the little-endian PCM16 bytes of its value."""
    return tuple(v.to_bytes(2, "little", signed=True) for v in _g711_decode_table(kind))


@lru_cache(maxsize=None)
def _g711_encode_table(kind: str) -> bytes:
    """Unsigned 16-bit view of a PCM16 sample -> G.711 byte (65536 entries)."""
    encode = _ulaw_encode if kind == "pcmu" else _alaw_encode
    return bytes(encode(u - 65536 if u >= 32768 else u) for u in range(65536))


def _pcm_array(pcm: Buffer, typecode: str = "h") -> array[int]:
    """The samples of little-endian PCM16 bytes (a trailing odd byte is ignored)."""
    samples = array(typecode)
    view = memoryview(pcm).cast("B")
    samples.frombytes(view[: len(view) - len(view) % 2])
    if _BIG_ENDIAN:
        samples.byteswap()
    return samples


def to_pcm16(data: Buffer, audio_format: AudioFormat) -> bytes:
    """Audio in that format -> PCM16 little-endian at the format's rate (G.711 decoded per ITU)."""
    kind, _ = _parse(audio_format)
    raw = bytes(data)
    if kind == "pcm":
        return raw[: len(raw) - len(raw) % 2]
    return b"".join(map(_g711_decode_bytes(kind).__getitem__, raw))


def from_pcm16(pcm: Buffer, audio_format: AudioFormat) -> bytes:
    """PCM16 little-endian at the format's rate -> that format (G.711 encoded per ITU)."""
    kind, _ = _parse(audio_format)
    if kind == "pcm":
        raw = bytes(pcm)
        return raw[: len(raw) - len(raw) % 2]
    return bytes(map(_g711_encode_table(kind).__getitem__, _pcm_array(pcm, "H")))


# --- synthesis ---------------------------------------------------------------------------------

def _tone_value(code: int, n: int, rate: int) -> int:
    """Sample ``n`` (counted from the symbol's start) of a symbol's tone at ``rate``."""
    return round(_AMPLITUDE * math.sin(2 * math.pi * _TONE_K[code] * _TONE_STEP_HZ * n / rate))


@lru_cache(maxsize=None)
def _symbol_audio(kind: str, rate: int) -> tuple[bytes, ...]:
    """Each symbol's 5 ms of audio in a format whose rate holds a whole number of samples in 5 ms."""
    per_symbol = rate * _SYMBOL_MS // 1000
    waves = []
    for code in range(len(_TONE_K)):
        pcm = b"".join(_tone_value(code, n, rate).to_bytes(2, "little", signed=True) for n in range(per_symbol))
        waves.append(pcm if kind == "pcm" else from_pcm16(pcm, {"type": f"audio/{kind}"}))
    return tuple(waves)


def _symbols(text: str, chars_per_second: float) -> list[int]:
    """The symbol codes of an utterance: preamble, paced characters, padding, end marker."""
    slot = 1000 / chars_per_second / _SYMBOL_MS  # symbols per character
    out = list(_PREAMBLE)
    used = 0
    for index, char in enumerate(text):
        for byte in char.encode("utf-8", "surrogatepass"):
            out += (byte >> 4, byte & 0x0F)
            used += 2
        target = round((index + 1) * slot)
        if used < target:
            out += [_FILL] * (target - used)
            used = target
    if (len(out) + 1) * _SYMBOL_MS % 10:
        out.append(_FILL)
    out.append(_PRE_B)
    return out


def synthesize(text: str, audio_format: AudioFormat = PCM_24K, *, chars_per_second: float = 15.0) -> bytes:
    """Beep-speech in that format that :func:`transcribe` hears back as exactly ``text``.

    Lasts ``len(text) / chars_per_second`` seconds plus 25-30 ms of preamble and end marker
    (see the module docstring), a whole number of 10 ms frames at 8/16/24/48 kHz; no silence
    at either end; peak 12000. ``""`` gives ``b""``.
    """
    if not chars_per_second > 0:
        raise ValueError("chars_per_second must be positive")
    kind, rate = _parse(audio_format)
    if rate < _RATE:
        raise ValueError(f"cannot speak at {rate} Hz (at least 8000 Hz needed)")
    if not text:
        return b""
    codes = _symbols(text, chars_per_second)
    if rate * _SYMBOL_MS % 1000 == 0:
        return b"".join(map(_symbol_audio(kind, rate).__getitem__, codes))
    # A rate without a whole number of samples per symbol (e.g. 22050 Hz): sample the tones at
    # their exact times; the phase stays continuous because every tone has whole cycles per symbol.
    total = len(codes) * _SYMBOL_MS * rate // 1000
    samples = array("h", (
        round(_AMPLITUDE * math.sin(2 * math.pi * _TONE_K[codes[n * 1000 // (_SYMBOL_MS * rate)]]
                                    * _TONE_STEP_HZ * n / rate))
        for n in range(total)))
    if _BIG_ENDIAN:
        samples.byteswap()
    return samples.tobytes()


# --- transcription -----------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _templates() -> tuple[tuple[tuple[float, ...], ...], tuple[tuple[float, ...], ...]]:
    """Sine and cosine of every symbol tone over one 8 kHz symbol window, by symbol code."""
    sines = []
    cosines = []
    for k in _TONE_K:
        phase = [2 * math.pi * k * n / _N for n in range(_N)]
        sines.append(tuple(map(math.sin, phase)))
        cosines.append(tuple(map(math.cos, phase)))
    return tuple(sines), tuple(cosines)


def _samples_8k(data: Buffer, kind: str, rate: int) -> array[int]:
    """The audio as PCM16 samples at 8 kHz (decimated: every symbol tone is below 4 kHz)."""
    if kind != "pcm":
        return array("h", map(_g711_decode_table(kind).__getitem__, bytes(data)))
    if rate < _RATE:
        raise ValueError(f"cannot hear {rate} Hz audio (at least 8000 Hz needed)")
    samples = _pcm_array(data)
    if rate % _RATE == 0:
        return samples[:: rate // _RATE] if rate != _RATE else samples
    count = len(samples) * _RATE // rate
    if count == 0:
        return array("h")
    picks = operator.itemgetter(*[i * rate // _RATE for i in range(count)])(samples)
    return array("h", picks if count > 1 else (picks,))


def _utf8_prefix(data: bytes) -> str:
    """The complete characters at the start of ``data`` (an unfinished last one is dropped)."""
    try:
        return codecs.getincrementaldecoder("utf-8")("surrogatepass").decode(data, final=False)
    except UnicodeDecodeError:
        return codecs.getincrementaldecoder("utf-8")("replace").decode(data, final=False)


class _Decoder:
    """One pass over 8 kHz samples: loud regions, preambles, symbols."""

    def __init__(self, samples: array[int]) -> None:
        self.x = samples
        self.n = len(samples)
        self.sines, self.cosines = _templates()
        blocks = []
        for start in range(0, self.n, _N):
            block = samples[start:start + _N]
            blocks.append(max(block) > _LOUD or min(block) < -_LOUD)
        self.loud_blocks = blocks

    def regions(self) -> list[tuple[int, int]]:
        """Sample ranges of consecutive loud 5 ms blocks."""
        out: list[tuple[int, int]] = []
        start = None
        for index, loud in enumerate(self.loud_blocks):
            if loud and start is None:
                start = index
            elif not loud and start is not None:
                out.append((start * _N, index * _N))
                start = None
        if start is not None:
            out.append((start * _N, self.n))
        return out

    def share(self, window: array[int], code: int, energy: int) -> float:
        """Share of the window's energy in the symbol's tone (1.0 for a clean aligned symbol)."""
        s = sum(map(_mul, window, self.sines[code]))
        c = sum(map(_mul, window, self.cosines[code]))
        return float(s * s + c * c) * 2 / (_N * energy)

    def classify(self, i: int) -> int | None:
        window = self.x[i:i + _N]
        energy = sum(map(_mul, window, window))
        if energy < _E_MIN:
            return None
        for code in _CLASSIFY_ORDER:
            if self.share(window, code, energy) > _MATCH:
                return code
        return None

    def preamble(self, p: int) -> float | None:
        """Score of a preamble at ``p`` if each of its symbols present in the data matches."""
        if p < 0:
            return None
        score = 0.0
        present = 0
        for j, code in enumerate(_PREAMBLE):
            i = p + j * _N
            if i + _N > self.n:
                break
            window = self.x[i:i + _N]
            energy = sum(map(_mul, window, window))
            if energy < _E_MIN:
                return None
            share = self.share(window, code, energy)
            if share < _MATCH:
                return None
            score += share
            present += 1
        return score if present else None

    def best_preamble(self, candidates: range) -> int | None:
        best: tuple[float, int] | None = None
        for p in candidates:
            score = self.preamble(p)
            if score is not None and (best is None or score > best[0]):
                best = (score, p)
        return None if best is None else best[1]

    def find_preamble(self, pos: int, limit: int) -> int | None:
        x = self.x
        first = next((i for i in range(pos, limit) if x[i] > _LOUD or x[i] < -_LOUD), None)
        if first is None:
            return None
        found = self.best_preamble(range(max(0, first - 3), first + 3))
        if found is not None:
            return found
        step = _N // 5
        for p in range(pos, min(limit, self.n - _N + 1), step):
            window = x[p:p + _N]
            energy = sum(map(_mul, window, window))
            if energy >= _E_MIN and self.share(window, _PRE_A, energy) > _MATCH:
                found = self.best_preamble(range(max(0, p - step), p + step + 1))
                if found is not None:
                    return found
        return None

    def decode(self, p: int) -> tuple[str, int, bool]:
        """(text, where to look next, whether the end marker was reached) of the utterance at ``p``."""
        nibbles = bytearray()
        i = p + len(_PREAMBLE) * _N
        while i + _N <= self.n:
            code = self.classify(i)
            if code is None or code == _PRE_A:
                return self.text(nibbles), max(p + 1, i - _N), False
            if code == _PRE_B:
                return self.text(nibbles), i + _N, True
            if code != _FILL:
                nibbles.append(code)
            i += _N
        return self.text(nibbles), self.n, False

    @staticmethod
    def text(nibbles: bytearray) -> str:
        data = bytes((nibbles[j] << 4) | nibbles[j + 1] for j in range(0, len(nibbles) - 1, 2))
        return _utf8_prefix(data)

    def loud_between(self, a: int, b: int) -> bool:
        """Whether a whole loud 5 ms block lies in samples ``[a, b)``."""
        return any(self.loud_blocks[-(-a // _N): b // _N])

    def run(self) -> list[str]:
        pieces: list[str] = []
        for start, end in self.regions():
            pos = start
            truncated = False
            while pos < end:
                p = self.find_preamble(pos, end)
                if p is None:
                    if pos == start or (not truncated and self.loud_between(pos, end)):
                        pieces.append(UNRECOGNIZED)
                    break
                if not truncated and self.loud_between(pos, p):
                    pieces.append(UNRECOGNIZED)
                text, pos, complete = self.decode(p)
                if text:
                    pieces.append(text)
                truncated = not complete
        return pieces


def transcribe(data: Buffer, audio_format: AudioFormat = PCM_24K) -> str:
    """The text of every utterance of :func:`synthesize` in ``data``, in order, joined by a space.

    Utterances may start at any sample and be surrounded by any silence; a cut-off last utterance
    gives the characters decoded so far. ``""`` for silence (or nothing); a loud stretch that holds
    no utterance is heard as :data:`UNRECOGNIZED`.
    """
    kind, rate = _parse(audio_format)
    return " ".join(_Decoder(_samples_8k(data, kind, rate)).run())


# --- voice activity detection ------------------------------------------------------------------

@dataclass(frozen=True)
class VadEvent:
    """``audio_ms`` counts from the first byte fed to the detector (plus its ``start_ms``).

    ``decided_ms`` (on the same clock, not compared) is the end of the frame that decided it: the
    first loud frame for a start, the frame completing the silence for a stop. Audio up to there is
    what the detector had heard when it decided, whatever the chunking.
    """

    kind: Literal["speech_started", "speech_stopped"]
    audio_ms: float
    decided_ms: float = field(default=0.0, compare=False)


class VoiceActivityDetector:
    """The fake's server VAD: incremental, exact, and the same whatever the chunking.

    The audio is cut into 10 ms frames (a remainder waits for the next :meth:`feed`). A frame is
    loud when its peak absolute PCM16 sample (G.711 decoded) exceeds ``threshold * 8000``:
    threshold 0.5 -> peak above 4000 of 32767, 0.1 -> 800, 1.0 -> 8000. Speech starts at the
    first loud frame (``speech_started.audio_ms`` = that frame's start minus
    ``prefix_padding_ms``, clamped at 0) and stops once ``silence_duration_ms`` of consecutive
    quiet frames follow (``speech_stopped.audio_ms`` = the end of the last loud frame). Then it
    can start again.

    ``start_ms`` offsets every reported time (e.g. the ms already fed to a previous detector
    when the input format changes).
    """

    __slots__ = ("_frame", "_bpm", "_start_ms", "_prefix", "_stop_frames", "_peak", "_quiet",
                 "_surely_loud_not", "_pcm", "_fed", "_rem", "_speaking", "_quiet_frames",
                 "_last_loud_end")

    def __init__(self, audio_format: AudioFormat = PCM_24K, *, threshold: float = 0.5,
                 prefix_padding_ms: int = 300, silence_duration_ms: int = 200,
                 start_ms: float = 0.0) -> None:
        kind, rate = _parse(audio_format)
        self._pcm = kind == "pcm"
        self._bpm = bytes_per_ms(audio_format)
        samples_per_frame = max(1, round(rate / 100))
        self._frame = samples_per_frame * (2 if self._pcm else 1)
        frame_ms = self._frame / self._bpm
        self._start_ms = float(start_ms)
        self._prefix = float(prefix_padding_ms)
        self._stop_frames = max(1, math.ceil(silence_duration_ms / frame_ms - 1e-9))
        # |sample| > threshold * 8000  <=>  |sample| > floor(threshold * 8000) for integers.
        self._peak = max(-1, math.floor(threshold * 8000))
        if self._pcm:
            # Classify a frame by the high bytes of its samples first: a high byte fixes a range
            # of 256 sample values, which is either all quiet, all loud, or straddles the peak.
            quiet, not_sure = [], []
            for high in range(256):
                low = (high - 256 if high >= 128 else high) * 256
                top = low + 255
                if not (top > self._peak or low < -self._peak):
                    quiet.append(high)
                if not (low > self._peak or top < -self._peak):
                    not_sure.append(high)
            self._quiet = bytes(quiet)
            self._surely_loud_not = bytes(not_sure)
        else:
            table = _g711_decode_table(kind)
            self._quiet = bytes(code for code in range(256) if abs(table[code]) <= self._peak)
            self._surely_loud_not = self._quiet
        self._fed = 0
        self._rem = b""
        self._speaking = False
        self._quiet_frames = 0
        self._last_loud_end = 0

    @property
    def position_ms(self) -> float:
        """Milliseconds of audio fed so far (plus ``start_ms``)."""
        return self._start_ms + self._fed / self._bpm

    @property
    def in_speech(self) -> bool:
        """Whether speech has started and not stopped."""
        return self._speaking

    def reset(self) -> None:
        """Forget the speech state and any partial frame; the position keeps counting."""
        self._rem = b""
        self._speaking = False
        self._quiet_frames = 0

    def save(self) -> tuple[int, bytes, bool, int, int]:
        """Everything :meth:`feed` and :meth:`reset` change, for :meth:`restore`."""
        return self._fed, self._rem, self._speaking, self._quiet_frames, self._last_loud_end

    def restore(self, saved: tuple[int, bytes, bool, int, int]) -> None:
        """Go back to what :meth:`save` returned (the settings stay as they are)."""
        self._fed, self._rem, self._speaking, self._quiet_frames, self._last_loud_end = saved

    def _ms(self, offset: int) -> float:
        """A stream offset in bytes, in milliseconds on the detector's clock."""
        return self._start_ms + offset / self._bpm

    def _loud_frames(self, buf: bytes, frames: int) -> list[bool] | None:
        """Loudness of each whole frame of ``buf``; None when all are quiet."""
        end = frames * self._frame
        if self._pcm:
            probe, width = buf[1:end:2], self._frame // 2
        else:
            probe, width = (buf if len(buf) == end else buf[:end]), self._frame
        if not probe.translate(None, self._quiet):
            return None
        quiet, not_sure = self._quiet, self._surely_loud_not
        out = []
        for j in range(0, frames * width, width):
            part = probe[j:j + width]
            if not part.translate(None, quiet):
                out.append(False)
            elif part.translate(None, not_sure):
                out.append(True)
            else:
                samples = _pcm_array(buf[2 * j:2 * j + self._frame])
                out.append(max(samples) > self._peak or min(samples) < -self._peak)
        return out

    def feed(self, data: Buffer) -> list[VadEvent]:
        """Take the next audio; the speech starts and stops it completes."""
        chunk = data if type(data) is bytes else bytes(data)
        origin = self._fed - len(self._rem)  # stream offset of buf[0]
        self._fed += len(chunk)
        buf = self._rem + chunk if self._rem else chunk
        frames = len(buf) // self._frame
        if not frames:
            self._rem = buf
            return []
        self._rem = buf[frames * self._frame:]
        loud = self._loud_frames(buf, frames)
        if loud is None:
            if not self._speaking:
                return []
            needed = self._stop_frames - self._quiet_frames  # quiet frames still to come before the stop
            self._quiet_frames += frames
            if self._quiet_frames < self._stop_frames:
                return []
            self._speaking = False
            return [VadEvent("speech_stopped", self._ms(self._last_loud_end), self._ms(origin + needed * self._frame))]
        events: list[VadEvent] = []
        frame = self._frame
        for j, is_loud in enumerate(loud):
            if is_loud:
                if not self._speaking:
                    self._speaking = True
                    at = self._ms(origin + j * frame) - self._prefix
                    events.append(VadEvent("speech_started", max(0.0, at), self._ms(origin + (j + 1) * frame)))
                self._quiet_frames = 0
                self._last_loud_end = origin + (j + 1) * frame
            elif self._speaking:
                self._quiet_frames += 1
                if self._quiet_frames >= self._stop_frames:
                    self._speaking = False
                    events.append(VadEvent("speech_stopped", self._ms(self._last_loud_end),
                                           self._ms(origin + (j + 1) * frame)))
        return events
