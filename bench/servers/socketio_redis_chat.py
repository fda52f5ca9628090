"""python-socketio's chat across hosts, for bench/fleet.py: a Socket.IO server in gevent
mode (its own WSGI server, WebSocket transport through simple-websocket) whose
RedisManager passes every `sio.emit` to the servers of every host; each `msg` event a
client sends is emitted to every client. Several of these processes share ADDRESS:PORT
(SO_REUSEPORT), as geows' workers share their Listen.

Usage: python socketio_redis_chat.py ADDRESS PORT REDIS_URL
"""

from gevent import monkey

monkey.patch_all()  # redis-py's sockets, under gevent

import socket  # noqa: E402 - after monkeypatching
import sys  # noqa: E402

import socketio  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402


def serve(address: str, port: int, redis_url: str) -> None:
    sio = socketio.Server(async_mode="gevent", client_manager=socketio.RedisManager(redis_url),
                          transports=["websocket"])

    @sio.on("msg")
    def msg(sid: str, data: str) -> None:
        sio.emit("msg", data)

    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind((address, port))
    listener.listen(511)
    WSGIServer(listener, socketio.WSGIApp(sio), log=None).serve_forever()


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), sys.argv[3])
