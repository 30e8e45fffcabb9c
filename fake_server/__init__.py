"""fake-realtime: a faithful fake of the OpenAI Realtime API (GA, WebSocket).

The package is a layered house (docs/architecture.md): ``protocol`` (facts) <- ``core`` (the
sans-I/O engine) <- ``script``, ``verify``, ``scenarios`` <- ``transport`` <- the faces (this
module, ``cli``, the pytest plugin, ``strategies``).
"""

from . import script
from .core import speech
from .core.handshake import ServerPolicy
from .core.session import Session, SessionLimits
from .transport.connection import Connection
from .transport.server import FakeRealtimeServer

__version__ = "0.1.0"

__all__ = ["Connection", "FakeRealtimeServer", "ServerPolicy", "Session", "SessionLimits", "script", "speech",
           "__version__"]
