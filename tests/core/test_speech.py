"""The speech codec, G.711 and the server VAD of ``fake_server.core.speech``."""

from __future__ import annotations

import math
import random
import sys
from array import array
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fake_server import speech
from fake_server.core.speech import (
    PCM_24K,
    UNRECOGNIZED,
    VadEvent,
    VoiceActivityDetector,
    bytes_per_ms,
    duration_ms,
    from_pcm16,
    silence,
    synthesize,
    to_pcm16,
    transcribe,
)

PCMU = {"type": "audio/pcmu"}
PCMA = {"type": "audio/pcma"}
FORMATS = [PCM_24K, PCMU, PCMA]
FORMAT_IDS = ["pcm", "pcmu", "pcma"]

TEXTS = [
    "hello",
    "Hello, world! How are you today?",
    "  spaces  around  ",
    "naïve café – ¿qué? Grüße, Ærø, 日本語, Привет",
    "emoji 😀👍🏽🇫🇷 and ZWJ 👩‍👩‍👧",
    "\x00\t\n control",
    "".join(random.Random(7).choice("abcdefghijklmnopqrstuvwxyz ,.!?é😀") for _ in range(500)),
]


def pcm_bytes(samples: list[int]) -> bytes:
    data = array("h", samples)
    if sys.byteorder == "big":
        data.byteswap()
    return data.tobytes()


def pcm_samples(data: bytes) -> array[int]:
    samples = array("h")
    samples.frombytes(data)
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def tone(freq: float, ms: float, peak: int, rate: int = 24000) -> bytes:
    return pcm_bytes([round(peak * math.sin(2 * math.pi * freq * n / rate)) for n in range(int(ms * rate / 1000))])


def noise(ms: float, seed: int = 1) -> bytes:
    rnd = random.Random(seed)
    return pcm_bytes([rnd.randint(-20000, 20000) for _ in range(int(ms * 24))])


def feed_in_chunks(vad: VoiceActivityDetector, data: bytes, size: int) -> list[VadEvent]:
    events: list[VadEvent] = []
    for start in range(0, len(data), size):
        events += vad.feed(data[start:start + size])
    return events


# --- formats and conversions -------------------------------------------------------------------

def test_bytes_per_ms_and_duration() -> None:
    assert bytes_per_ms(PCM_24K) == 48
    assert bytes_per_ms(PCMU) == bytes_per_ms(PCMA) == 8
    assert bytes_per_ms({"type": "audio/pcm", "rate": 16000}) == 32
    assert bytes_per_ms({"type": "audio/pcm"}) == 48
    assert bytes_per_ms("pcm16") == 48 and bytes_per_ms("g711_ulaw") == bytes_per_ms("g711_alaw") == 8
    assert duration_ms(29600, PCMU) == 3700
    assert duration_ms(4800, PCM_24K) == 100
    with pytest.raises(ValueError):
        bytes_per_ms({"type": "audio/opus"})


@pytest.mark.parametrize("fmt,byte", [(PCMU, 0xFF), (PCMA, 0xD5)], ids=["pcmu", "pcma"])
def test_silence_bytes(fmt: dict[str, Any], byte: int) -> None:
    assert silence(10, fmt) == bytes([byte]) * 80
    assert silence(10) == bytes(480)
    assert silence(0, fmt) == b""


def test_g711_reference_points() -> None:
    assert pcm_samples(to_pcm16(bytes([0x00, 0x80, 0xFF, 0x7F]), PCMU)).tolist() == [-32124, 32124, 0, 0]
    assert pcm_samples(to_pcm16(bytes([0xD5, 0x55, 0xAA, 0x2A]), PCMA)).tolist() == [8, -8, 32256, -32256]
    assert from_pcm16(pcm_bytes([0, 32767, -32768]), PCMU) == bytes([0xFF, 0x80, 0x00])
    assert from_pcm16(pcm_bytes([0, 32767, -32768]), PCMA) == bytes([0xD5, 0xAA, 0x2A])


