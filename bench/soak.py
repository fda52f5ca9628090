#!/usr/bin/env python3
"""Issue 9's soak: geows holding 10,000 RFC 6455 connections with traffic for 10 minutes.

    python bench/soak.py [--connections 10000] [--minutes 10] [--quick]

bench/loadgen.c (built into bench/build/) opens the connections and keeps one 32-byte
message in flight on each for the whole run, checking every echo. Meanwhile the server's
RSS and open descriptors (its master's and worker's together) are sampled every
--interval seconds. Afterwards the script
waits for the descriptors to come back to their baseline. It reports: messages, errors
(any lost, mismatched or dropped message counts), RSS after warm-up (the first fifth of
the run) against RSS at the end, and descriptors before, during and after. Loopback
only; every process it starts it stops; the load generator ends by itself.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from websocket_echo import (  # noqa: E402  (a sibling script, not a package)
    BUILD,
    LOADGEN,
    ServerProcess,
    build_loadgen,
    children,
    log,
    machine_info,
    raise_nofile,
    tree_rss_kb,
)


def open_fds(pid: int) -> int | None:
    """Descriptors open in pid and its children: geows serves in a worker process."""
    try:
        return sum(len(os.listdir(f"/proc/{process}/fd")) for process in [pid, *children(pid)])
    except OSError:
        return None


def sample(pid: int, every: float, stop: threading.Event, into: list[tuple]) -> None:
    started = time.monotonic()
    while not stop.wait(every):
        into.append((round(time.monotonic() - started), tree_rss_kb(pid), open_fds(pid)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--interval", type=float, default=10)
    parser.add_argument("--quick", action="store_true", help="2,000 connections, 1 minute")
    args = parser.parse_args(argv)
    if args.quick:
        args.connections, args.minutes, args.interval = 2_000, 1, 5
    raise_nofile(args.connections + 1_000)
    build_loadgen()
    seconds = int(args.minutes * 60)
    server = ServerProcess("geows", None, BUILD)
    try:
        server.wait_listening()
        base_fds, base_rss = open_fds(server.pid), tree_rss_kb(server.pid)
        samples: list[tuple] = []
        stop = threading.Event()
        sampler = threading.Thread(target=sample, args=(server.pid, args.interval, stop,
                                                        samples))
        sampler.start()
        log(f"soak: {args.connections} connections for {seconds} s")
        done = subprocess.run(
            [str(LOADGEN), "--mode", "rfc6455", "--port", str(server.port), "--path", "/echo",
             "--connections", str(args.connections), "--seconds", str(seconds),
             "--size", "32", "--ramp", "200", "--connect-timeout", "60"],
            capture_output=True, text=True, timeout=seconds + 300)
        stop.set()
        sampler.join()
        result = json.loads(done.stdout.strip().splitlines()[-1])
        deadline = time.monotonic() + 60
        while open_fds(server.pid) != base_fds and time.monotonic() < deadline:
            time.sleep(1)
        after_fds, after_rss = open_fds(server.pid), tree_rss_kb(server.pid)
    finally:
        server.stop()
    warm = [s for s in samples if s[0] >= seconds / 5]
    report = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine_info(),
        "connections": args.connections, "seconds": seconds,
        "connections_ok": result["connections_ok"], "messages": result["messages"],
        "msgs_per_s": result["msgs_per_s"], "errors": result["errors"],
        "error_detail": result["error_detail"], "latency_us": result["latency_us"],
        "rss_kb": {"baseline": base_rss, "after_warm_up": warm[0][1] if warm else None,
                   "end_of_load": samples[-1][1] if samples else None, "after": after_rss},
        "fds": {"baseline": base_fds, "peak": max((s[2] or 0) for s in samples),
                "after": after_fds},
        "samples": samples,
    }
    print(json.dumps(report, indent=1))
    lost = report["errors"] or report["connections_ok"] != args.connections
    return 1 if lost or after_fds != base_fds else 0


if __name__ == "__main__":
    sys.exit(main())
