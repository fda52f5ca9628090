"""bind(): the listening sockets the master (one per worker slot) and -X bind."""

from __future__ import annotations

import socket

import pytest

from geows.config import Listener, load_config
from geows.errors import ConfigError
from geows.process.listeners import bind, bind_all
from tests.geows_process import free_port


def loopback(port: int) -> Listener:
    return Listener(host="127.0.0.1", port=port, file="httpd.conf", line=1)


def test_a_socket_bound_without_listening_takes_connections_once_it_listens():
    listener = loopback(free_port())
    with bind(listener, listen=False) as sock:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", listener.port), timeout=1)
        sock.listen()
        socket.create_connection(("127.0.0.1", listener.port), timeout=1).close()


def test_slots_share_an_address_that_a_plain_bind_finds_taken():
    listener = loopback(free_port())
    with bind(listener, reuse_port=True) as first, bind(listener, reuse_port=True) as second:
        assert first.getsockname() == second.getsockname()
        # The master's check that no other server is there; the refusal names the Listen.
        with pytest.raises(ConfigError, match=f"^httpd.conf:1: Listen 127.0.0.1:{listener.port}: "
                                              "Address already in use$"):
            bind(listener, listen=False)


def test_every_listen_of_a_config_gets_its_listening_socket(tmp_path):
    ports = free_port(), free_port()
    conf = tmp_path / "httpd.conf"
    conf.write_text("".join(f"Listen 127.0.0.1:{port}\n" for port in ports))
    sockets = bind_all(load_config(conf, server_root=tmp_path))
    try:
        assert sorted(sockets) == sorted(("127.0.0.1", port) for port in ports)
        for (host, port), sock in sockets.items():
            assert sock.getsockname() == (host, port)
            socket.create_connection((host, port), timeout=1).close()
    finally:
        for sock in sockets.values():
            sock.close()