@pytest.mark.parametrize("fmt", [PCMU, PCMA], ids=["pcmu", "pcma"])
def test_g711_round_trip_within_quantisation(fmt: dict[str, Any]) -> None:
    values = list(range(-32768, 32768, 7)) + [32767]
    back = pcm_samples(to_pcm16(from_pcm16(pcm_bytes(values), fmt), fmt))
    assert len(back) == len(values)
    for x, y in zip(values, back):
        assert abs(x - y) <= abs(x) / 16 + 16, (x, y)
    # Decoded values are fixed points of the round trip (mu-law's "negative zero" 0x7F aside).
    codes = bytes(c for c in range(256) if not (fmt is PCMU and c == 0x7F))
    assert from_pcm16(to_pcm16(codes, fmt), fmt) == codes


def test_pcm_conversions_are_identity() -> None:
    data = noise(10)
    assert to_pcm16(data, PCM_24K) == data == from_pcm16(data, PCM_24K)
    assert to_pcm16(data + b"\x01", PCM_24K) == data
    assert to_pcm16(memoryview(data), PCM_24K) == data


# --- synthesize / transcribe -------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS, ids=FORMAT_IDS)
@pytest.mark.parametrize("text", TEXTS, ids=[f"text{i}" for i in range(len(TEXTS))])
def test_round_trip(fmt: dict[str, Any], text: str) -> None:
    audio = synthesize(text, fmt)
    assert transcribe(audio, fmt) == text
    assert transcribe(silence(333.3, fmt) + audio + silence(1234, fmt), fmt) == text


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000])
def test_round_trip_other_pcm_rates(rate: int) -> None:
    fmt = {"type": "audio/pcm", "rate": rate}
    text = "rate ok ✓"
    assert transcribe(silence(17, fmt) + synthesize(text, fmt) + silence(5, fmt), fmt) == text


@pytest.mark.parametrize("fmt", [PCMU, PCMA], ids=["pcmu", "pcma"])
def test_g711_channel_round_trip(fmt: dict[str, Any]) -> None:
    # Speak as 8 kHz PCM, carry it over G.711, hear it back; and re-encode G.711 audio.
    text = "over the phone line 📞"
    pcm8 = synthesize(text, {"type": "audio/pcm", "rate": 8000})
    assert transcribe(from_pcm16(pcm8, fmt), fmt) == text
    audio = synthesize(text, fmt)
    assert transcribe(from_pcm16(to_pcm16(audio, fmt), fmt), fmt) == text
    assert transcribe(to_pcm16(audio, fmt), {"type": "audio/pcm", "rate": 8000}) == text


@settings(derandomize=True, deadline=None, max_examples=60)
@given(
    text=st.text(max_size=60),
    fmt_index=st.integers(0, 2),
    lead=st.integers(0, 4000),
    trail=st.integers(0, 4000),
    cuts=st.lists(st.integers(0, 10**6), max_size=12),
)
def test_round_trip_property(text: str, fmt_index: int, lead: int, trail: int, cuts: list[int]) -> None:
    fmt = FORMATS[fmt_index]
    sample = 2 if fmt_index == 0 else 1
    silent = silence(1, fmt)[:sample]
    audio = silent * lead + synthesize(text, fmt) + silent * trail
    bounds = sorted({c % (len(audio) + 1) for c in cuts} | {0, len(audio)})
    chunks = [audio[a:b] for a, b in zip(bounds, bounds[1:])]
    assert transcribe(b"".join(chunks), fmt) == text


@pytest.mark.parametrize("fmt", FORMATS, ids=FORMAT_IDS)
def test_every_start_offset(fmt: dict[str, Any]) -> None:
    sample = 2 if fmt is PCM_24K else 1
    utterance = synthesize("offset", fmt)
    for lead in range(0, 130):
        audio = silence(1, fmt)[:sample] * lead + utterance
        assert transcribe(audio, fmt) == "offset", lead


