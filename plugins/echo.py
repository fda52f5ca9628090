"""Echo: every message goes back to its sender with the type it came with.

    <Location /echo>
      SetHandler websocket-handler
      WebSocketHandler plugins/echo.py echo_init
    </Location>
"""

from geows.plugin import Plugin


def echo_init() -> Plugin:
    def on_message(state, server, type, data):
        server.send(type, data)

    return Plugin(on_message=on_message)
