"""The knobs of a session: the live service's limits, and how the fake paces its output."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SessionLimits"]


@dataclass
class SessionLimits:
    """Knobs of a session: the live service's limits, and how the fake paces its output."""

    max_append_bytes: int = 15 * 1024 * 1024
    max_duration_seconds: float = 3600.0
    validate_server_events: bool = False
    pacing: float = 0.0
    """0: stream responses as fast as possible; 1.0: at the speed the audio plays; k: k times slower."""
    audio_chunk_ms: float = 100.0
    """How much output audio one ``response.output_audio.delta`` carries."""
    journal_max_entries: int = 10000
    """Frames kept in each connection's journal (the oldest are dropped past it)."""