def test_two_utterances_joined_by_a_space() -> None:
    a, b = synthesize("a"), synthesize("b")
    assert transcribe(a + silence(300) + b) == "a b"
    assert transcribe(a + b) == "a b"  # back to back
    assert transcribe(a + silence(0.05) + b) == "a b"  # one sample apart
    assert transcribe(silence(10) + synthesize("one two") + silence(700) + synthesize("three.")) == "one two three."


def test_silence_and_nothing() -> None:
    for fmt in FORMATS:
        assert transcribe(silence(2000, fmt), fmt) == ""
        assert transcribe(b"", fmt) == ""
    assert synthesize("") == b""
    assert transcribe(tone(440, 500, 300)) == ""  # too quiet to count as audio


def test_unrecognized() -> None:
    assert transcribe(noise(500)) == UNRECOGNIZED
    assert transcribe(tone(440, 500, 12000)) == UNRECOGNIZED
    assert transcribe(silence(100) + tone(440, 300, 12000) + silence(100)) == UNRECOGNIZED
    assert transcribe(from_pcm16(tone(440, 500, 12000, 8000), PCMU), PCMU) == UNRECOGNIZED


def test_unrecognized_mixed_with_speech() -> None:
    hi, yo = synthesize("hi"), synthesize("yo")
    assert transcribe(hi + silence(200) + noise(300) + silence(200) + yo) == f"hi {UNRECOGNIZED} yo"
    assert transcribe(tone(440, 200, 12000) + hi) == f"{UNRECOGNIZED} hi"  # no gap
    assert transcribe(hi + noise(100)) == f"hi {UNRECOGNIZED}"


