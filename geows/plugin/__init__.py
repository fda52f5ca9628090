"""Plugins: the API they are written against and the loader that finds them."""

from __future__ import annotations

from typing import Any

from geows.config import WebSocketSettings
from geows.errors import ConfigError
from geows.plugin.api import BINARY, CLOSE, PING, PONG, TEXT, Plugin, WebSocketServer
from geows.plugin.python_loader import load_python_plugin
from geows.plugin.threads import run_in_thread

__all__ = ["BINARY", "CLOSE", "PING", "PONG", "TEXT", "Plugin", "WebSocketServer", "load_plugin",
           "run_in_thread"]


def load_plugin(settings: WebSocketSettings) -> Any:
    """Load the plugin a WebSocketHandler line names."""
    if settings.plugin.endswith(".so"):
        raise ConfigError(
            f"WebSocketHandler: {settings.plugin} is a C plugin; this version of geows "
            "loads Python plugins only", settings.file, settings.line)
    return load_python_plugin(settings)
