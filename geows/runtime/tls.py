"""TLS as mod_ssl serves it, from the config's TlsSettings.

One SSLContext per server (main or <VirtualHost>) with SSLEngine on, and per TLS listener
one more whose SNI callback switches each handshake to the context of the vhost its server
name selects, as mod_ssl does; without a matching name, the address:port's default vhost's.
Everything is loaded here, at `-t` too (the reader calls listener_contexts), so what Python's
ssl cannot honour is refused with the FILE:LINE that asked for it.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from typing import TYPE_CHECKING

from geows.errors import ConfigError

if TYPE_CHECKING:
    from geows.config.model import Config, Listener
    from geows.config.tls_settings import Located, TlsSettings
    from geows.config.vhosts import VirtualHost

_REFUSE = "geows refuses to start rather than serve TLS other than configured"


def listener_contexts(config: Config) -> dict[Listener, ssl.SSLContext | None]:
    """Each listener's SSLContext, None for plain text. A listener is TLS when it says
    `https` or a server answering on it has SSLEngine on; then every server answering on it
    must be TLS (geows refuses to serve one of them as plain text beside the others)."""
    contexts: dict[int, ssl.SSLContext | None] = {}  # by id() of the vhost (None: main)
    found: dict[Listener, ssl.SSLContext | None] = {}
    for listener in config.listeners:
        servers = config.servers_on(listener)
        for server in servers:
            if id(server) not in contexts:
                settings = _settings(config, server)
                contexts[id(server)] = None if settings is None else server_context(settings)
        if listener.protocol != "https" and all(contexts[id(s)] is None for s in servers):
            found[listener] = None
            continue
        for server in servers:
            if contexts[id(server)] is None:
                raise _plain_beside_tls(config, listener, server)
        found[listener] = _sni_context(config, listener, servers[0], contexts)
    return found


def server_context(settings: TlsSettings) -> ssl.SSLContext:
    """One server's SSLContext: protocols, ciphers, options, then its certificates."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if settings.protocols is not None:
        # mod_ssl's version names are TLSVersion's with "_" for ".": TLSv1.2 -> TLSv1_2.
        low, high = (ssl.TLSVersion[name.replace(".", "_")] for name in settings.protocols)
        context.minimum_version, context.maximum_version = low, high
    if settings.ciphers is not None:
        try:
            context.set_ciphers(settings.ciphers.value)
        except ssl.SSLError:
            raise _error(settings.ciphers, "SSLCipherSuite: OpenSSL matches no cipher in "
                         f"'{settings.ciphers.value}'") from None
    if settings.tls13_ciphers is not None:
        _check_tls13_ciphers(context, settings.tls13_ciphers)
    if settings.honor_cipher_order:
        context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    if not settings.session_tickets:
        context.options |= ssl.OP_NO_TICKET
    if not settings.certificates:
        raise _error(settings.engine, "SSLEngine on: the server has no certificate "
                     "[Hint: SSLCertificateFile]")
    if len(settings.keys) > len(settings.certificates):
        raise _error(settings.keys[len(settings.certificates)],
                     "SSLCertificateKeyFile without its SSLCertificateFile")
    for index, certificate in enumerate(settings.certificates):
        key = settings.keys[index] if index < len(settings.keys) else None
        _load(context, certificate, key, settings.chain)
    return context


def _settings(config: Config, server: VirtualHost | None) -> TlsSettings | None:
    return config.tls if server is None else server.tls


def _sni_context(config: Config, listener: Listener, default: VirtualHost | None,
                 contexts: dict[int, ssl.SSLContext | None]) -> ssl.SSLContext:
    """A listener's own context (the default server's settings) whose SNI callback hands
    each handshake the context of the vhost its server name selects, as mod_ssl does."""
    context = server_context(_settings(config, default))  # type: ignore[arg-type]  # TLS

    def select(sock: ssl.SSLSocket | ssl.SSLObject, name: str | None,
               _: ssl.SSLContext) -> None:
        # Without SNI (name None) this is the address:port's default vhost.
        server = config.virtual_host(name, listener.port, sock.getsockname()[0])
        chosen = contexts.get(id(server))
        if chosen is not None:
            sock.context = chosen

    context.sni_callback = select
    return context


def _plain_beside_tls(config: Config, listener: Listener,
                      server: VirtualHost | None) -> ConfigError:
    """Why a server without SSLEngine on cannot answer on a TLS listener."""
    engines = [settings.engine for s in config.servers_on(listener)
               if (settings := _settings(config, s)) is not None]
    why = f"SSLEngine on at {engines[0].file}:{engines[0].line}" if engines else "https"
    message = f"answers on the TLS listener at {listener.file}:{listener.line} ({why}) " \
        f"without SSLEngine on; {_REFUSE}"
    if server is None:
        return ConfigError(f"the main server {message}", listener.file, listener.line)
    return ConfigError(f"<VirtualHost> {message}", server.file, server.line)


def _check_tls13_ciphers(context: ssl.SSLContext, ciphers: Located) -> None:
    """Python's ssl cannot set TLS 1.3 cipher suites: honoured only when they are
    OpenSSL's defaults, in order, as they are served anyway."""
    defaults = [c["name"] for c in context.get_ciphers() if c["protocol"] == "TLSv1.3"]
    if ciphers.value.split(":") != defaults:
        raise _error(ciphers, f"SSLCipherSuite TLSv1.3 {ciphers.value}: Python's ssl cannot "
                     f"set TLS 1.3 cipher suites, it serves OpenSSL's {':'.join(defaults)}; "
                     f"{_REFUSE}")


def _no_passphrase() -> str:
    raise ConfigError("encrypted keys are not supported (geows has no SSLPassPhraseDialog)")


def _load(context: ssl.SSLContext, certificate: Located, key: Located | None,
          chain: Located | None) -> None:
    """load_cert_chain, with SSLCertificateChainFile's CA certificates after the
    certificate (Python's ssl takes a chain only in the certificate's file)."""
    where = key or certificate
    try:
        if chain is None:
            context.load_cert_chain(certificate.value, key and key.value, _no_passphrase)
            return
        with open(certificate.value, "rb") as own, open(chain.value, "rb") as extra, \
                tempfile.NamedTemporaryFile(suffix=".pem") as combined:
            combined.write(own.read().rstrip(b"\n") + b"\n" + extra.read())
            combined.flush()
            context.load_cert_chain(combined.name, key.value if key else certificate.value,
                                    _no_passphrase)
    except ConfigError as e:
        raise _error(where, f"{os.path.basename(where.value)}: {e.message}") from None
    except (ssl.SSLError, OSError) as e:
        what = certificate.value if key is None else f"{certificate.value} with {key.value}"
        raise _error(where, f"cannot load {what}: {getattr(e, 'reason', None) or e}") from None


def _error(located: Located, message: str) -> ConfigError:
    return ConfigError(message, located.file, located.line)
