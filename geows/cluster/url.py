"""WebSocketBroadcast's settings: the Redis URL, read and checked when the config is read
(a bad one is a `-t` error at its line), shown with its password replaced, and turned into
the redis client's connection arguments only where a process connects (geows.cluster.link).

Forms, as redis-py's from_url takes them (the query options it would take are the ones
listed below; any other is refused, so that a typo is not ignored):
    redis://[[user]:password@]host[:port][/db]
    rediss://[[user]:password@]host[:port][/db][?ssl_cert_reqs=...&ssl_ca_certs=...]
    unix://[[user]:password@]/path/to/redis.sock[?db=N]
Imports neither redis nor socket: the config layer uses it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from geows.errors import ConfigError

DEFAULT_PORT = 6379
SCHEMES = ("redis", "rediss", "unix")
CERT_REQS = ("none", "optional", "required")
# rediss:// options: files (relative ones are taken from ServerRoot, as httpd's SSL* files)
# and ssl_cert_reqs / ssl_check_hostname's words.
TLS_FILES = ("ssl_ca_certs", "ssl_ca_path", "ssl_certfile", "ssl_keyfile")
TLS_OPTIONS = (*TLS_FILES, "ssl_cert_reqs", "ssl_check_hostname")



@dataclass(frozen=True)
class RedisURL:
    """A checked WebSocketBroadcast URL."""

    scheme: str
    host: str | None  # None for unix://
    port: int | None
    path: str | None  # the socket's path, for unix://
    db: int
    username: str | None
    password: str | None = field(repr=False)
    tls: tuple[tuple[str, str], ...] = ()  # rediss:// options, as (name, value)

    @property
    def redacted(self) -> str:
        """The URL for logs and the status page: any password is '***'."""
        user = quote(self.username or "", safe="")
        auth = f"{user}:***@" if self.password is not None else (f"{user}@" if user else "")
        if self.scheme == "unix":
            where = f"unix://{auth}{self.path}" + (f"?db={self.db}" if self.db else "")
            return where
        host = f"[{self.host}]" if ":" in (self.host or "") else self.host
        query = "&".join(f"{name}={value}" for name, value in self.tls)
        return (f"{self.scheme}://{auth}{host}:{self.port}/{self.db}"
                + (f"?{query}" if query else ""))

    def connection_arguments(self) -> dict[str, Any]:
        """The redis client's keyword arguments for this URL (redis.Redis(**...)), without
        its timeouts and retries, which the link sets."""
        arguments: dict[str, Any] = {"db": self.db, "username": self.username,
                                     "password": self.password}
        if self.scheme == "unix":
            return {**arguments, "unix_socket_path": self.path}
        arguments.update(host=self.host, port=self.port)
        if self.scheme == "rediss":
            arguments["ssl"] = True
            for name, value in self.tls:
                arguments[name] = (value.lower() == "true") if name == "ssl_check_hostname" \
                    else value
        return arguments


@dataclass(frozen=True)
class BroadcastSettings:
    """The main server's WebSocketBroadcast* directives (None when WebSocketBroadcast is
    Off): the URL, the prefix of every key and channel geows uses in Redis, and how many
    messages per location Redis keeps as history to repair gaps from."""

    url: RedisURL
    prefix: str
    history: int
    file: str  # where WebSocketBroadcast is
    line: int


def parse_redis_url(value: str, root: str) -> RedisURL:
    """WebSocketBroadcast's URL, checked; relative TLS file names are taken from `root`
    (ServerRoot). ConfigError saying what is wrong (never with the password in it)."""
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES or "://" not in value:
        raise ConfigError("WebSocketBroadcast: expected redis://host[:port][/db], "
                          "rediss://..., unix:///path or Off, not "
                          f"'{_without_password(value)}'")
    if parts.fragment:
        raise ConfigError("WebSocketBroadcast: a Redis URL has no #fragment")
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if scheme == "unix":
        if not parts.path or parts.path == "/":
            raise ConfigError("WebSocketBroadcast: unix:// needs the socket's path, as "
                              "unix:///run/redis/redis.sock")
        db = _db(options.pop("db", "0"))
        _no_other_options(options, "unix://")
        return RedisURL(scheme, None, None, unquote(parts.path), db, username, password)
    try:
        port = DEFAULT_PORT if parts.port is None else parts.port
    except ValueError:
        raise ConfigError("WebSocketBroadcast: the port must be a number from 1 to "
                          "65535") from None
    if not parts.hostname:
        raise ConfigError("WebSocketBroadcast: the URL names no host")
    if port == 0:
        raise ConfigError("WebSocketBroadcast: the port must be a number from 1 to 65535")
    db = _db(parts.path.lstrip("/") or options.pop("db", "0"))
    tls: list[tuple[str, str]] = []
    if scheme == "rediss":
        tls = _tls_options(options, root)
    _no_other_options(options, f"{scheme}://")
    return RedisURL(scheme, parts.hostname, port, None, db, username, password, tuple(tls))


def _db(value: str) -> int:
    if not value.isascii() or not value.isdigit():
        raise ConfigError(f"WebSocketBroadcast: the database must be a number, not '{value}'")
    return int(value)


def _tls_options(options: dict[str, str], root: str) -> list[tuple[str, str]]:
    tls = []
    for name in TLS_OPTIONS:
        if name not in options:
            continue
        value = options.pop(name)
        if name in TLS_FILES:
            value = os.path.join(root, value)
        elif name == "ssl_cert_reqs" and value.lower() not in CERT_REQS:
            raise ConfigError(f"WebSocketBroadcast: ssl_cert_reqs must be none, optional or "
                              f"required, not '{value}'")
        elif name == "ssl_check_hostname" and value.lower() not in ("true", "false"):
            raise ConfigError("WebSocketBroadcast: ssl_check_hostname must be true or false")
        tls.append((name, value.lower() if name == "ssl_cert_reqs" else value))
    return tls


def _no_other_options(options: dict[str, str], scheme: str) -> None:
    if options:
        known = ", ".join(("db", *TLS_OPTIONS) if scheme == "rediss://" else ("db",))
        raise ConfigError(f"WebSocketBroadcast: {scheme} takes no option "
                          f"'{next(iter(options))}' (it takes {known})")


def _without_password(value: str) -> str:
    """A URL that did not parse, for its error message: anything between '://' and the
    last '@' may hold a password, so it is left out."""
    head, sep, rest = value.partition("://")
    if sep and "@" in rest:
        return f"{head}://***@{rest.rpartition('@')[2]}"
    return value
