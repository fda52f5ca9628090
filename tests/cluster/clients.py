"""Real WebSocket clients (the `websockets` library) in the clients' namespace.

`Clients(namespace, plan)` runs this module as a script there (`ip netns exec`): it opens
every client of the plan, and each sends its `setup` messages, reading one answer to each
(joining a room, say); it says how many are open, waits for the test's "go", then every
client sends its messages (in order, one after the other, `pace` seconds apart if it
says so) while all of them read until each has `expect` messages (or, with `fences`, until
it has that many messages starting with "fence:") or the plan's `timeout` has passed; then
it says what each received, in order. Every wait on either side is bounded.

The plan (JSON): {"clients": [{"url": "ws://...", "setup": ["..."], "send": ["..."],
"pace": seconds}, ...], "expect": N or "fences": N, "timeout": seconds}.
"""

from __future__ import annotations

import asyncio
import json
import selectors
import subprocess
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.client import connect

from tests.cluster.netns import Namespace
from tests.geows_process import REPO

CONNECT_TIMEOUT = 30  # seconds for every client to open


class Clients:
    """The script running in `namespace` on `plan`; `ready()`, then `go()` returns its
    answer: {"clients": what each client received, a list in the plan's order of {"url",
    "open", "setup" (the answers to its setup messages), "received", "error"}}.
    `module`: another script that speaks the same way (bench/fleet_clients.py)."""

    def __init__(self, namespace: Namespace, plan: dict[str, Any],
                 module: str = "tests.cluster.clients"):
        self.plan = plan
        self.proc = subprocess.Popen(
            [*namespace.run, sys.executable, "-m", module, json.dumps(plan)],
            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)

    def ready(self) -> int:
        """Wait until every client is open; how many are."""
        return self._answer(CONNECT_TIMEOUT + 5)["open"]

    def go(self) -> dict[str, Any]:
        """Say "go" to every client; their answer once they have ended."""
        self.start()
        return self.result()

    def start(self) -> None:
        """Say "go" (several scripts start together: each start(), then each result())."""
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def result(self) -> dict[str, Any]:
        answer = self._answer(self.plan["timeout"] + 10)
        self.proc.wait(10)
        return answer

    def _answer(self, timeout: float) -> dict[str, Any]:
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                self.stop()
                raise AssertionError(f"the clients said nothing for {timeout} s: "
                                     f"{self.proc.stderr.read()}")
        line = self.proc.stdout.readline()
        if not line:
            self.stop()
            raise AssertionError(f"the clients exited: {self.proc.stderr.read()}")
        return json.loads(line)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


FENCE = "fence:"


async def _client(client: dict[str, Any], plan: dict[str, Any], opened: asyncio.Event,
                  go: asyncio.Event, deadline: list[float], out: dict[str, Any]) -> None:
    """One client: open and set up (then set `opened`, as a failure does), wait for `go`,
    send while reading until it has what the plan expects or `deadline[0]` (the loop's
    time, set at go)."""
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            ws = await connect(client["url"], max_queue=None)
            for message in client.get("setup", []):
                await ws.send(message)
                out["setup"].append(await ws.recv())
    except Exception as error:  # reported for this client, the others go on
        out["error"] = f"connect: {error!r}"
        opened.set()
        return
    out["open"] = True
    opened.set()
    received = out["received"]
    if "fences" in plan:
        def done() -> bool:
            return sum(message.startswith(FENCE) for message in received) >= plan["fences"]
    else:
        def done() -> bool:
            return len(received) >= plan["expect"]
    async with ws:
        await go.wait()

        async def sender() -> None:
            for message in client.get("send", []):
                await ws.send(message)
                await asyncio.sleep(client.get("pace", 0))

        sending = asyncio.create_task(sender())
        try:
            async with asyncio.timeout_at(deadline[0]):
                while not done():
                    received.append(await ws.recv())
                await sending
        except TimeoutError:
            out["error"] = f"timeout with {len(received)} received"
        except Exception as error:  # reported for this client, the others go on
            out["error"] = repr(error)
        finally:
            sending.cancel()


async def speak(outs: list[dict[str, Any]], timeout: float,
                run_client: Callable[[int, asyncio.Event, asyncio.Event, list[float]],
                                     Awaitable[None]],
                more: Callable[[], dict[str, Any]] = dict) -> None:
    """The script's side of Clients: run_client(number, opened, go, deadline) for each
    client (each sets `opened` once open or failed, its `outs` entry's "open" saying
    which; waits for `go`; stops at `deadline[0]`, the loop's time set at go); say how many
    are open, wait for "go" on stdin, wait for every client, say {"clients": outs} and
    what `more` adds."""
    loop = asyncio.get_running_loop()
    go = asyncio.Event()
    opened = [asyncio.Event() for _ in outs]
    deadline = [0.0]
    tasks = [asyncio.create_task(run_client(number, event, go, deadline))
             for number, event in enumerate(opened)]
    await asyncio.gather(*(event.wait() for event in opened))  # each is bounded
    print(json.dumps({"open": sum(out["open"] for out in outs)}), flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    deadline[0] = loop.time() + timeout
    go.set()
    await asyncio.wait(tasks)
    print(json.dumps({"clients": outs, **more()}), flush=True)


async def _main(plan: dict[str, Any]) -> None:
    outs = [{"url": c["url"], "open": False, "setup": [], "received": [], "error": None}
            for c in plan["clients"]]
    await speak(outs, plan["timeout"], lambda number, opened, go, deadline: _client(
        plan["clients"][number], plan, opened, go, deadline, outs[number]))


if __name__ == "__main__":
    asyncio.run(_main(json.loads(sys.argv[1])))
