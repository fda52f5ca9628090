#!/usr/bin/env python3
"""Issue 16's bench: a chat across 3 hosts on one Redis, geows beside python-socketio's
Redis manager (gevent mode), at rising rates, in one run.

    .venv/bin/python bench/fleet.py [--clients-per-host 50] [--rates 30,60,120,240,480]
                                    [--seconds 5] [--kinds geows,socketio]

Everything runs in Linux network namespaces (tests/cluster/netns.py, as root): 3 hosts,
Redis' (Debian's redis-server) and the clients'. On each host, side by side:
- geows: plugins/chat.py (each message broadcast to the location), StartServers 2,
  `WebSocketBroadcast` to the Redis;
- python-socketio: bench/servers/socketio_redis_chat.py, 2 processes sharing the port
  (SO_REUSEPORT), RedisManager on the same Redis.
The clients (bench/fleet_clients.py: `websockets` for both, plain text for geows, Engine.IO
4 framing for Socket.IO) are --clients-per-host per host, all in the clients' namespace,
one process per host; the first client of each host sends, paced, RATE/3 messages a
second for --seconds, and every client (senders included) reads every message of all
three.

After one unmeasured second per server at the first rate (warm-up), per rate and
server: the messages delivered per second, the deliveries lost (never arrived within
--seconds + DRAIN) and duplicated, p50/p99/max latency (from the sender's stamp to the
reader, on one clock), whether every client saw one order, and the machine's other load.
Kinds alternate at each rate; a kind stops rising after its first rate with a loss, a
duplicate or p99 >= 100 ms. Every process started here is stopped here, and the
namespaces are removed. Prints a Markdown report; raw numbers go to
bench/build/fleet-*.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))

from bench.websocket_echo import BUILD, log, machine_info, wait_quiet  # noqa: E402
from tests.cluster.clients import Clients  # noqa: E402
from tests.cluster.netns import Namespace, geows_on, network  # noqa: E402
from tests.cluster.netns_redis import RedisServer  # noqa: E402
from tests.geows_process import GeowsProcess  # noqa: E402

GEOWS_CONF = """
Listen @ADDRESS@:@PORT@
LogLevel warn
StartServers 2
WebSocketBroadcast {redis}
<Location /chat>
  SetHandler websocket-handler
  WebSocketHandler plugins/chat.py chat_init
</Location>
"""
SOCKETIO_PORT = 9090
SOCKETIO_PROCESSES = 2
DRAIN = 5.0  # seconds past the sending for the last deliveries
P99_LIMIT_MS = 100.0
QUIET_PERCENT = 15.0


def start_socketio(host: Namespace, redis_url: str) -> list[subprocess.Popen]:
    processes = [subprocess.Popen(
        [*host.run, sys.executable, str(BENCH / "servers/socketio_redis_chat.py"),
         host.address, str(SOCKETIO_PORT), redis_url], stdout=subprocess.DEVNULL)
        for _ in range(SOCKETIO_PROCESSES)]
    deadline = time.monotonic() + 20
    while True:
        try:
            host.connect((host.address, SOCKETIO_PORT), 1).close()
            return processes
        except OSError:
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise RuntimeError(f"python-socketio does not listen on {host.name}") from None
            time.sleep(0.1)


def run_one(net, urls: dict[str, list[str]], kind: str, rate: float, seconds: float,
            clients_per_host: int) -> dict:
    """One rate on one server: every host's clients at once."""
    per_sender = rate / len(urls)
    count = int(per_sender * seconds)
    expect = count * len(urls)
    groups = [Clients(net.clients, {
        "kind": kind, "urls": [urls[host.name][0]] * clients_per_host, "name": host.name,
        "rate": per_sender, "count": count, "expect": expect, "timeout": seconds + DRAIN},
        module="bench.fleet_clients") for host in net.hosts]
    try:
        opened = sum(group.ready() for group in groups)
        for group in groups:
            group.start()
        answers = [group.result() for group in groups]
    finally:
        for group in groups:
            group.stop()
    clients = [client for answer in answers for client in answer["clients"]]
    bins: Counter = Counter()
    for answer in answers:
        bins.update({int(key): value for key, value in answer["latency_bins"].items()})
    delivered = sum(c["distinct"] for c in clients)
    expected = expect * len(clients)
    orders = {c["order"] for c in clients if c["distinct"] == expect}
    result = {
        "kind": kind, "rate": rate, "clients": len(clients), "opened": opened,
        "messages": expect, "deliveries_expected": expected, "delivered": delivered,
        "lost": expected - delivered, "duplicates": sum(c["duplicates"] for c in clients),
        "errors": [c["error"] for c in clients if c["error"]][:5],
        "deliveries_per_s": round(delivered / seconds),
        "p50_ms": _percentile(bins, 0.50), "p99_ms": _percentile(bins, 0.99),
        "max_ms": max(bins) / 10 if bins else None,
        "one_order": len(orders) == 1 and delivered == expected,
    }
    result["ok"] = (result["lost"] == 0 and result["duplicates"] == 0
                    and result["p99_ms"] is not None and result["p99_ms"] < P99_LIMIT_MS)
    return result


