"""Apache in front of a fleet (tests/cluster/fleet.py): Debian's httpd, in a namespace of its
own, runs the lines `geows --apache-snippet --balancer` prints, verbatim, spreads 300 real
clients (of the clients' namespace) evenly over the 3 geows hosts, and the broadcasts of
senders on any host reach all of them, in one order."""

from __future__ import annotations

import re
import time

import pytest

from tests.cluster.fleet import HOSTS
from tests.cluster.netns import FRONT_ADDRESS
from tests.geows_process import ECHO_CONFIG, GeowsProcess, run_cli
from tests.test_apache_in_front import part, snippet, start_apache

CLIENTS = 300

# httpd -X serves in one process: a thread per tunnel, all 300 at once.
THREADS = """
ThreadLimit 400
ThreadsPerChild 400
MaxRequestWorkers 400
"""


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
def test_apache_spreads_300_clients_over_3_hosts_and_broadcasts_reach_them_all(
        fleet, tmp_path, form):
    hosts = [host.geows for host in fleet.hosts]
    text = balancer_snippet(hosts, form)
    members = re.findall(r"BalancerMember (\w+)://([\d.]+:\d+)", part(text, 1))
    expected_scheme = {"auto": ["http"] * HOSTS + ["ws"] * HOSTS, "ws": ["ws"] * HOSTS}[form]
    assert [scheme for scheme, _ in members] == expected_scheme
    assert {address for _, address in members} == {f"{g.address}:{g.port}" for g in hosts}
    assert "ProxyPass /chat balancer://geows/chat\n" in part(text, 1)
    # Part 3 is already in the hosts' config.
    settings = [line for line in part(text, 3).splitlines() if not line.startswith("#")]
    assert settings == ["RemoteIPHeader X-Forwarded-For", f"RemoteIPInternalProxy {FRONT_ADDRESS}"]

    front = fleet.net.front
    httpd, port = start_apache(tmp_path / "apache", part(text, 1) + THREADS,
                               address=front.address, prefix=front.run, connect=front.connect)
    senders, each = 3, 10
    sent = {k: [f"s{k}:{i}" for i in range(each)] for k in range(senders)}
    try:
        results = fleet.run({"clients": [{"url": f"ws://{front.address}:{port}/chat",
                                          "send": sent.get(k, [])} for k in range(CLIENTS)],
                             "expect": senders * each, "timeout": 60})
    finally:
        httpd.stop()
    order = results[0]["received"]
    assert sorted(order) == sorted(m for messages in sent.values() for m in messages)
    assert all(r["received"] == order for r in results)
    served = logged_websockets(hosts, CLIENTS)
    # Every connection arrived through Apache and is logged as the client's.
    assert all(line.startswith(f"{fleet.net.clients.address}:")
               for lines in served for line in lines)
    assert [len(lines) for lines in served] == [CLIENTS // HOSTS] * HOSTS


def test_several_backends_without_balancer_are_refused(tmp_path):
    config = tmp_path / "httpd.conf"
    config.write_text(ECHO_CONFIG.replace("@PORT@", "8080"))
    done = run_cli("--apache-snippet", "-f", str(config), "--backend", "10.0.0.1:8080",
                   "--backend", "10.0.0.2:8080", "--apache-address", "10.0.0.9")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == "several --backend: Apache reaches one geows without --balancer\n"
