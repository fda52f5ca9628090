"""mod_ssl's per-server settings, as read from httpd.conf (geows.runtime.tls makes them
SSLContexts)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Located:
    """A directive's value and where it was written, for errors found after reading."""

    value: str
    file: str
    line: int


@dataclass(frozen=True)
class TlsSettings:
    """One server's mod_ssl configuration, the main server's merged in as mod_ssl does:
    a setting a <VirtualHost> leaves unset is the main server's. Only servers with
    `SSLEngine on` have one."""

    engine: Located  # the SSLEngine on line: where the server is said to be TLS
    certificates: tuple[Located, ...] = ()  # SSLCertificateFile lines, absolute paths
    keys: tuple[Located, ...] = ()  # SSLCertificateKeyFile lines, paired by position
    chain: Located | None = None  # SSLCertificateChainFile
    protocols: tuple[str, str] | None = None  # SSLProtocol as (lowest, highest) version
    ciphers: Located | None = None  # SSLCipherSuite for TLS 1.2 and below
    tls13_ciphers: Located | None = None  # SSLCipherSuite TLSv1.3 ...
    honor_cipher_order: bool = False  # SSLHonorCipherOrder
    session_tickets: bool = True  # SSLSessionTickets
