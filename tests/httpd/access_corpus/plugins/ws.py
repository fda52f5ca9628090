"""The plugin every access corpus config serves: it accepts and ignores messages."""

from geows.plugin import Plugin


def ws_init():
    return Plugin(on_message=lambda state, server, type, data: None)
