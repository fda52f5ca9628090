"""Hosts as Linux network namespaces: one per geows host, one for redis-server, one for the
clients, one for a front (Apache before the hosts), each with an `eth0` on one subnet,
joined by a bridge in a namespace of its own (the switch), so that nothing is added to the
root namespace: not an address, not a link.

`network(hosts)` makes them and removes them afterwards, even when the test fails: it
kills what still runs in them (by pid, from `ip netns pids`: only what the test started
there) and deletes the namespaces, whose links go with them. A network namespace is per
thread, so `Namespace.socket()` makes a socket in a namespace from a short thread that
joins it: the tests' own probes (is geows listening, is Redis answering) reach into the
namespaces without a process per probe; processes run in one with `Namespace.run`'s prefix,
`ip netns exec NAME`. `Network.partition(host, peer)` drops, with nftables in the host's
namespace, every packet between the two (a silent partition: no reset, no ICMP) until it
is lifted.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from tests.geows_process import GeowsProcess, missing_tool

SUBNET = "10.16.0"  # /24, seen only inside the namespaces
REDIS_ADDRESS = f"{SUBNET}.2"
CLIENTS_ADDRESS = f"{SUBNET}.3"
FRONT_ADDRESS = f"{SUBNET}.4"
FIRST_HOST = 11  # h1 is .11, h2 .12...
COMMAND_TIMEOUT = 10  # seconds, for any one ip or nft command
_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
_networks = itertools.count(1)


class NamespacesUnavailable(Exception):
    """This machine does not let the tests make network namespaces (not root, a container
    without CAP_NET_ADMIN...)."""


def _tool(name: str) -> str:
    path = shutil.which(name) or f"/usr/sbin/{name}"
    if not os.access(path, os.X_OK):
        missing_tool(f"{name} not installed (apt-get install iproute2 nftables)")
    return path


def _run(*command: str, stdin: str | None = None) -> str:
    done = subprocess.run(command, input=stdin, capture_output=True, text=True,
                          timeout=COMMAND_TIMEOUT)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr}")
    return done.stdout


@dataclass(frozen=True)
class Namespace:
    """One host of the test's network: its namespace's name and its address on the
    subnet."""

    name: str
    address: str

    @property
    def run(self) -> tuple[str, ...]:
        """The prefix that runs a command inside this namespace."""
        return (_tool("ip"), "netns", "exec", self.name)

    def socket(self, family: int = socket.AF_INET,
               kind: int = socket.SOCK_STREAM) -> socket.socket:
        """A socket in this namespace (it stays there whichever thread uses it)."""
        made: list[socket.socket | BaseException] = []

        def make() -> None:
            try:
                with open(f"/run/netns/{self.name}") as handle:
                    if _libc.setns(handle.fileno(), _CLONE_NEWNET):
                        errno = ctypes.get_errno()
                        raise OSError(errno, f"setns {self.name}: {os.strerror(errno)}")
                made.append(socket.socket(family, kind))
            except BaseException as error:  # handed to the caller's thread below
                made.append(error)

        thread = threading.Thread(target=make, name=f"setns {self.name}")
        thread.start()
        thread.join(COMMAND_TIMEOUT)
        assert made, f"could not make a socket in {self.name} within {COMMAND_TIMEOUT} s"
        if isinstance(made[0], BaseException):
            raise made[0]
        return made[0]

    def connect(self, address: tuple[str, int], timeout: float) -> socket.socket:
        """A TCP connection from this namespace, as socket.create_connection's."""
        sock = self.socket()
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except BaseException:
            sock.close()
            raise
        return sock

    def pids(self) -> list[int]:
        return [int(pid) for pid in _run(_tool("ip"), "netns", "pids", self.name).split()]


