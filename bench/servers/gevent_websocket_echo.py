"""A gevent-websocket (0.10, on gevent's pywsgi) echo server on 127.0.0.1:PORT, one
greenlet per connection, the library's defaults otherwise; pywsgi's per-request log is
off, as geows' access log is in the bench. Usage: python gevent_websocket_echo.py PORT"""

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402

from gevent.pywsgi import WSGIServer  # noqa: E402
from gevent_tcp_echo import serve  # noqa: E402  (a sibling script, on sys.path as its directory)
from geventwebsocket.exceptions import WebSocketError  # noqa: E402
from geventwebsocket.handler import WebSocketHandler  # noqa: E402


def echo(environ, start_response):
    ws = environ.get("wsgi.websocket")
    if ws is None:
        start_response("400 Bad Request", [("Content-Type", "text/plain")])
        return [b"WebSocket only\n"]
    try:
        while (message := ws.receive()) is not None:
            ws.send(message)
    except WebSocketError:
        pass  # the client went away: an ordinary end
    return []


def main(port: int) -> None:
    serve(WSGIServer(("127.0.0.1", port), echo, handler_class=WebSocketHandler, log=None,
                     backlog=511), port)


if __name__ == "__main__":
    main(int(sys.argv[1]))
