"""geows.process.systemd.notify against real datagram sockets: a path, an abstract name
(`@...`), none at all, and one nobody listens on (logged, never raised)."""

from __future__ import annotations

import logging
import os
import socket

from geows.process.systemd import notify


def test_fields_reach_a_socket_by_path(tmp_path, monkeypatch):
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(str(tmp_path / "notify"))
        systemd.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
        notify("READY=1", "STATUS=generation 0 serving")
        assert systemd.recv(4096) == b"READY=1\nSTATUS=generation 0 serving"


def test_fields_reach_an_abstract_socket(monkeypatch):
    name = f"geows-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind("\0" + name)
        systemd.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        notify("STOPPING=1")
        assert systemd.recv(4096) == b"STOPPING=1"


def test_nothing_is_sent_without_notify_socket(monkeypatch, caplog):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    with caplog.at_level(logging.DEBUG):
        notify("READY=1")
    assert caplog.records == []


def test_a_socket_nobody_listens_on_is_logged(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone"))
    notify("READY=1")
    [record] = caplog.records
    assert record.levelno == logging.ERROR and "could not tell systemd READY=1" in \
        record.getMessage() and str(tmp_path / "gone") in record.getMessage()
