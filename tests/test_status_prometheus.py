"""The status page as Prometheus' text exposition (?prometheus), read with prometheus_client's
own parser: the running server's figures, equal to ?auto's, and the Redis link's and rooms'
figures of the processes' snapshots, on the ?prometheus, ?auto and HTML pages."""

from __future__ import annotations

import contextlib

import pytest
import websocket  # websocket-client
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect

from geows.runtime import status
from tests.geows_process import GeowsProcess
from tests.test_status import CONFIG, ECHO, REGEX, REGEX_PATH, auto, echo, fetch

TYPES = {"gauge", "counter"}


@pytest.fixture
def geows():
    process = GeowsProcess(CONFIG, extra_files={"htpasswd": ""})
    yield process
    assert process.stop() == 0


def parse(text: str) -> dict[str, dict[tuple, float]]:
    """Sample name -> (label items, sorted) -> value; every family typed and helped."""
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        assert family.type in TYPES and family.documentation, family
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = \
                sample.value
    return samples


def prometheus(port: int) -> dict[str, dict[tuple, float]]:
    response, body = fetch(port, "/geows-status?prometheus")
    assert response.status == 200
    assert response.getheader("Content-Type") == "text/plain; version=0.0.4; charset=utf-8"
    assert "no-cache" in response.getheader("Cache-Control")
    return parse(body.decode())


def location(name: str, protocol: str) -> tuple:
    return (("location", name), ("protocol", protocol))


def test_the_running_servers_figures_equal_autos(geows):
    port = geows.port
    with contextlib.ExitStack() as clients:
        deflate = clients.enter_context(connect(f"ws://127.0.0.1:{port}/echo"))
        plain = websocket.create_connection(f"ws://127.0.0.1:{port}/echo", timeout=10)
        clients.callback(plain.close)
        regex = clients.enter_context(connect(f"ws://127.0.0.1:{port}{REGEX_PATH}"))
        echo(deflate.send, deflate.recv, 3)
        echo(plain.send, plain.recv, 2)
        echo(regex.send, regex.recv, 4)
        metrics = prometheus(port)
        fields, locations = auto(port)

    worker, = geows.workers()
    assert metrics["geows_info"] == {
        (("server_name", f"127.0.0.1:{port}"), ("version", fields["ServerVersion"])): 1}
    assert metrics["geows_connections_open"] == {(): 4}  # the three and the request
    # ?auto's request came after: one more accepted.
    assert metrics["geows_connections_accepted_total"] == {(): int(fields["ConnsAccepted"]) - 1}
    assert metrics["geows_generation"] == {(): 0}
    assert metrics["geows_processes"] == {(("state", "serving"),): 1}
    assert metrics["geows_relay_dropped_total"] == {(): 0}
    assert metrics["geows_uptime_seconds"][()] >= 0
    assert metrics["geows_start_time_seconds"][()] > 1.7e9
    worker_labels = (("generation", "0"), ("pid", str(worker)))
    assert metrics["geows_worker_connections_open"] == {worker_labels: 4}
    assert metrics["geows_worker_connections_accepted_total"] == {
        worker_labels: int(fields["ConnsAccepted"]) - 1}
    assert set(metrics["geows_worker_start_time_seconds"]) == {worker_labels}
    assert locations == [f"1 1 2 2 rfc6455 {ECHO}", f"1 1 3 3 rfc6455+permessage-deflate {ECHO}",
                         f"1 1 4 4 rfc6455+permessage-deflate {REGEX}"]
    rows = [line.split(" ", 5) for line in locations]
    for key, name in (("open", "geows_websocket_connections_open"),
                      ("accepted", "geows_websocket_connections_accepted_total"),
                      ("messages_in", "geows_websocket_messages_in_total"),
                      ("messages_out", "geows_websocket_messages_out_total")):
        column = status.COUNTERS.index(key)
        assert metrics[name] == {location(row[5], row[4]): int(row[column]) for row in rows}
    assert not [name for name in metrics if "broadcast" in name or "room" in name]


SNAPSHOT = {"pid": 41, "started": 1795673987.5, "generation": 2, "state": "serving",
            "open": 3, "accepted": 9, "locations": {ECHO: {}}, "rooms": {}, "link": None}
LINK = {"url": "redis://:***@10.16.0.2:6380/0", "up": True, "since": 1795673990.25,
        "reconnects": 2, "published": 120, "local_only": 7,
        "locations": {ECHO: {"epoch": "e1f2", "last_seq": 130, "delivered": 128,
                             "repaired": 11, "gaps_lost": 1, "lost_messages": 2}}}
DOWN = {"url": "redis://10.16.0.2:6380", "up": False, "since": 1795673999.0, "reconnects": 0,
        "published": 0, "local_only": 3, "locations": {}}
