"""fake-realtime: a faithful fake of the OpenAI Realtime API (GA, WebSocket)."""

from .handshake import ServerPolicy
from .server import FakeRealtimeServer
from .session import Session, SessionLimits

__version__ = "0.1.0"

__all__ = ["FakeRealtimeServer", "ServerPolicy", "Session", "SessionLimits", "__version__"]
