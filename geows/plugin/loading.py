"""The loaders' entry point, for the processes that serve: a WebSocketHandler line's
plugin, Python or C (ctypes), found and initialised."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from geows.config import Config, WebSocketSettings
from geows.plugin.c_loader import load_c_plugin
from geows.plugin.c_runtime import start as start_httpd_runtime
from geows.plugin.modules import load_plugin_modules
from geows.plugin.python_loader import load_python_plugin


def load_plugin(settings: WebSocketSettings, source: bytes | None = None) -> Any:
    """Load the plugin a WebSocketHandler line names; a Python one from `source` when given
    (its file's text as the master read it), else from its file."""
    if settings.c_plugin:
        return load_c_plugin(settings)
    return load_python_plugin(settings, source)


def load_plugins(config: Config, sources: Mapping[str, bytes] | None = None, *,
                 test: bool = False) -> dict[WebSocketSettings, Any]:
    """Load the plugin of every WebSocketHandler line (ConfigError on the first failure);
    `sources`: Python plugins' texts by path (geows.process.assignment.Parsed); `test`: for
    -t, which runs no plugin module's post_config or child_init hook, as `apache2 -t`."""
    sources = sources or {}
    if any(section.websocket is not None and section.websocket.c_plugin
           for section in config.locations):
        start_httpd_runtime(config)  # before any C plugin: they link to it
        load_plugin_modules(config, hooks=not test)  # configured before any init runs
    return {section.websocket: load_plugin(section.websocket,
                                           sources.get(section.websocket.plugin))
            for section in config.locations if section.websocket is not None}
