"""A fleet for the tests across hosts: 3 geows hosts of 2 workers each, each in a network
namespace of its own (tests.cluster.netns), linked to one redis-server in another
(WebSocketBroadcast), serving a plugin that broadcasts (to the location or to a room) and
a status page; each host's figures, read from its ?prometheus in its own namespace."""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from tests.cluster.clients import Clients
from tests.cluster.hosts import wait_until
from tests.cluster.netns import FRONT_ADDRESS, Namespace, Network, geows_on, network
from tests.cluster.netns_redis import RedisServer
from tests.geows_process import GeowsProcess

HOSTS = 3
WORKERS = 2
LOCATION = "<Location /chat>"

# Apache in front (tests/cluster/test_apache_balancer.py) is a trusted proxy.
CONFIG = f"""
Listen @ADDRESS@:@PORT@
StartServers {WORKERS}
WebSocketBroadcast {{redis}}
RemoteIPHeader X-Forwarded-For
RemoteIPInternalProxy {FRONT_ADDRESS}
<Location /chat>
  SetHandler websocket-handler
  WebSocketHandler @DIR@/fleet.py fleet_init
</Location>
<Location /geows-status>
  SetHandler geows-status
</Location>
"""

# "join ROOM" joins and answers "joined ROOM"; "to ROOM TEXT" broadcasts TEXT to the room;
# any other text is broadcast to the location.
PLUGIN = """
from geows.plugin import TEXT, Plugin


def fleet_init():
    def on_message(state, server, type, data):
        verb, _, rest = data.partition(" ")
        if verb == "join":
            server.join(rest)
            server.send(TEXT, f"joined {rest}")
        elif verb == "to":
            room, _, text = rest.partition(" ")
            server.broadcast(TEXT, text, room=room)
        else:
            server.broadcast(TEXT, data)

    return Plugin(on_message=on_message)
"""

# One host's Prometheus figures: sample name -> labels (sorted items) -> value.
Figures = dict[str, dict[tuple, float]]


@dataclass
class Host:
    namespace: Namespace
    geows: GeowsProcess

    @property
    def url(self) -> str:
        return f"ws://{self.geows.address}:{self.geows.port}/chat"

    def figures(self) -> Figures:
        """The host's ?prometheus, asked from its own namespace."""
        connection = http.client.HTTPConnection(self.geows.address, self.geows.port, timeout=10)
        connection.sock = self.namespace.connect((self.geows.address, self.geows.port), 10)
        try:
            connection.request("GET", "/geows-status?prometheus")
            response = connection.getresponse()
            assert response.status == 200
            text = response.read().decode()
        finally:
            connection.close()
        samples: Figures = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = \
                    sample.value
        return samples

    def links_up(self) -> list[float]:
        """Each worker's geows_broadcast_link_up."""
        return list(self.figures().get("geows_broadcast_link_up", {}).values())

    def per_worker(self, name: str, page: Figures | None = None) -> list[float]:
        """A figure of the plugin's location, of each worker (on `page`, or a page asked now)."""
        page = self.figures() if page is None else page
        return [value for labels, value in page.get(name, {}).items()
                if ("location", LOCATION) in labels]

    def page_where(self, name: str, values: list[float], timeout: float) -> Figures:
        """The first page of figures on which each worker's `name` is `values`. Read what
        goes with it from this page: each worker's figures on a page come from one report
        of it, but two pages, answered by different workers, can show a worker's from
        different reports, the later page the older."""
        deadline = time.monotonic() + timeout
        while True:
            page = self.figures()
            if self.per_worker(name, page) == values:
                return page
            assert time.monotonic() < deadline, f"{name} {self.per_worker(name, page)}"
            time.sleep(0.02)


@dataclass
class Fleet:
    net: Network
    hosts: list[Host]

    def run(self, plan: dict) -> list[dict]:
        """The clients' plan, run in the clients' namespace: what each received; every
        client opened, and none failed."""
        clients = Clients(self.net.clients, plan)
        assert clients.ready() == len(plan["clients"])
        results = clients.go()["clients"]
        assert [r["error"] for r in results] == [None] * len(results)
        return results


@contextmanager
def running_fleet() -> Iterator[Fleet]:
    """The network, its Redis and its hosts, once every worker's link is up; all stopped
    afterwards (each geows exiting 0)."""
    with network(HOSTS) as net:
        redis = RedisServer(net.redis)
        hosts: list[Host] = []
        try:
            for namespace in net.hosts:
                hosts.append(Host(namespace, geows_on(
                    namespace, CONFIG.format(redis=redis.url), extra_files={"fleet.py": PLUGIN})))
            for host in hosts:
                host.geows.wait_for_workers(WORKERS)
                wait_until(lambda h=host: h.links_up() == [1] * WORKERS, 20,
                           lambda h=host: f"{h.namespace.name}'s links up: {h.links_up()}")
            yield Fleet(net, hosts)
        finally:
            try:
                assert [host.geows.stop() for host in hosts] == [0] * len(hosts)
            finally:
                redis.stop()
