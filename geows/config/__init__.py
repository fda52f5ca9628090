"""geows' reader of the Apache httpd.conf that mod_websocket users already run."""

from geows.config.model import (
    Config,
    Endpoint,
    Listener,
    LocationSection,
    ProcessSettings,
    WebSocketSettings,
)
from geows.config.reader import load_config

__all__ = ["Config", "Endpoint", "Listener", "LocationSection", "ProcessSettings",
           "WebSocketSettings", "load_config"]
