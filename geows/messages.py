"""The message types plugins and protocols share: mod_websocket's values, so that C and
Python plugins agree on them (MESSAGE_TYPE_* in plugins/c/websocket_plugin.h)."""

TEXT = 0x00
BINARY = 0x80
CLOSE = 0xFF
PING = 0x100
PONG = 0x101