def _percentile(bins: Counter, fraction: float) -> float | None:
    """The latency (ms) under which `fraction` of the deliveries arrived (0.1 ms bins)."""
    total = sum(bins.values())
    if not total:
        return None
    seen = 0
    for tenth_ms in sorted(bins):
        seen += bins[tenth_ms]
        if seen >= fraction * total:
            return tenth_ms / 10
    return None


def report(results: list[dict], args: argparse.Namespace, info: dict) -> str:
    lines = [f"# Fleet bench: chat across 3 hosts on one Redis ({info['date']})", "",
             f"{info['nproc']} cores ({info['cpu_model']}), Python {info['python']}, "
             f"geows {info['geows_commit']}; {args.clients_per_host} clients per host, "
             f"{args.seconds} s per rate, senders on all 3 hosts.", "",
             "| Server | Rate (msg/s) | Deliveries/s | Lost | Dup | p50 ms | p99 ms | max ms "
             "| One order | Busy % | OK |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['kind']} | {r['rate']:g} | {r['deliveries_per_s']} | {r['lost']} "
                     f"| {r['duplicates']} | {r['p50_ms']} | {r['p99_ms']} | {r['max_ms']} "
                     f"| {'yes' if r['one_order'] else 'no'} | {r['busy_percent']} "
                     f"| {'yes' if r['ok'] else 'no'} |")
    lines.append("")
    for kind in args.kinds:
        held = [r["rate"] for r in results if r["kind"] == kind and r["ok"]]
        lines.append(f"- {kind}: highest rate with 0 loss, 0 duplicates and p99 under "
                     f"{P99_LIMIT_MS:g} ms: {max(held) if held else 'none'} msg/s")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients-per-host", type=int, default=50)
    parser.add_argument("--rates", default="30,60,120,240,480")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--kinds", default="geows,socketio")
    parser.add_argument("--quiet-wait", type=float, default=30.0)
    args = parser.parse_args()
    args.kinds = args.kinds.split(",")
    rates = [float(rate) for rate in args.rates.split(",")]
    info = machine_info()
    results: list[dict] = []
    with network(3) as net:
        redis = RedisServer(net.redis)
        geows: list[GeowsProcess] = []
        socketio: list[subprocess.Popen] = []
        try:
            urls: dict[str, dict[str, list[str]]] = {}
            if "geows" in args.kinds:
                conf = GEOWS_CONF.format(redis=redis.url)
                geows = [geows_on(host, conf) for host in net.hosts]
                urls["geows"] = {host.name: [f"ws://{g.address}:{g.port}/chat"]
                                 for host, g in zip(net.hosts, geows, strict=True)}
            if "socketio" in args.kinds:
                for host in net.hosts:
                    socketio += start_socketio(host, redis.url)
                urls["socketio"] = {
                    host.name: [f"ws://{host.address}:{SOCKETIO_PORT}/socket.io/"
                                "?EIO=4&transport=websocket"] for host in net.hosts}
            for kind in args.kinds:  # the first connections, scripts, subscriptions: unmeasured
                log(f"{kind}: warming up ...")
                run_one(net, urls[kind], kind, rates[0], 1.0, args.clients_per_host)
            rising = set(args.kinds)
            for rate in rates:
                for kind in args.kinds:
                    if kind not in rising:
                        continue
                    busy = wait_quiet(QUIET_PERCENT, args.quiet_wait)
                    log(f"{kind} at {rate:g} msg/s ...")
                    result = run_one(net, urls[kind], kind, rate, args.seconds,
                                     args.clients_per_host)
                    result["busy_percent"] = busy
                    log(f"  {json.dumps(result)}")
                    results.append(result)
                    if not result["ok"]:
                        rising.discard(kind)
        finally:
            for process in geows:
                process.stop()
            for process in socketio:
                process.terminate()
            for process in socketio:
                process.wait(10)
            redis.stop()
    text = report(results, args, info)
    print(text)
    BUILD.mkdir(exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    (BUILD / f"fleet-{stamp}.json").write_text(json.dumps(
        {"machine": info, "args": vars(args), "results": results}, indent=2))


if __name__ == "__main__":
    main()
