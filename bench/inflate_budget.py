#!/usr/bin/env python3
"""Issue 21's bloat (item 4): what idle clients pinning compressed fragments make one geows
worker hold, with WebSocketMessageMemory and without, and what the budget costs.

    .venv/bin/python bench/inflate_budget.py [--before /path/to/other/checkout] [--quick]

1. Bloat. For each row a fresh geows (plugins/echo.py on /echo, one worker) takes
   --clients raw-socket clients, one after the other, each sending the first fragment of a
   binary message: 30 MiB of zeros compressed to 30 KiB (RFC 7692, a 4 KiB window), then a
   ping, and idling. Per row: the bytes they sent, the worker's VmHWM and VmRSS growth
   (/proc/PID/status) from before the first to after the last, how many were closed with
   1013, the time from a client's send to the oldest one's close frame (eviction) and to
   its own pong (its fragment inflated and held), and a legitimate `websockets` client's
   30 MiB compressed text message echoed whole while the pinners hold what they hold.
   Rows: the default WebSocketMessageMemory (64 MiB), no cap (WebSocketMessageMemory 1 TiB),
   and with --before, that checkout's geows as it is.
2. The ordinary path. Sans-I/O, per message through RFC6455 with permessage-deflate:
   32-byte compressed text messages, and plain messages in 4 fragments, this tree against
   --before's (if given), alternating, --rounds each; microseconds per message, the median
   and the least (the least is the steadier figure on a shared machine).

Talks to 127.0.0.1 only; every process started here is stopped here. Prints Markdown.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))

from tests.geows_process import ECHO_CONFIG, GeowsProcess  # noqa: E402 - after the path
from tests.protocols.test_message_memory import deflated_zeros  # noqa: E402
from tests.protocols.test_rfc6455 import frame  # noqa: E402
from tests.test_message_memory_server import (  # noqa: E402
    PING,
    PONG,
    RawClient,
    legit_echo,
    memory_kib,
)

MIB = 1 << 20
ROWS = {  # name: (config lines, whether a cap of two pinners holds)
    "WebSocketMessageMemory 64 MiB (default)": ("", True),
    "no cap (WebSocketMessageMemory 1 TiB)": ("WebSocketMessageMemory 1099511627776\n", False),
}

# Run in a subprocess inside a checkout: microseconds per message through its RFC6455.
PATH_COST = r'''
import sys, time, zlib
from geows.http import RequestParser
from geows.protocols import select_protocol
try:
    from geows.protocols.memory import MessageMemory
    memory = {"memory": MessageMemory(64 << 20)}
except ImportError:  # a tree without the budget
    memory = {}
HEAD = (b"GET /echo HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n")
def masked(first, payload):  # a zero mask: the payload as it is
    return bytes([first, 0x80 | len(payload)]) + b"\0\0\0\0" + payload
kind, count = sys.argv[1], int(sys.argv[2])
encoder = zlib.compressobj(wbits=-12)
frames = []
for n in range(count):
    text = b"message %08d, 32 bytes of text" % n
    if kind == "compressed":
        body = encoder.compress(text) + encoder.flush(zlib.Z_SYNC_FLUSH)
        frames.append(masked(0xC1, body[:-4]))
    else:
        frames.append(masked(0x01, text[:8]) + masked(0x00, text[8:16])
                      + masked(0x00, text[16:24]) + masked(0x80, text[24:]))
data = b"".join(frames)
protocol = select_protocol(RequestParser().feed(HEAD), **memory)
protocol.accept(None)
protocol.data_to_send()
start = time.perf_counter()
for pos in range(0, len(data), 65536):
    protocol.receive_data(data[pos:pos + 65536])
    got = protocol.events_received()
elapsed = time.perf_counter() - start
assert got and got[-1].data.startswith("message %08d" % (count - 1)), got[-1:]
print(elapsed / count * 1e6)
'''


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def bloat_row(name: str, config: str, capped: bool, root: Path, clients: int) -> dict:
    # Workers start with -P (not importing from their working directory): PYTHONPATH says
    # which checkout's geows they run.
    os.environ["PYTHONPATH"] = str(root)
    geows = GeowsProcess(ECHO_CONFIG + config, server_root=root)
    try:
        [worker] = geows.wait_for_workers(1)
        legit_echo(geows.port, MIB)   # warmed up: the growth is the pinners'
        before = memory_kib(worker)
        fragment = frame(2, deflated_zeros(30 * MIB), fin=False, rsv=4)
        pinners: list[RawClient] = []
        open_pinners: list[RawClient] = []
        evictions, held = [], []
        for _ in range(clients):
            start = time.perf_counter()
            client = RawClient(geows.port)
            client.send(fragment + frame(PING, b"p"))
            if len(open_pinners) >= 2 and capped:
                # The default cap holds two: the oldest open one is closed as this one grows.
                assert open_pinners.pop(0).close_code() == 1013
                evictions.append(time.perf_counter() - start)
            assert client.next_frame() == (PONG, b"p")
            held.append(time.perf_counter() - start)
            pinners.append(client)
            open_pinners.append(client)
        after = memory_kib(worker)
        start = time.perf_counter()
        legit_echo(geows.port, 30 * MIB)
        legit = time.perf_counter() - start
        closed = sum("closed with 1013" in line for line in geows.error_log.splitlines())
        for client in pinners:
            client.sock.close()
    finally:
        geows.stop()
    return {"row": name, "sent_kib": clients * len(fragment) / 1024,
            "hwm_growth_mib": (after["VmHWM"] - before["VmHWM"]) / 1024,
            "rss_growth_mib": (after["VmRSS"] - before["VmRSS"]) / 1024,
            "closed_1013": closed,
            "evict_ms": [round(s * 1000, 1) for s in evictions],
            "held_ms": [round(s * 1000, 1) for s in held],
            "legit_30mib_echo_s": round(legit, 2)}


def path_cost(trees: dict[str, Path], rounds: int,
              count: int) -> dict[str, dict[str, tuple[float, float]]]:
    results: dict[str, dict[str, list[float]]] = {
        name: {"compressed": [], "fragmented": []} for name in trees}
    for _ in range(rounds):
        for kind in ("compressed", "fragmented"):
            for name, root in trees.items():
                out = subprocess.run([sys.executable, "-c", PATH_COST, kind, str(count)],
                                     cwd=root, env={**os.environ, "PYTHONPATH": str(root)},
                                     capture_output=True, text=True, check=True, timeout=300)
                results[name][kind].append(float(out.stdout))
    return {name: {kind: (statistics.median(values), min(values))
                   for kind, values in kinds.items()}
            for name, kinds in results.items()}


def commit(root: Path) -> str:
    return subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip() or "(no git)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, help="another checkout to compare with")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--quick", action="store_true", help="5 clients, 1 round")
    args = parser.parse_args(argv)
    if args.quick:
        args.clients, args.rounds, args.messages = 5, 1, 2000
    if not 3 <= args.clients <= 40:
        parser.error("--clients must be 3 to 40 (each without a cap may pin 30 MiB or more)")
    rows = dict(ROWS)
    roots = dict.fromkeys(rows, REPO)
    if args.before:
        name = f"before: {args.before} at {commit(args.before)}"
        rows[name], roots[name] = ("", False), args.before.resolve()
    bloat = []
    for name, (config, capped) in rows.items():
        log(f"bloat: {name}")
        bloat.append(bloat_row(name, config, capped, roots[name], args.clients))
    trees = {f"this tree ({commit(REPO)})": REPO}
    if args.before:
        trees[f"before ({commit(args.before)})"] = args.before.resolve()
    log("path cost")
    cost = path_cost(trees, args.rounds, args.messages)

    print(f"date {datetime.datetime.now().isoformat(timespec='minutes')}; "
          f"{platform.machine()}, Linux {platform.release()}, Python {platform.python_version()}")
    print(f"\n## Bloat: {args.clients} clients, each 30 KiB that inflate to 30 MiB\n")
    print("| row | sent (KiB) | VmHWM growth (MiB) | VmRSS growth (MiB) | closed 1013 | "
          "evicted after (ms, median / max) | held after (ms, median / max) | "
          "30 MiB legit echo (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in bloat:
        evict = (f"{statistics.median(r['evict_ms']):.0f} / {max(r['evict_ms']):.0f}"
                 if r["evict_ms"] else "-")
        print(f"| {r['row']} | {r['sent_kib']:.0f} | {r['hwm_growth_mib']:.0f} | "
              f"{r['rss_growth_mib']:.0f} | {r['closed_1013']} | {evict} | "
              f"{statistics.median(r['held_ms']):.0f} / {max(r['held_ms']):.0f} | "
              f"{r['legit_30mib_echo_s']} |")
    print(f"\n## Path cost: microseconds per message, median (and least) of {args.rounds} "
          f"runs of {args.messages} messages\n")
    print("| tree | 32-byte compressed text | plain text in 4 fragments |")
    print("|---|---|---|")
    for name, kinds in cost.items():
        print(f"| {name} | {kinds['compressed'][0]:.2f} ({kinds['compressed'][1]:.2f}) | "
              f"{kinds['fragmented'][0]:.2f} ({kinds['fragmented'][1]:.2f}) |")
    print("\n```json\n" + json.dumps({"bloat": bloat, "cost": cost}, indent=1) + "\n```")
    return 0


if __name__ == "__main__":
    sys.exit(main())
