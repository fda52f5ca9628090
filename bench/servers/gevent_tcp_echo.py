"""The floor gevent sets: a StreamServer on 127.0.0.1:PORT, one greenlet per
connection, echoing bytes as they come (recv size as geows'). Usage:
python gevent_tcp_echo.py PORT"""

from gevent import monkey

monkey.patch_all()

import signal  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402
from gevent.server import StreamServer  # noqa: E402

RECV_SIZE = 65_536


def echo(sock, address):
    try:
        while True:
            data = sock.recv(RECV_SIZE)
            if not data:
                break
            sock.sendall(data)
    except OSError:
        pass
    finally:
        sock.close()


def serve(server, port: int) -> None:
    """Serve until SIGTERM or SIGINT (gevent_websocket_echo.py's server too)."""
    gevent.signal_handler(signal.SIGTERM, server.stop)
    gevent.signal_handler(signal.SIGINT, server.stop)
    print(f"listening on 127.0.0.1:{port}", file=sys.stderr, flush=True)
    server.serve_forever()


def main(port: int) -> None:
    serve(StreamServer(("127.0.0.1", port), echo, backlog=511), port)


if __name__ == "__main__":
    main(int(sys.argv[1]))
