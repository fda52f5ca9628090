"""A `websockets` (asyncio) echo server on 127.0.0.1:PORT, the library's defaults
otherwise. Usage: python websockets_echo.py PORT"""

import asyncio
import signal
import sys

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed


async def echo(websocket):
    try:
        async for message in websocket:
            await websocket.send(message)
    except ConnectionClosed:
        pass  # echoes still queued when the client closed: an ordinary end


async def main(port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    # backlog as geows' (httpd's ListenBacklog); asyncio's default is 100
    async with serve(echo, "127.0.0.1", port, backlog=511):
        print(f"listening on 127.0.0.1:{port}", file=sys.stderr, flush=True)
        await stop


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
