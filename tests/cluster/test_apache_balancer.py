"""Apache in front of a fleet: Debian's httpd, in a namespace of its own, runs the lines
`geows --apache-snippet --balancer` prints, verbatim, and spreads 300 real clients (of the
clients' namespace) evenly over 3 geows hosts of 2 workers each."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from tests.cluster.clients import Clients
from tests.cluster.netns import FRONT_ADDRESS, Network, geows_on, network
from tests.geows_process import ECHO_CONFIG, GeowsProcess, run_cli
from tests.test_apache_in_front import part, snippet, start_apache

HOSTS = 3
CLIENTS = 300

# geows' side, with part 3 of the snippet already in it (the test checks it is).
GEOWS = f"""
Listen @ADDRESS@:@PORT@
StartServers 2
RemoteIPHeader X-Forwarded-For
RemoteIPInternalProxy {FRONT_ADDRESS}
<Location /echo>
  SetHandler websocket-handler
  WebSocketHandler plugins/echo.py echo_init
</Location>
"""

# httpd -X serves in one process: a thread per tunnel, all 300 at once.
THREADS = """
ThreadLimit 400
ThreadsPerChild 400
MaxRequestWorkers 400
"""


@pytest.fixture
def fleet() -> Iterator[tuple[Network, list[GeowsProcess]]]:
    with network(HOSTS) as net:
        hosts = []
        try:
            for host in net.hosts:
                hosts.append(geows_on(host, GEOWS))
            for geows in hosts:
                geows.wait_for_workers(2)
            yield net, hosts
        finally:
            assert [geows.stop() for geows in hosts] == [0] * len(hosts)


def logged_websockets(hosts: list[GeowsProcess], total: int,
                      timeout: float = 10) -> list[list[str]]:
    """Each host's access-log lines of WebSocket connections, once `total` are logged in
    all (a line is written as its connection ends)."""
    deadline = time.monotonic() + timeout
    while True:
        served = [[line for line in geows.access_log.splitlines() if '" 101 ' in line]
                  for geows in hosts]
        if sum(map(len, served)) >= total or time.monotonic() > deadline:
            return served
        time.sleep(0.05)


def balancer_snippet(hosts: list[GeowsProcess], form: str) -> str:
    backends = [arg for geows in hosts for arg in ("--backend", f"{geows.address}:{geows.port}")]
    return snippet(hosts[0].config, "--balancer", *backends, "--apache-address", FRONT_ADDRESS,
                   "--proxy-form", form)


@pytest.mark.parametrize("form", ["auto", "ws"])
def test_apache_spreads_300_clients_evenly_over_3_hosts(fleet, tmp_path, form):
    net, hosts = fleet
    text = balancer_snippet(hosts, form)
    members = re.findall(r"BalancerMember (\w+)://([\d.]+:\d+)", part(text, 1))
    expected_scheme = {"auto": ["http"] * HOSTS + ["ws"] * HOSTS, "ws": ["ws"] * HOSTS}[form]
    assert [scheme for scheme, _ in members] == expected_scheme
    assert {address for _, address in members} == {f"{g.address}:{g.port}" for g in hosts}
    assert "ProxyPass /echo balancer://geows/echo\n" in part(text, 1)
    # Part 3 is already in geows' config.
    settings = [line for line in part(text, 3).splitlines() if not line.startswith("#")]
    assert settings == ["RemoteIPHeader X-Forwarded-For",
                        f"RemoteIPInternalProxy {FRONT_ADDRESS}"]

    httpd, port = start_apache(tmp_path / "apache", part(text, 1) + THREADS,
                               address=net.front.address, prefix=net.front.run,
                               connect=net.front.connect)
    try:
        plan = {"clients": [{"url": f"ws://{net.front.address}:{port}/echo",
                             "send": [f"hello {i}"]} for i in range(CLIENTS)],
                "expect": 1, "timeout": 60}
        clients = Clients(net.clients, plan)
        assert clients.ready() == CLIENTS
        results = clients.go()["clients"]
    finally:
        httpd.stop()
    assert [(r["error"], r["received"]) for r in results] == [
        (None, [f"hello {i}"]) for i in range(CLIENTS)]
    served = logged_websockets(hosts, CLIENTS)
    # Every connection arrived through Apache and is logged as the client's.
    assert all(line.startswith(f"{net.clients.address}:") for lines in served for line in lines)
    assert [len(lines) for lines in served] == [CLIENTS // HOSTS] * HOSTS


def test_several_backends_without_balancer_are_refused(tmp_path):
    config = tmp_path / "httpd.conf"
    config.write_text(ECHO_CONFIG.replace("@PORT@", "8080"))
    done = run_cli("--apache-snippet", "-f", str(config), "--backend", "10.0.0.1:8080",
                   "--backend", "10.0.0.2:8080", "--apache-address", "10.0.0.9")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == "several --backend: Apache reaches one geows without --balancer\n"
