"""fake-realtime: a faithful fake of the OpenAI Realtime API (GA, WebSocket)."""

from .server import FakeRealtimeServer

__all__ = ["FakeRealtimeServer"]
