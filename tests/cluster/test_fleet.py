"""A fleet (tests/cluster/fleet.py: 3 geows hosts of 2 workers each, in network namespaces
of their own, on one redis-server in another), real clients in the clients' namespace:

- fan-out: 300 clients, 1,000 messages from senders on every host: every client gets
  each once, all in one order, and every worker's figures say so;
- rooms: 10 rooms with members on every host: each member gets its room's messages, in
  order, and nothing else; a connection in no room gets none;
- a partition of one host from Redis for 10 s (nftables DROP): its link is seen down
  within 5 s, and once it is lifted its clients get what they missed from history, once,
  in the order the others saw.
"""

from __future__ import annotations

import time

from tests.cluster.clients import Clients
from tests.cluster.fleet import HOSTS, WORKERS
from tests.cluster.hosts import wait_until

LOST = "the link to Redis is lost"  # geows.cluster.link's error-log line


def test_fan_out_1000_messages_from_every_host_reach_300_clients_once_in_one_order(fleet):
    senders, each = 10, 100  # sender k on host k % 3
    sent = {k: [f"s{k}:{i}" for i in range(each)] for k in range(senders)}
    results = fleet.run({"clients": [{"url": fleet.hosts[k % HOSTS].url, "send": sent.get(k, [])}
                                     for k in range(100 * HOSTS)],
                         "expect": senders * each, "timeout": 180})

    order = results[0]["received"]
    assert sorted(order) == sorted(m for messages in sent.values() for m in messages)
    assert all(r["received"] == order for r in results)  # once each, one order
    for k, messages in sent.items():  # each sender's in the order it sent them
        assert [m for m in order if m.startswith(f"s{k}:")] == messages
    published = 0
    for host in fleet.hosts:
        # The other worker's figures reach the page within a second or two.
        page = host.page_where("geows_broadcast_delivered_total", [senders * each] * WORKERS, 5)
        assert host.per_worker("geows_broadcast_gaps_lost_total", page) == [0.0] * WORKERS
        last_seqs = host.per_worker("geows_broadcast_last_seq", page)
        assert len(last_seqs) == WORKERS and len(set(last_seqs)) == 1
        published += sum(page["geows_broadcast_published_total"].values())
    assert published == senders * each


def test_rooms_across_hosts_reach_their_members_only(fleet):
    rooms, per_room, members = 10, 20, 80  # client k < 80 joins room k % 10, on host k % 3
    plan = {"clients": [], "fences": rooms, "timeout": 60}
    for k in range(members + 10):  # the last 10: in no room
        client = {"url": fleet.hosts[k % HOSTS].url,
                  "setup": [f"join r{k % rooms}"] if k < members else []}
        if k < rooms:  # room k's sender, then its fence to everyone
            client["send"] = [*(f"to r{k} r{k}:{i}" for i in range(per_room)), f"fence:{k}"]
        plan["clients"].append(client)
    results = fleet.run(plan)

    fences = [m for m in results[0]["received"] if m.startswith("fence:")]
    assert sorted(fences) == sorted(f"fence:{k}" for k in range(rooms))
    for k, result in enumerate(results):
        assert [m for m in result["received"] if m.startswith("fence:")] == fences
        heard = [m for m in result["received"] if not m.startswith("fence:")]
        if k < members:
            assert result["setup"] == [f"joined r{k % rooms}"]
            assert heard == [f"r{k % rooms}:{i}" for i in range(per_room)], k
        else:
            assert heard == [], k
    for host in fleet.hosts:
        assert host.per_worker("geows_broadcast_gaps_lost_total") == [0.0] * WORKERS


def test_a_10_s_partition_of_one_host_is_seen_within_5_s_and_repaired(fleet):
    cut = fleet.hosts[0]
    each, pace = 150, 0.1  # two senders, on the other hosts, for 15 s
    sent = {k: [f"s{k}:{i}" for i in range(each)] for k in (1, 2)}
    plan = {"clients": [{"url": fleet.hosts[k % HOSTS].url, "send": sent.get(k, []),
                         "pace": pace} for k in range(30 * HOSTS)],
            "expect": 2 * each, "timeout": 60}
    clients = Clients(fleet.net.clients, plan)
    assert clients.ready() == len(plan["clients"])
    clients.start()
    time.sleep(2)
    with fleet.net.partition(cut.namespace, fleet.net.redis):
        started = time.monotonic()
        # Each worker says so at once; the page shows the other worker's figures a second
        # or two later.
        wait_until(lambda: cut.geows.error_log.count(LOST) == WORKERS, 5,
                   lambda: f"the partition not seen within 5 s:\n{cut.geows.error_log}")
        wait_until(lambda: cut.links_up() == [0] * WORKERS, 5,
                   lambda: f"the page's links: {cut.links_up()}")
        time.sleep(max(0.0, 10 - (time.monotonic() - started)))
    wait_until(lambda: cut.links_up() == [1] * WORKERS, 20,
               lambda: f"the links not up again: {cut.links_up()}")
    results = clients.result()["clients"]
    assert [r["error"] for r in results] == [None] * len(results)

    order = results[1]["received"]
    assert sorted(order) == sorted(m for messages in sent.values() for m in messages)
    assert all(r["received"] == order for r in results), "each once, one order"
    repaired = cut.per_worker("geows_broadcast_repaired_total")
    assert len(repaired) == WORKERS and all(value > 0 for value in repaired)
    assert cut.per_worker("geows_broadcast_gaps_lost_total") == [0.0] * WORKERS
    reconnects = cut.figures()["geows_broadcast_link_reconnects_total"].values()
    assert len(reconnects) == WORKERS and all(value >= 1 for value in reconnects)
