"""Speed of the speech module: the VAD hot path and the codec.

    python bench/bench_speech.py [--seconds 2]

Prints VAD ``feed`` calls per second for 20 ms chunks (silence and speech, PCM16 24 kHz and
mu-law), and the seconds ``synthesize`` and ``transcribe`` take for 30 s of audio.
This is a measurement, not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import time
from typing import Any, Callable, Mapping

from fake_server.core.speech import PCM_24K, VoiceActivityDetector, bytes_per_ms, duration_ms, silence, synthesize, transcribe

PCMU = {"type": "audio/pcmu"}


def feeds_per_second(fmt: Mapping[str, Any], chunks: list[bytes], seconds: float) -> float:
    vad = VoiceActivityDetector(fmt)
    calls = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for chunk in chunks:
            vad.feed(chunk)
        calls += len(chunks)
    return calls / (time.perf_counter() - start)


def timed(label: str, fn: Callable[..., Any], *args: Any) -> Any:
    start = time.perf_counter()
    result = fn(*args)
    print(f"{label}: {time.perf_counter() - start:.3f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per VAD measurement")
    args = parser.parse_args()

    for name, fmt in (("pcm16 24k", PCM_24K), ("g711 mu-law", PCMU)):
        step = int(20 * bytes_per_ms(fmt))
        speech = synthesize("a steady stream of speech " * 8, fmt) + silence(400, fmt)
        speech_chunks = [speech[i:i + step] for i in range(0, len(speech) - step + 1, step)]
        quiet_chunks = [silence(20, fmt)] * 100
        print(f"VAD feed, 20 ms {name} chunks: "
              f"{feeds_per_second(fmt, quiet_chunks, args.seconds):,.0f}/s silence, "
              f"{feeds_per_second(fmt, speech_chunks, args.seconds):,.0f}/s speech")

    text = "The quick brown fox jumps over the lazy dog. " * 10  # 450 characters, 30 s at 15/s
    for name, fmt in (("pcm16 24k", PCM_24K), ("g711 mu-law", PCMU)):
        synthesize(text[:5], fmt)  # build the symbol tables outside the measurement
        audio = timed(f"synthesize 30 s {name}", synthesize, text, fmt)
        assert isinstance(audio, bytes)
        print(f"  ({duration_ms(len(audio), fmt) / 1000:.2f} s of audio)")
        heard = timed(f"transcribe {duration_ms(len(audio), fmt) / 1000:.0f} s {name}", transcribe, audio, fmt)
        assert heard == text
    timed("transcribe 30 s pcm16 silence", transcribe, silence(30000))


if __name__ == "__main__":
    main()
