"""How long geows.http.RequestParser takes per request head (issue 21: one parse of every
request, as httpd parses it). Run it on two trees to compare them:

    PYTHONPATH=. .venv/bin/python bench/parse.py
"""

from __future__ import annotations

import argparse
import timeit

from geows.http import RequestParser

HEADS = {
    "RFC 6455 handshake (9 fields)": (
        b"GET /echo?x=1 HTTP/1.1\r\nHost: example.com:8080\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\nOrigin: http://example.com\r\n"
        b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36\r\n"
        b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"),
    "forwarded GET, encoded path (3 fields)": (
        b"GET /%64ocs/a%20b/./c?q=1 HTTP/1.1\r\nHost: public.test\r\nAccept: */*\r\n"
        b"Cookie: session=abc\r\n\r\n"),
    "absolute-form GET (2 fields)": (
        b"GET http://admin.test/adminonly.html HTTP/1.1\r\nHost: public.test\r\n"
        b"Accept: */*\r\n\r\n"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20_000, help="heads per timing")
    parser.add_argument("--repeats", type=int, default=5, help="timings, the best kept")
    args = parser.parse_args()
    for name, head in HEADS.items():
        best = min(timeit.repeat(lambda head=head: RequestParser().feed(head),
                                 number=args.count, repeat=args.repeats))
        print(f"{best / args.count * 1e6:6.1f} us  {name}")


if __name__ == "__main__":
    main()
