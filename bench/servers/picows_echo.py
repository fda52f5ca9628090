"""A picows (Cython on asyncio) echo server on 127.0.0.1:PORT, the library's defaults
otherwise: each data frame goes back as it came (picows hands over frames, not messages;
the load generator sends each message in one frame). Usage: python picows_echo.py PORT"""

import asyncio
import signal
import sys

from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_create_server


class Echo(WSListener):
    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()
        elif frame.msg_type in (WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.CONTINUATION):
            transport.send(frame.msg_type, frame.get_payload_as_bytes(), frame.fin)


async def main(port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    # backlog as geows' (httpd's ListenBacklog); asyncio's default is 100
    server = await ws_create_server(lambda request: Echo(), "127.0.0.1", port, backlog=511)
    print(f"listening on 127.0.0.1:{port}", file=sys.stderr, flush=True)
    await stop
    server.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
