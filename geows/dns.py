"""The system resolver, as the config reader asks it (geows.config.names.Names): the one
place the names in httpd.conf are looked up. Under gevent the stdlib resolver functions
cooperate."""

from __future__ import annotations

import ipaddress
import socket


class SystemNames:
    def addresses(self, host: str) -> list[str]:
        infos = socket.getaddrinfo(host, None, socket.AF_UNSPEC, socket.SOCK_STREAM, 0,
                                   socket.AI_ADDRCONFIG)
        return [str(ipaddress.ip_address(info[4][0].split("%")[0])) for info in infos]

    def reverse(self, ip: str) -> str | None:
        try:
            return socket.getnameinfo((ip, 0), socket.NI_NAMEREQD)[0]
        except OSError:
            return None

    def hostname(self) -> str:
        return socket.gethostname()


SYSTEM = SystemNames()
