"""geows hosts on one machine for the link's tests: each a real `geows` (a master and its
workers) on a port of its own, all linked to one redis-server; a plugin whose clients
broadcast what they send and hear each broadcast's result; and the check that every
client got what the results promise, once, in one order."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

from tests.cluster.redis_server import Reader
from tests.geows_process import GeowsProcess, join_all

# "?text" broadcasts "text" and answers the sender with the result: "=count scope seq
# epoch text"; "#T text" broadcasts "text" asking for the count across hosts within T s,
# and answers "+total missing text" (or "!" and the ValueError); any other text is
# broadcast alone.
PLUGIN = """
from geows.plugin import TEXT, Plugin


def cast_init():
    def on_message(state, server, type, data):
        if data.startswith("#"):
            timeout, text = data[1:].split(" ", 1)
            try:
                result = server.broadcast(TEXT, text, count_timeout=float(timeout))
            except ValueError as exc:
                server.send(TEXT, f"!{exc}")
            else:
                server.send(TEXT, f"+{result.total} {result.missing} {text}")
        elif data.startswith("?"):
            result = server.broadcast(TEXT, data[1:])
            server.send(TEXT, f"={int(result)} {result.scope} {result.seq} {result.epoch} "
                              f"{data[1:]}")
        else:
            server.broadcast(TEXT, data)

    return Plugin(on_message=on_message)
"""

CONFIG = """
Listen 127.0.0.1:@PORT@
StartServers {workers}
LogLevel info
WebSocketBroadcast {url}
WebSocketBroadcastHistory {history}
WebSocketBroadcastPrefix {prefix}
<Location /chat>
  SetHandler websocket-handler
  WebSocketHandler @DIR@/cast.py cast_init
</Location>
<Location /host>
  SetHandler websocket-handler
  WebSocketHandler @DIR@/cast.py cast_init
  WebSocketBroadcastScope host
</Location>
"""

UP = "the link to Redis is up"


def start_host(url: str, *, workers: int = 2, history: int = 10_000, prefix: str = "geows",
               linked: bool = True, one_process: bool = False) -> GeowsProcess:
    """A geows host (`one_process`: `geows -X`); with `linked`, once each of its workers
    logged its link up."""
    host = GeowsProcess(CONFIG.format(url=url, workers=workers, history=history,
                                      prefix=prefix),
                        extra_files={"cast.py": PLUGIN},
                        extra_args=("-X",) if one_process else ())
    if linked:
        try:
            wait_until(lambda: host.error_log.count(UP) >= (1 if one_process else workers),
                       20, lambda: f"the workers did not link up:\n{host.error_log}")
        except AssertionError:
            host.stop()
            raise
    return host


def wait_until(condition, timeout: float, what) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what()
        time.sleep(0.02)


@dataclass(frozen=True)
class Result:
    """What a "?text" broadcast returned."""

    count: int
    scope: str
    seq: int | None
    epoch: str | None
    text: str


RESULT = re.compile(r"=(\d+) (\w+) (\w+) (\S+) (.*)", re.DOTALL)


def results(reader: Reader) -> list[Result]:
    parsed = []
    for line in reader.got("="):
        count, scope, seq, epoch, text = RESULT.fullmatch(line).groups()
        parsed.append(Result(int(count), scope, None if seq == "None" else int(seq),
                             None if epoch == "None" else epoch, text))
    return parsed


def send_all(senders: dict[Reader, list[str]], interval: float = 0.0,
             during=None, timeout: float = 60) -> None:
    """Each sender sends its texts as "?text" (one thread each, `interval` apart), and
    waits for every result; `during(i)`, if given, runs in this thread while they send
    (i: how many the first sender has sent, polled)."""
    def send(reader: Reader, texts: list[str]) -> None:
        for text in texts:
            reader.send("?" + text)
            time.sleep(interval)

    threads = [threading.Thread(target=send, args=item, daemon=True)
               for item in senders.items()]
    for thread in threads:
        thread.start()
    if during is not None:
        during()
    join_all(threads, timeout)
    for reader, texts in senders.items():
        reader.wait_for(len(texts), "=", timeout)


def check_delivery(hosts: dict[GeowsProcess, list[Reader]],
                   senders: dict[Reader, GeowsProcess], prefix: str) -> dict[str, Result]:
    """What every client got of the texts starting with `prefix`, against the results:
    a "cluster" one once by every client of every host, a "local" or "host" one once by
    every client of the sender's host only; the cluster ones in one order everywhere, the
    seq order within an epoch. Returns the results by text."""
    by_text: dict[str, tuple[Result, GeowsProcess]] = {}
    for reader, host in senders.items():
        for result in results(reader):
            if result.text.startswith(prefix):
                by_text[result.text] = (result, host)
    cluster = [text for text, (result, _) in by_text.items() if result.scope == "cluster"]
    orders = []
    for host, readers in hosts.items():
        expected = {text for text, (result, sender_host) in by_text.items()
                    if result.scope == "cluster" or sender_host is host}
        for reader in readers:
            reader.wait_for(len(expected), prefix)
            got = reader.got(prefix)
            assert len(got) == len(set(got)), "duplicates: " + str(
                sorted({text for text in got if got.count(text) > 1})[:10])
            assert set(got) == expected
            orders.append([text for text in got if by_text[text][0].scope == "cluster"])
    assert all(order == orders[0] for order in orders), "the hosts' orders differ"
    assert set(orders[0]) == set(cluster)
    places = [(by_text[text][0].epoch, by_text[text][0].seq) for text in orders[0]]
    for epoch in {epoch for epoch, _ in places if epoch is not None}:
        seqs = [seq for e, seq in places if e == epoch]
        assert seqs == sorted(seqs)
    return {text: result for text, (result, _) in by_text.items()}
