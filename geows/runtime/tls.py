"""TLS as mod_ssl serves it, from the config's TlsSettings.

One SSLContext per server (main or <VirtualHost>) with SSLEngine on, and per TLS listener
one more whose SNI callback switches each handshake to the context of the vhost its server
name selects, as mod_ssl does; without a matching name, the address:port's default vhost's.
The reader has refused what mod_ssl refuses in the config itself (config.tls_settings);
the certificates, keys and cipher lists are loaded here, at `-t` too
(geows.process.startup.read_config), so what Python's ssl cannot honour is refused with
the FILE:LINE that asked for it.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from typing import TYPE_CHECKING

from geows.config.tls_settings import REFUSE, is_tls, located_error, server_tls
from geows.errors import ConfigError

if TYPE_CHECKING:
    from geows.config.model import Config, Listener
    from geows.config.tls_settings import Located, TlsSettings
    from geows.config.vhosts import VirtualHost


def listener_contexts(config: Config) -> dict[Listener, ssl.SSLContext | None]:
    """Each listener's SSLContext, None for plain text (config.tls_settings.is_tls says
    which; the reader has refused a plain server beside TLS ones)."""
    contexts: dict[int, ssl.SSLContext | None] = {}  # by id() of the vhost (None: main)
    found: dict[Listener, ssl.SSLContext | None] = {}
    for listener in config.listeners:
        servers = config.servers_on(listener)
        for server in servers:
            if id(server) not in contexts:
                settings = server_tls(config, server)
                contexts[id(server)] = None if settings is None else server_context(settings)
        found[listener] = _sni_context(config, listener, servers[0], contexts) \
            if is_tls(config, listener) else None
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
            raise located_error(settings.ciphers, "SSLCipherSuite: OpenSSL matches no "
                                f"cipher in '{settings.ciphers.value}'") from None
    if settings.tls13_ciphers is not None:
        _check_tls13_ciphers(context, settings.tls13_ciphers)
    if settings.honor_cipher_order:
        context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    if not settings.session_tickets:
        context.options |= ssl.OP_NO_TICKET
    for index, certificate in enumerate(settings.certificates):
        key = settings.keys[index] if index < len(settings.keys) else None
        _load(context, certificate, key, settings.chain)
    return context


def _sni_context(config: Config, listener: Listener, default: VirtualHost | None,
                 contexts: dict[int, ssl.SSLContext | None]) -> ssl.SSLContext:
    """A listener's own context (the default server's settings) whose SNI callback hands
    each handshake the context of the vhost its server name selects, as mod_ssl does."""
    context = server_context(server_tls(config, default))  # type: ignore[arg-type]  # TLS

    def select(sock: ssl.SSLSocket | ssl.SSLObject, name: str | None,
               _: ssl.SSLContext) -> None:
        # Without SNI (name None) this is the address:port's default vhost.
        server = config.virtual_host(name, listener.port, sock.getsockname()[0])
        chosen = contexts.get(id(server))
        if chosen is not None:
            sock.context = chosen

    context.sni_callback = select
    return context


def _check_tls13_ciphers(context: ssl.SSLContext, ciphers: Located) -> None:
    """Python's ssl cannot set TLS 1.3 cipher suites: honoured only when they are
    OpenSSL's defaults, in order, as they are served anyway."""
    defaults = [c["name"] for c in context.get_ciphers() if c["protocol"] == "TLSv1.3"]
    if ciphers.value.split(":") != defaults:
        raise located_error(ciphers, f"SSLCipherSuite TLSv1.3 {ciphers.value}: Python's ssl "
                            f"cannot set TLS 1.3 cipher suites, it serves OpenSSL's "
                            f"{':'.join(defaults)}; {REFUSE}")


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
        raise located_error(where, f"{os.path.basename(where.value)}: {e.message}") from None
    except (ssl.SSLError, OSError) as e:
        what = certificate.value if key is None else f"{certificate.value} with {key.value}"
        why = getattr(e, "reason", None) or e
        raise located_error(where, f"cannot load {what}: {why}") from None
