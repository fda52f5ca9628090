"""Every exception geows raises on purpose, rooted in one class.

    GeowsError
    ├── ConfigError        the configuration (or a plugin it names) cannot be used;
    │                      carries FILE:LINE like `httpd -t`
    ├── HttpError          the peer sent a request geows must refuse; carries the
    │                      HTTP status (and headers) to answer with
    ├── RoutedElsewhere    a later request on a forwarded connection goes elsewhere
    └── ConnectionClosed   a plugin sent on a connection that is already closed

Misuse of an API by its caller (a wrong argument type, sending a message type a
protocol cannot carry) raises the ordinary ValueError/TypeError at once.
"""

from __future__ import annotations


class GeowsError(Exception):
    """Base class of geows' own exceptions."""


class ConfigError(GeowsError):
    """A configuration or plugin error, located at FILE:LINE."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line

    def __str__(self) -> str:
        if self.file is None:
            return self.message
        if self.line is None:
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}: {self.message}"


class HttpError(GeowsError):
    """The request cannot be served; answer with `status` and close."""

    def __init__(self, status: int, reason: str, headers: tuple[tuple[str, str], ...] = ()):
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason
        self.headers = headers


class RoutedElsewhere(GeowsError):
    """A later request on a connection forwarded to a ProxyPass backend is for another
    backend, an excluded path or geows' own location: it is not answered there, and the
    connection ends after the earlier ones are; the client asks again on a new one."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ConnectionClosed(GeowsError):
    """The WebSocket connection is closed; nothing more can be sent on it."""
