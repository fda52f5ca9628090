"""The plugin API: what `from geows.plugin import ...` gives a plugin. Importing it loads
no gevent, ssl, ctypes, websockets or config reader (tests/test_layers.py); the loaders
the server runs are in geows.plugin.loading."""

from geows.errors import ConnectionClosed
from geows.messages import CLUSTER, HOST, LOCAL, Broadcast
from geows.plugin.api import BINARY, CLOSE, PING, PONG, TEXT, Plugin, WebSocketServer
from geows.plugin.threads import run_in_thread

__all__ = ["BINARY", "CLOSE", "CLUSTER", "HOST", "LOCAL", "PING", "PONG", "TEXT", "Broadcast",
           "ConnectionClosed", "Plugin", "WebSocketServer", "run_in_thread"]