@dataclass
class Network:
    """The namespaces of one test: `hosts` (h1, h2...), `redis`, `clients`, `front`, and
    the switch's namespace holding the bridge."""

    prefix: str
    hosts: list[Namespace] = field(default_factory=list)
    made: list[str] = field(default_factory=list)  # namespaces' names, to remove

    @property
    def redis(self) -> Namespace:
        return Namespace(f"{self.prefix}-redis", REDIS_ADDRESS)

    @property
    def clients(self) -> Namespace:
        return Namespace(f"{self.prefix}-clients", CLIENTS_ADDRESS)

    @property
    def front(self) -> Namespace:
        return Namespace(f"{self.prefix}-front", FRONT_ADDRESS)

    @property
    def switch(self) -> str:
        return f"{self.prefix}-switch"

    def make(self, hosts: int) -> None:
        ip = _tool("ip")
        self._add_namespace(self.switch)
        _run(ip, "-n", self.switch, "link", "add", "name", "br0", "type", "bridge")
        _run(ip, "-n", self.switch, "link", "set", "dev", "br0", "up")
        self.hosts = [Namespace(f"{self.prefix}-h{number}", f"{SUBNET}.{FIRST_HOST + number - 1}")
                      for number in range(1, hosts + 1)]
        for namespace in (self.redis, self.clients, self.front, *self.hosts):
            self._add_namespace(namespace.name)
            port = namespace.name.rsplit("-", 1)[1]  # its end of the cable, on the switch
            _run(ip, "-n", self.switch, "link", "add", "name", port, "type", "veth",
                 "peer", "name", "eth0", "netns", namespace.name)
            _run(ip, "-n", self.switch, "link", "set", "dev", port, "master", "br0", "up")
            _run(ip, "-n", namespace.name, "addr", "add", f"{namespace.address}/24",
                 "dev", "eth0")
            _run(ip, "-n", namespace.name, "link", "set", "dev", "eth0", "up")
            _run(ip, "-n", namespace.name, "link", "set", "dev", "lo", "up")

    def _add_namespace(self, name: str) -> None:
        done = subprocess.run([_tool("ip"), "netns", "add", name], capture_output=True,
                              text=True, timeout=COMMAND_TIMEOUT)
        if done.returncode:
            raise NamespacesUnavailable(f"ip netns add {name}: {done.stderr.strip()}")
        self.made.append(name)

    def remove(self) -> None:
        """Kill what runs in the namespaces, then delete them (their links go with them)."""
        for name in self.made:
            for pid in Namespace(name, "").pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass  # ended meanwhile
        for name in reversed(self.made):
            _run(_tool("ip"), "netns", "delete", name)
        self.made.clear()

    @contextmanager
    def partition(self, host: Namespace, peer: Namespace) -> Iterator[None]:
        """Drop every packet between `host` and `peer` (nftables, in the host's namespace)
        while the block runs."""
        nft = (*host.run, _tool("nft"))
        _run(*nft, "-f", "-", stdin=f"""
            table inet geows_partition {{
                chain input {{ type filter hook input priority 0; ip saddr {peer.address} drop; }}
                chain output {{ type filter hook output priority 0; ip daddr {peer.address} drop; }}
            }}""")
        try:
            yield
        finally:
            _run(*nft, "delete", "table", "inet", "geows_partition")


@contextmanager
def network(hosts: int) -> Iterator[Network]:
    """A network of `hosts` geows hosts, Redis' and the clients' namespaces, removed
    afterwards. Namespaces that cannot be made skip the test, and fail it under CI=true."""
    made = Network(f"geows{os.getpid()}n{next(_networks)}")
    try:
        try:
            made.make(hosts)
        except NamespacesUnavailable as error:
            message = f"network namespaces cannot be made here: {error}"
            if os.environ.get("CI") == "true":
                pytest.fail(message, pytrace=False)
            pytest.skip(message)
        yield made
    finally:
        made.remove()


def geows_on(host: Namespace, config_text: str, **options) -> GeowsProcess:
    """The geows CLI running in `host`'s namespace on a config whose `@ADDRESS@` is the
    host's address (and @PORT@ a port, as GeowsProcess makes it)."""
    return GeowsProcess(config_text.replace("@ADDRESS@", host.address), prefix=host.run,
                        address=host.address, connect=host.connect, **options)