def test_cut_utterance_gives_a_prefix() -> None:
    text = "the quick brown fox jumps over the lazy dog"
    audio = synthesize(text)
    half = transcribe(audio[: len(audio) // 2])
    assert text.startswith(half) and 0 < len(half) < len(text)
    assert abs(len(half) - len(text) / 2) <= 3  # characters are spread evenly over time
    for cut in range(1, len(audio), 997):
        assert text.startswith(transcribe(audio[:cut]))
    # A cut utterance followed at once by another one.
    assert transcribe(audio[: len(audio) // 2] + synthesize("next")).endswith(" next")
    emoji = "😀😀😀😀"
    cut_emoji = transcribe(synthesize(emoji)[: len(synthesize(emoji)) // 2])
    assert emoji.startswith(cut_emoji)


@pytest.mark.parametrize("length", [1, 2, 5, 20, 100, 500])
@pytest.mark.parametrize("cps", [15.0, 10.0, 25.0])
def test_duration_matches_the_text(length: int, cps: float) -> None:
    text = ("word " * length)[:length]
    ms = duration_ms(len(synthesize(text, chars_per_second=cps)))
    spoken = length / cps * 1000
    assert spoken * 0.8 <= ms <= spoken * 1.2 + 60


def test_duration_of_wide_characters() -> None:
    text = "😀" * 30
    ms = duration_ms(len(synthesize(text)))
    assert 2000 * 0.8 <= ms <= 2000 * 1.2 + 60


@pytest.mark.parametrize("fmt", FORMATS, ids=FORMAT_IDS)
def test_synthesized_audio_shape(fmt: dict[str, Any]) -> None:
    audio = synthesize("shape of the audio", fmt)
    ms = duration_ms(len(audio), fmt)
    assert ms == int(ms) and int(ms) % 10 == 0  # whole 10 ms frames
    pcm = pcm_samples(to_pcm16(audio, fmt))
    assert 11000 <= max(map(abs, pcm)) <= 12500
    frame = int(bytes_per_ms(fmt) * 10)
    for piece in (audio[:frame], audio[-frame:]):  # no silence at either end
        assert VoiceActivityDetector(fmt, threshold=1.0, silence_duration_ms=0).feed(piece)


def test_beta_format_strings() -> None:
    for name in ("pcm16", "g711_ulaw", "g711_alaw"):
        assert transcribe(synthesize("beta", name), name) == "beta"


# --- VAD ---------------------------------------------------------------------------------------

def vad_stream(fmt: dict[str, Any] = PCM_24K) -> tuple[bytes, float]:
    utterance = synthesize("hello there", fmt)
    return silence(500, fmt) + utterance + silence(600, fmt), duration_ms(len(utterance), fmt)


def test_vad_exact_events() -> None:
    stream, utterance_ms = vad_stream()
    vad = VoiceActivityDetector(prefix_padding_ms=300, silence_duration_ms=200)
    events = vad.feed(stream)
    end = math.ceil((500 + utterance_ms) / 10) * 10
    assert events == [VadEvent("speech_started", 200.0), VadEvent("speech_stopped", end)]
    assert vad.position_ms == 500 + utterance_ms + 600
    assert not vad.in_speech


@pytest.mark.parametrize("size", [1, 7, 480, 4800, None])
def test_vad_chunking_does_not_matter(size: int | None) -> None:
    stream, utterance_ms = vad_stream()
    vad = VoiceActivityDetector()
    events = feed_in_chunks(vad, stream, size or len(stream))
    assert events == VoiceActivityDetector().feed(stream)
    assert [e.kind for e in events] == ["speech_started", "speech_stopped"]
    assert vad.position_ms == 500 + utterance_ms + 600


def test_vad_stop_needs_the_full_silence() -> None:
    utterance = synthesize("x")
    vad = VoiceActivityDetector(silence_duration_ms=200)
    assert [e.kind for e in vad.feed(utterance + silence(190))] == ["speech_started"]
    assert vad.in_speech
    assert vad.feed(silence(10)) == [VadEvent("speech_stopped", duration_ms(len(utterance)))]


def test_vad_short_gap_does_not_stop_speech() -> None:
    audio = synthesize("one") + silence(150) + synthesize("two") + silence(300)
    events = VoiceActivityDetector(silence_duration_ms=200).feed(audio)
    assert [e.kind for e in events] == ["speech_started", "speech_stopped"]


def test_vad_second_utterance() -> None:
    first, second = synthesize("first"), synthesize("second one")
    f_ms, s_ms = duration_ms(len(first)), duration_ms(len(second))
    stream = silence(1000) + first + silence(800) + second + silence(400)
    events = feed_in_chunks(VoiceActivityDetector(), stream, 960)
    second_start = 1000 + f_ms + 800
    assert events == [
        VadEvent("speech_started", 700.0),
        VadEvent("speech_stopped", 1000 + f_ms),
        VadEvent("speech_started", second_start - 300),
        VadEvent("speech_stopped", second_start + s_ms),
    ]


def test_vad_prefix_padding_clamped_at_zero() -> None:
    events = VoiceActivityDetector(prefix_padding_ms=300).feed(silence(100) + synthesize("x") + silence(300))
    assert events[0] == VadEvent("speech_started", 0.0)


def test_vad_threshold() -> None:
    quiet = silence(200) + tone(300, 500, 2000) + silence(400)
    for threshold, heard in [(0.1, True), (0.2, True), (0.25, False), (0.5, False), (0.99, False)]:
        events = VoiceActivityDetector(threshold=threshold).feed(quiet)
        assert bool(events) is heard, threshold
    events = VoiceActivityDetector(threshold=0.1).feed(quiet)
    assert events == [VadEvent("speech_started", 0.0), VadEvent("speech_stopped", 700.0)]
    loud = silence(200) + synthesize("loud") + silence(400)
    assert VoiceActivityDetector(threshold=0.99).feed(loud)


def test_vad_threshold_is_exact_on_the_sample_peak() -> None:
    # threshold 0.5 -> a frame is loud when a sample's magnitude exceeds 4000.
    for peak, heard in [(4000, False), (4001, True), (-4000, False), (-4001, True)]:
        frame = [0] * 240
        frame[123] = peak
        events = VoiceActivityDetector(threshold=0.5).feed(pcm_bytes(frame))
        assert bool(events) is heard, peak
    for peak, heard in [(4000, False), (4001, True), (-4001, True), (3999, False)]:
        events = VoiceActivityDetector(threshold=0.5).feed(pcm_bytes([peak] * 240))
        assert bool(events) is heard, peak


@pytest.mark.parametrize("fmt", [PCMU, PCMA], ids=["pcmu", "pcma"])
def test_vad_g711(fmt: dict[str, Any]) -> None:
    stream, utterance_ms = vad_stream(fmt)
    vad = VoiceActivityDetector(fmt)
    events = feed_in_chunks(vad, stream, 160)
    assert events == [VadEvent("speech_started", 200.0), VadEvent("speech_stopped", 500 + utterance_ms)]
    assert vad.position_ms == 500 + utterance_ms + 600
    quiet = from_pcm16(silence(100, {"type": "audio/pcm", "rate": 8000}) + tone(300, 300, 2000, 8000), fmt)
    assert VoiceActivityDetector(fmt, threshold=0.1).feed(quiet)
    assert not VoiceActivityDetector(fmt, threshold=0.5).feed(quiet)


@pytest.mark.parametrize("fmt", FORMATS, ids=FORMAT_IDS)
def test_silence_is_silent(fmt: dict[str, Any]) -> None:
    vad = VoiceActivityDetector(fmt, threshold=0.01)  # peak 80 (A-law silence decodes to 8)
    assert vad.feed(silence(3000, fmt)) == []
    assert vad.position_ms == 3000
    assert transcribe(silence(3000, fmt), fmt) == ""


def test_vad_reset_keeps_the_position() -> None:
    vad = VoiceActivityDetector()
    assert [e.kind for e in vad.feed(silence(500) + synthesize("abc"))] == ["speech_started"]
    vad.feed(b"\x00" * 101)  # a partial frame, dropped by the reset
    vad.reset()
    assert not vad.in_speech
    position = vad.position_ms
    events = vad.feed(synthesize("again") + silence(300))
    assert events[0] == VadEvent("speech_started", position - 300)
    assert events[1].kind == "speech_stopped"


def test_vad_start_ms_offsets_events() -> None:
    stream, utterance_ms = vad_stream()
    vad = VoiceActivityDetector(start_ms=1000.0)
    assert vad.position_ms == 1000.0
    assert vad.feed(stream) == [VadEvent("speech_started", 1200.0),
                                VadEvent("speech_stopped", 1500 + utterance_ms)]


def test_vad_accepts_memoryview_and_bytearray() -> None:
    stream, _ = vad_stream()
    expected = VoiceActivityDetector().feed(stream)
    assert VoiceActivityDetector().feed(memoryview(stream)) == expected
    assert VoiceActivityDetector().feed(bytearray(stream)) == expected


def test_module_exports() -> None:
    for name in speech.__all__:
        assert hasattr(speech, name)


@pytest.mark.parametrize("size", [1, 7, 480, 4800, 10**7])
def test_the_vad_says_where_it_decided_whatever_the_chunking(size: int) -> None:
    utterance = synthesize("decide")
    stream = silence(500) + utterance + silence(400)
    events = feed_in_chunks(VoiceActivityDetector(silence_duration_ms=200), stream, size)
    started, stopped = events
    frame_ms = 10.0
    assert started.decided_ms == 500 + frame_ms  # the end of the first loud frame
    assert stopped.decided_ms == stopped.audio_ms + 200  # the end of the silence that ends the turn
    assert [e.decided_ms for e in VoiceActivityDetector(silence_duration_ms=200).feed(stream)] == [
        e.decided_ms for e in events]


def test_a_vad_saved_and_restored_hears_the_same() -> None:
    stream = synthesize("one") + silence(300) + synthesize("two") + silence(300)
    vad = VoiceActivityDetector()
    first = vad.feed(stream[:20000])
    saved = vad.save()
    rest = vad.feed(stream[20000:])
    vad.restore(saved)
    assert vad.feed(stream[20000:]) == rest
    assert first + rest == VoiceActivityDetector().feed(stream)
