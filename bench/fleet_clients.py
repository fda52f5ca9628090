"""bench/fleet.py's clients of one host, run in the clients' network namespace: `websockets`
connections to geows' chat (plain WebSocket text) or to python-socketio's (Engine.IO 4 /
Socket.IO 5 over the WebSocket transport: the same library, the same costs, on both).

It speaks as tests/cluster/clients.py does (tests.cluster.clients.Clients drives it): opens
every client of the plan, says {"open": n}, waits for "go"; then the first client sends
`count` messages paced at `rate` a second, each "host:seq:unix_time", and every client
(the sender included) reads until it has `expect` distinct messages or `timeout` passed.
Then it says, per client: distinct messages, duplicates, and a digest of their order; and
the latency (now - the message's time: one clock, one machine) of every delivery in 0.1 ms
bins.

The plan (JSON): {"kind": "geows"|"socketio", "urls": [...], "name": "h1", "rate": r,
"count": n, "expect": N, "timeout": seconds}.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import time
from collections import Counter
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from tests.cluster.clients import CONNECT_TIMEOUT, speak


class Chat:
    """One client of either server: text in, text out."""

    def __init__(self, kind: str, ws: ClientConnection):
        self.socketio = kind == "socketio"
        self.ws = ws

    async def join(self) -> None:
        """Socket.IO: the Engine.IO open packet, then the default namespace's connect."""
        if self.socketio:
            opened = await self.ws.recv()
            assert opened.startswith("0{"), opened
            await self.ws.send("40")
            while not (await self.ws.recv()).startswith("40"):
                pass

    async def send(self, text: str) -> None:
        await self.ws.send(f'42{json.dumps(["msg", text])}' if self.socketio else text)

    async def recv(self) -> str:
        while True:
            data = await self.ws.recv()
            if not self.socketio:
                return data
            if data == "2":  # Engine.IO's ping
                await self.ws.send("3")
            elif data.startswith("42"):
                return json.loads(data[2:])[1]


async def _client(plan: dict[str, Any], url: str, sender: bool, opened: asyncio.Event,
                  go: asyncio.Event, deadline: list[float], out: dict[str, Any],
                  latency: Counter) -> None:
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            ws = await connect(url, max_queue=None, compression=None)
            chat = Chat(plan["kind"], ws)
            await chat.join()
    except Exception as error:  # reported, the others go on
        out["error"] = f"connect: {error!r}"
        opened.set()
        return
    out["open"] = True
    opened.set()
    seen: set[str] = set()
    order = hashlib.sha1()
    async with ws:
        await go.wait()

        async def send() -> None:
            start = time.monotonic()
            for seq in range(plan["count"]):
                await asyncio.sleep(max(0.0, start + seq / plan["rate"] - time.monotonic()))
                await chat.send(f"{plan['name']}:{seq}:{time.time():.6f}")

        sending = asyncio.create_task(send()) if sender else None
        try:
            async with asyncio.timeout_at(deadline[0]):
                while len(seen) < plan["expect"]:
                    text = await chat.recv()
                    now = time.time()
                    key, _, stamp = text.rpartition(":")
                    if key in seen:
                        out["duplicates"] += 1
                        continue
                    seen.add(key)
                    order.update(key.encode() + b"\n")
                    latency[int((now - float(stamp)) * 10_000)] += 1
                if sending is not None:
                    await sending
        except TimeoutError:
            pass  # what did not arrive is counted as lost
        except Exception as error:  # reported, the others go on
            out["error"] = repr(error)
        finally:
            if sending is not None:
                sending.cancel()
    out["distinct"] = len(seen)
    out["order"] = order.hexdigest()


async def _main(plan: dict[str, Any]) -> None:
    outs = [{"open": False, "distinct": 0, "duplicates": 0, "order": "", "error": None}
            for _ in plan["urls"]]
    latency: Counter = Counter()
    await speak(outs, plan["timeout"], lambda number, opened, go, deadline: _client(
        plan, plan["urls"][number], number == 0, opened, go, deadline, outs[number], latency),
        lambda: {"latency_bins": latency})


if __name__ == "__main__":
    asyncio.run(_main(json.loads(sys.argv[1])))
