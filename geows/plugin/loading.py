"""The loaders' entry point, for the processes that serve: a WebSocketHandler line's
plugin, Python or C (ctypes), found and initialised."""

from __future__ import annotations

from typing import Any

from geows.config import Config, WebSocketSettings
from geows.plugin.c_loader import load_c_plugin
from geows.plugin.python_loader import load_python_plugin


def load_plugin(settings: WebSocketSettings) -> Any:
    """Load the plugin a WebSocketHandler line names."""
    if settings.plugin.endswith(".so"):
        return load_c_plugin(settings)
    return load_python_plugin(settings)


def load_plugins(config: Config) -> dict[WebSocketSettings, Any]:
    """Load the plugin of every WebSocketHandler line (ConfigError on the first failure)."""
    return {section.websocket: load_plugin(section.websocket)
            for section in config.locations if section.websocket is not None}