ODD_ROOM = 'lobby "A"\\b\nc'


def page(form: str) -> str:
    snapshots = [{**SNAPSHOT, "link": LINK, "rooms": {ECHO: {"blue": 2, ODD_ROOM: 1}}},
                 {**SNAPSHOT, "pid": 42, "link": DOWN, "rooms": {ECHO: {"blue": 3}}}]
    master = {"empty_slots": [{"generation": 2, "slot": 1, "reason": "could not start: x",
                               "since": 1795673995.0, "young_deaths": 3}], "relay_dropped": 5}
    return status.render(snapshots, started=1795673900.0, generation=2, now=1795674000.0,
                         server_name="h1", form=form, master=master)[1].decode()


def test_the_link_and_room_figures_of_every_process():
    metrics = parse(page("prometheus"))
    one, two = (("pid", "41"),), (("pid", "42"),)
    assert metrics["geows_broadcast_link_up"] == {
        (("pid", "41"), ("url", LINK["url"])): 1, (("pid", "42"), ("url", DOWN["url"])): 0}
    assert metrics["geows_broadcast_link_since_seconds"] == {one: 1795673990.25,
                                                             two: 1795673999.0}
    assert metrics["geows_broadcast_link_reconnects_total"] == {one: 2, two: 0}
    assert metrics["geows_broadcast_published_total"] == {one: 120, two: 0}
    assert metrics["geows_broadcast_local_only_total"] == {one: 7, two: 3}
    at = (("location", ECHO), ("pid", "41"))
    assert metrics["geows_broadcast_last_seq"] == {(("epoch", "e1f2"), *at): 130}
    assert metrics["geows_broadcast_delivered_total"] == {at: 128}
    assert metrics["geows_broadcast_repaired_total"] == {at: 11}
    assert metrics["geows_broadcast_gaps_lost_total"] == {at: 1}
    assert metrics["geows_broadcast_lost_messages_total"] == {at: 2}
    # Summed over the processes; a room's name comes back whatever it holds.
    assert metrics["geows_room_members"] == {
        (("location", ECHO), ("room", "blue")): 5, (("location", ECHO), ("room", ODD_ROOM)): 1}
    assert metrics["geows_empty_slot_failures"] == {
        (("generation", "2"), ("reason", "could not start: x"), ("slot", "1")): 3}
    assert metrics["geows_relay_dropped_total"] == {(): 5}
    assert metrics["geows_uptime_seconds"] == {(): 100}
    assert metrics["geows_processes"] == {(("state", "serving"),): 2}
    assert metrics["geows_websocket_connections_open"] == {location(ECHO, "-"): 0}


def test_the_link_and_room_lines_of_auto_and_html():
    lines = page("auto").splitlines()
    assert [line for line in lines if line.startswith(("Broadcast", "Room"))] == [
        f"BroadcastLink: 41 1 1795673990 2 120 7 {LINK['url']}",
        f"BroadcastLink: 42 0 1795673999 0 0 3 {DOWN['url']}",
        f"BroadcastLocation: 41 130 128 11 1 2 e1f2 {ECHO}",
        f"Room: 5 blue {ECHO}",
        f"Room: 1 lobby%20%22A%22%5Cb%0Ac {ECHO}"]
    html = page("html")
    assert (f"<tr><td>41</td><td>{LINK['url']}</td><td>up</td><td>") in html
    assert f"<tr><td>42</td><td>{DOWN['url']}</td><td>down</td><td>" in html
    assert ("<tr><td>&lt;Location /echo&gt;</td><td>41</td><td>e1f2</td><td>130</td>"
            "<td>128</td><td>11</td><td>1</td><td>2</td></tr>") in html
    assert "<tr><td>&lt;Location /echo&gt;</td><td>blue</td><td>5</td></tr>" in html
    assert "<td>lobby &quot;A&quot;\\b\nc</td>" in html


def test_without_links_or_rooms_the_pages_have_none_of_their_lines():
    plain = status.render([SNAPSHOT], started=0.0, generation=0, now=1.0, server_name="h",
                          form="auto")[1].decode()
    assert not [line for line in plain.splitlines() if line.startswith(("Broadcast", "Room"))]
    html = status.render([SNAPSHOT], started=0.0, generation=0, now=1.0, server_name="h",
                         form="html")[1].decode()
    assert "Redis" not in html and "Rooms" not in html


@pytest.mark.parametrize(("query", "form"), [("", "html"), ("auto", "auto"),
                                             ("prometheus", "prometheus"),
                                             ("x=1&prometheus", "prometheus"),
                                             ("prometheus=", "prometheus"),
                                             ("auto&prometheus", "prometheus"),
                                             ("prometheusx", "html")])
def test_the_query_chooses_the_page(query, form):
    assert status.page_form(query) == form
