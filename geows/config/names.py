"""The names a config read needs looked up, asked of whoever reads it: the reader itself
does no DNS (docs/explanation/layout.md). geows.dns answers as the system resolver does; tests may
hand a table."""

from __future__ import annotations

from typing import Protocol


class Names(Protocol):
    def addresses(self, host: str) -> list[str]:
        """A <VirtualHost> name's addresses, as httpd's apr_sockaddr_info_get(APR_UNSPEC)
        finds them. Raises OSError or UnicodeError when the name does not resolve."""

    def reverse(self, ip: str) -> str | None:
        """The name of an address (an IP-based vhost without ServerName), or None."""

    def hostname(self) -> str:
        """This machine's name (the main server's, without ServerName)."""
