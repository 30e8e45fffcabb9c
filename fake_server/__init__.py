"""fake-realtime: a faithful fake of the OpenAI Realtime API (GA, WebSocket)."""

from .connection import Connection
from .handshake import ServerPolicy
from .server import FakeRealtimeServer
from .session import Session, SessionLimits

__version__ = "0.1.0"

__all__ = ["Connection", "FakeRealtimeServer", "ServerPolicy", "Session", "SessionLimits", "__version__"]
