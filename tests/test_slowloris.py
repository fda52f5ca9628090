"""500 slowloris heads (a byte now and then, never finished) never keep a normal client
waiting, and RequestReadTimeout ends every one of them: mod_reqtimeout's budget, as
httpd applies it to the head, and only to the head."""

from __future__ import annotations

import asyncio
import time

from websockets.asyncio.client import connect

from tests.geows_process import GeowsProcess

CONFIG = """
Listen 127.0.0.1:@PORT@
RequestReadTimeout header=2-4,MinRate=500
<Location /echo>
  SetHandler websocket-handler
  WebSocketHandler plugins/echo.py echo_init
</Location>
"""

SLOW = 500
HEAD = b"GET /echo HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"


async def slowloris(port: int, ended: list[float], started: float) -> None:
    """One byte of a head every 0.5 s until the server gives up on it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for byte in HEAD * 4:
            writer.write(bytes([byte]))
            await writer.drain()
            try:
                answer = await asyncio.wait_for(reader.read(4096), 0.5)
            except TimeoutError:
                continue
            assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer
            break
        ended.append(time.monotonic() - started)
    except ConnectionError:
        ended.append(time.monotonic() - started)
    finally:
        writer.close()


async def attack(port: int) -> tuple[float, list[float]]:
    started = time.monotonic()
    ended: list[float] = []
    slow = [asyncio.create_task(slowloris(port, ended, started)) for _ in range(SLOW)]
    await asyncio.sleep(1)   # every slow head is in
    asked = time.monotonic()
    async with connect(f"ws://127.0.0.1:{port}/echo", open_timeout=10) as ws:
        await ws.send("still served")
        assert await ws.recv() == "still served"
    served_in = time.monotonic() - asked
    await asyncio.wait_for(asyncio.gather(*slow), 30)
    return served_in, ended


def test_slowloris_heads_neither_block_a_client_nor_outlive_their_budget():
    process = GeowsProcess(CONFIG)
    try:
        served_in, ended = asyncio.run(attack(process.port))
        print(f"normal client served in {served_in:.3f} s beside {SLOW} slow heads; "
              f"the slow ones ended after {min(ended):.1f}-{max(ended):.1f} s")
        assert served_in < 2          # it never waits on them (the budget is 2-4 s)
        assert len(ended) == SLOW
        assert max(ended) < 4 + 3     # header=2-4: 4 s at most, plus scheduling slack
        process.wait_for_log('"-" 408 -')
    finally:
        assert process.stop() == 0
