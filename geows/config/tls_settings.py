"""mod_ssl's per-server settings, as read from httpd.conf, and what mod_ssl refuses in
them before it loads anything (geows.runtime.tls makes them SSLContexts)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from geows.errors import ConfigError

if TYPE_CHECKING:
    from geows.config.model import Config, Listener
    from geows.config.vhosts import VirtualHost

REFUSE = "geows refuses to start rather than serve TLS other than configured"


@dataclass(frozen=True)
class Located:
    """A directive's value and where it was written, for errors found after reading."""

    value: str
    file: str
    line: int


@dataclass(frozen=True, kw_only=True)
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


def server_tls(config: Config, server: VirtualHost | None) -> TlsSettings | None:
    """A server's settings (None: the main server), or None when it is not TLS."""
    return config.tls if server is None else server.tls


def is_tls(config: Config, listener: Listener) -> bool:
    """A listener is TLS when it says `https` or a server answering on it has SSLEngine on."""
    return listener.protocol == "https" or any(
        server_tls(config, server) is not None for server in config.servers_on(listener))


def check_tls(config: Config) -> None:
    """Refuse (ConfigError at FILE:LINE) a TLS server without a certificate, a key without
    its certificate, and a server answering plain text on a TLS listener beside the others."""
    for listener in config.listeners:
        servers = config.servers_on(listener)
        for settings in filter(None, (server_tls(config, server) for server in servers)):
            if not settings.certificates:
                raise located_error(settings.engine, "SSLEngine on: the server has no "
                                    "certificate [Hint: SSLCertificateFile]")
            if len(settings.keys) > len(settings.certificates):
                raise located_error(settings.keys[len(settings.certificates)],
                                    "SSLCertificateKeyFile without its SSLCertificateFile")
        if is_tls(config, listener):
            for server in servers:
                if server_tls(config, server) is None:
                    raise _plain_beside_tls(config, listener, server)


def _plain_beside_tls(config: Config, listener: Listener,
                      server: VirtualHost | None) -> ConfigError:
    """Why a server without SSLEngine on cannot answer on a TLS listener."""
    engines = [settings.engine for s in config.servers_on(listener)
               if (settings := server_tls(config, s)) is not None]
    why = f"SSLEngine on at {engines[0].file}:{engines[0].line}" if engines else "https"
    message = f"answers on the TLS listener at {listener.file}:{listener.line} ({why}) " \
        f"without SSLEngine on; {REFUSE}"
    if server is None:
        return ConfigError(f"the main server {message}", listener.file, listener.line)
    return ConfigError(f"<VirtualHost> {message}", server.file, server.line)


def located_error(located: Located, message: str) -> ConfigError:
    return ConfigError(message, located.file, located.line)
