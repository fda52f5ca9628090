"""The access record: what geows learns about one connection while it lasts (the client,
the request, the answer, bytes and messages, how it ended), and the access log line built
from it when the connection ends (geows.log_format.Entry), written to the access logs it is
given (geows.runtime.log.AccessLogs), or without any to the "geows.access" logger.

The handshake reader and the session fill it in; it goes to the logs once.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from geows.log_format import Entry, escape

if TYPE_CHECKING:
    from geows import http
    from geows.config import Config
    from geows.config.logs import ServerLogs
    from geows.config.model import Route
    from geows.runtime.log import AccessLogs

access_log = logging.getLogger("geows.access")


class Record:
    """The facts about one connection that its access log lines may tell."""

    # Thousands live at once: slots keep each one small.
    __slots__ = ("remote_addr", "peer_ip", "started", "_line_read", "status",
                 "ending", "messages_in", "messages_out", "protocol", "request", "local",
                 "user", "handler", "tls", "bytes_in", "bytes_out", "head_size",
                 "response_head", "keep_response_head", "route")

    def __init__(self, address: tuple, keep_response_head: bool = False):
        # A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d; httpd (APR) as a.b.c.d.
        ip = address[0].removeprefix("::ffff:") if "." in address[0] else address[0]
        # mod_remoteip's client, once it has spoken; the accepted address itself where it is
        # (ip, port) already: each idle connection keeps its record.
        self.remote_addr = address if ip is address[0] and len(address) == 2 \
            else (ip, address[1])
        self.peer_ip = ip
        self.started = time.monotonic()
        self._line_read = "-"  # the request line of a head refused before it was whole
        self.status: int | str = "-"
        self.ending = "closed before a complete request"
        self.messages_in = 0
        self.messages_out = 0
        self.protocol: str | None = None   # the WebSocket protocol's label, once it answers 101
        self.request: http.Request | None = None
        self.local: tuple[str, int] | None = None  # the listening address it came in on
        self.user: str | None = None
        self.handler: str | None = None   # httpd's: websocket-handler, or proxy-server
        self.tls: tuple[str, str] | None = None  # TLS version and cipher
        self.bytes_in = 0   # as mod_logio counts them, TLS taken off
        self.bytes_out = 0
        self.head_size: int | None = None  # of the response head sent
        self.response_head: bytes | None = None  # kept only for an access log's %o
        self.keep_response_head = keep_response_head
        self.route: Route | None = None  # the first request's: its server's logs

    def came_from(self, client_ip: str) -> None:
        """The client is who mod_remoteip says it is from here on (logs, rules, plugin)."""
        if client_ip != self.remote_addr[0]:
            self.remote_addr = (client_ip, self.remote_addr[1])

    @property
    def request_line(self) -> str:
        """The request line as the logs show it: the request's once its head is read (made
        when a log line asks: each idle connection keeps its record), else what came of it
        ("-": nothing)."""
        request = self.request
        if request is None:
            return self._line_read
        return f"{request.method} {request.target[:200]} {request.version}"

    @request_line.setter
    def request_line(self, line: str) -> None:
        self._line_read = line

    @property
    def client(self) -> str:
        """The client, ADDRESS:PORT, as the error log names it (made when it does: each idle
        connection keeps its record)."""
        return f"{self.remote_addr[0]}:{self.remote_addr[1]}"

    def sent_head(self, data: bytes) -> None:
        """Note the response head at the start of `data`, which went out."""
        self.head_size = data.find(b"\r\n\r\n") + 4
        if self.keep_response_head:
            self.response_head = data[:self.head_size]

    def write(self, config: Config, access_logs: AccessLogs) -> None:
        """Write the connection's access log lines, once it has ended."""
        if access_logs.configured:
            # As httpd: a line for each request answered, none for a connection closed
            # before it sent one (a 408 for one too slow to send it is answered).
            if self.request is not None or self.status != "-":
                access_logs.write(*self.entry(config))
            return
        access_log.info(
            '%s "%s" %s %s %.3fs in=%d out=%d "%s"',
            self.client, escape(self.request_line), self.status, self.protocol or "-",
            time.monotonic() - self.started, self.messages_in, self.messages_out,
            escape(self.ending))

    def entry(self, config: Config) -> tuple[Entry, ServerLogs]:
        """What this connection's access log lines can tell, and its server's logs."""
        request = self.request
        local_ip, local_port = self.local or ("-", 0)
        if self.route is not None:
            logs = self.route.logs
        else:  # not routed: no head, OPTIONS * or over MaxRequestWorkers
            host = request.host if request is not None else None
            vhost = config.virtual_host(host, local_port, local_ip) if self.local else None
            logs = config.logs if vhost is None else vhost.logs
        duration = time.monotonic() - self.started
        ended = time.time()
        notes = {"geows-ending": self.ending}
        if self.protocol is not None:  # a WebSocket connection of this server's
            notes.update({"geows-protocol": self.protocol,
                          "geows-messages-in": str(self.messages_in),
                          "geows-messages-out": str(self.messages_out)})
        entry = Entry(
            client_ip=self.remote_addr[0], peer_ip=self.peer_ip,
            remote_port=self.remote_addr[1],
            local_ip=local_ip.removeprefix("::ffff:") if "." in local_ip else local_ip,
            local_port=local_port, began=ended - duration, ended=ended, duration=duration,
            server=logs.names, request=request,
            status=self.status if isinstance(self.status, int) else None,
            response_head=self.response_head,
            body_bytes=None if self.head_size is None
            else max(0, self.bytes_out - self.head_size),
            bytes_in=self.bytes_in, bytes_out=self.bytes_out, user=self.user,
            keepalives=self.messages_in - 1
            if self.handler == "proxy-server" and self.messages_in else 0,
            aborted="dropped" in self.ending,  # "connection dropped", its own or a forwarded one's
            handler=self.handler, tls=self.tls, notes=notes)
        return entry, logs
