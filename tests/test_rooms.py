"""Rooms (WebSocketServer.join, leave, rooms, broadcast(room=...)) on the real geows with 2
workers and no Redis: a room's broadcasts reach its members on both workers and no one else,
a member that leaves gets nothing more, a join from an OS thread comes before that thread's
broadcast, on_disconnect still sees the rooms, and unreasonable names are refused."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.geows_process import REPO, GeowsProcess
from tests.process.test_workers import ask, clients_on_every_worker, open_client, serving

ROOMS = '''
import os
import sys

from geows.plugin import TEXT, Plugin, run_in_thread


def rooms_init():
    def on_message(state, server, type, data):
        command, _, rest = data.partition(" ")
        if command == "pid":
            server.send(TEXT, str(os.getpid()))
        elif command == "join":
            server.join(rest)
            server.send(TEXT, "rooms " + ",".join(sorted(server.rooms)))
        elif command == "leave":
            server.leave(rest)
            server.send(TEXT, "rooms " + ",".join(sorted(server.rooms)))
        elif command == "to":  # to ROOM TEXT: to the room's members, in every worker
            room, _, text = rest.partition(" ")
            server.broadcast(TEXT, text, room=room)
        elif command == "all":
            server.broadcast(TEXT, rest)
        elif command == "many":  # many N: join N rooms at once
            for n in range(int(rest)):
                server.join(f"m{n}")
            server.send(TEXT, f"joined {len(server.rooms)}")
        elif command == "thread":  # thread ROOM TEXT: join, then tell the room, in a thread
            room, _, text = rest.partition(" ")
            run_in_thread(lambda: (server.join(room), server.broadcast(TEXT, text, room=room)))
        elif command == "bad":
            reasons = []
            for name in ("", "x" * 256, "a\\0b", b"bytes"):
                try:
                    server.join(name)
                    reasons.append("joined")
                except ValueError as exc:
                    reasons.append(str(exc))
            server.join("\\u00e9" * 127 + "x")  # 255 bytes of UTF-8: the longest name
            reasons.append(str(len(server.rooms)))
            server.send(TEXT, "|".join(reasons))

    def on_disconnect(state, server):
        print(f"disconnect {os.getpid()} rooms {','.join(sorted(server.rooms))}",
              file=sys.stderr, flush=True)

    return Plugin(on_message=on_message, on_disconnect=on_disconnect)
'''

CONFIG = """
Listen 127.0.0.1:@PORT@
StartServers 2
<Location /rooms>
  SetHandler websocket-handler
  WebSocketHandler @DIR@/rooms.py rooms_init
</Location>
"""


@pytest.fixture(scope="module")
def geows() -> Iterator[GeowsProcess]:
    process = GeowsProcess(CONFIG, extra_files={"rooms.py": ROOMS})
    try:
        serving(process)
        yield process
    finally:
        assert process.stop() == 0


def until_ends(client, senders: int) -> list[str]:
    """What a client receives until each of `senders` said "end": each sender's messages
    keep its order, so all of its room messages came before its end."""
    got = []
    ends = 0
    while ends < senders:
        text = client.recv(timeout=5)
        if text.startswith("end"):
            ends += 1
        else:
            got.append(text)
    return got


def test_a_room_reaches_its_members_on_both_workers_and_no_one_else(geows):
    by_worker = clients_on_every_worker(geows, 2, path="/rooms")
    red = [clients[0] for clients in by_worker.values()]
    blue = [clients[1] for clients in by_worker.values()]
    outsiders = [client for clients in by_worker.values() for client in clients[2:]]
    outsiders.append(open_client(geows, "/rooms"))
    for client in red:
        assert ask(client, "join red") == "rooms red"
    for client in blue:
        assert ask(client, "join blue") == "rooms blue"
    assert ask(blue[0], "join red") == "rooms blue,red"
    everyone = red + blue + outsiders
    for n, sender in enumerate(everyone):  # members and non-members, on both workers
        sender.send(f"to red r{n}")
        sender.send(f"to blue b{n}")
        sender.send(f"to green g{n}")  # a room nobody joined
        sender.send(f"all end{n}")
    expected_red = {f"r{n}" for n in range(len(everyone))}
    expected_blue = {f"b{n}" for n in range(len(everyone))}
    for client in red:
        got = until_ends(client, len(everyone))
        assert sorted(got) == sorted(expected_red)
    assert sorted(until_ends(blue[0], len(everyone))) == sorted(expected_red | expected_blue)
    assert sorted(until_ends(blue[1], len(everyone))) == sorted(expected_blue)
    for client in outsiders:
        assert until_ends(client, len(everyone)) == []
    for client in everyone:
        client.close()


def test_a_member_that_leaves_gets_nothing_more(geows):
    by_worker = clients_on_every_worker(geows, 2, path="/rooms")
    (first, second) = [clients[0] for clients in by_worker.values()]  # one on each worker
    assert ask(first, "join lobby") == "rooms lobby"
    assert ask(second, "join lobby") == "rooms lobby"
    second.send("to lobby before")
    assert first.recv(timeout=5) == "before"
    assert second.recv(timeout=5) == "before"
    assert ask(first, "leave lobby") == "rooms "
    assert ask(first, "leave lobby") == "rooms "  # leaving a room one is not in: nothing
    second.send("to lobby after")
    assert second.recv(timeout=5) == "after"
    second.send("all end")
    assert first.recv(timeout=5) == "end"  # "after" never came before it
    for clients in by_worker.values():
        for client in clients:
            client.close()


def test_a_join_from_an_os_thread_comes_before_that_threads_broadcast(geows):
    client = open_client(geows, "/rooms")
    client.send("thread threads hello")
    assert client.recv(timeout=5) == "hello"
    assert ask(client, "join more") == "rooms more,threads"
    client.close()


def test_on_disconnect_still_sees_the_rooms_it_leaves(geows):
    client = open_client(geows, "/rooms")
    pid = ask(client, "pid")
    assert ask(client, "join gone-a") == "rooms gone-a"
    assert ask(client, "join gone-b") == "rooms gone-a,gone-b"
    client.close()
    geows.wait_for_log(f"disconnect {pid} rooms gone-a,gone-b", access=False)


def test_a_connection_in_thousands_of_rooms_joins_and_leaves_them_in_linear_time(geows):
    """A client a chat lets join rooms by name joins 40,000: each join, and leaving them
    all when it ends, takes time in proportion to one room, not to those it is in (a copy
    of its rooms for each made the worker's loop stop for seconds, every client's with it)."""
    by_worker = clients_on_every_worker(geows, 2, path="/rooms")
    member, other = next(iter(by_worker.values()))[:2]
    try:
        started = time.monotonic()
        member.send("many 40000")
        assert member.recv(timeout=10) == "joined 40000"
        assert time.monotonic() - started < 3
        member.close()
        started = time.monotonic()
        assert ask(other, "pid")
        assert time.monotonic() - started < 1
    finally:
        for clients in by_worker.values():
            for client in clients:
                client.close()


def test_unreasonable_room_names_are_refused(geows):
    client = open_client(geows, "/rooms")
    assert ask(client, "bad").split("|") == [
        "a room's name cannot be empty",
        "a room's name is at most 255 bytes of UTF-8, not 256",
        "a room's name cannot hold NUL",
        "a room's name is a str, not bytes",
        "1"]
    client.close()


# Wraps docs/reference/plugins.md's chat_init so that "pid" says which worker serves (the
# rest as written).
WHICH_WORKER = """

import os

documented_chat_init = chat_init


def chat_init():
    plugin = documented_chat_init()
    documented_on_message = plugin.on_message

    def on_message(state, server, type, data):
        if data == "pid":
            server.send(TEXT, str(os.getpid()))
        else:
            documented_on_message(state, server, type, data)

    plugin.on_message = on_message
    return plugin
"""


def test_the_documented_room_chat_runs_as_written():
    page = (REPO / "docs/reference/plugins.md").read_text()
    section = page[page.index("**Rooms**, the thing every chat plugin"):]
    start = section.index("```python\n") + len("```python\n")
    plugin = section[start:section.index("\n```", start)]
    process = GeowsProcess(CONFIG.replace("rooms.py rooms_init", "chat.py chat_init"),
                           extra_files={"chat.py": plugin + WHICH_WORKER})
    try:
        serving(process)
        by_worker = clients_on_every_worker(process, 2, path="/rooms?blue")
        blue = [client for clients in by_worker.values() for client in clients]
        lobby = open_client(process, "/rooms")
        blue[0].send("hello blue")
        for client in blue:
            assert client.recv(timeout=5) == "hello blue"
        lobby.send("hello lobby")
        assert lobby.recv(timeout=5) == "hello lobby"
        blue[0].close()
        for client in blue[1:]:  # on both workers
            assert client.recv(timeout=5) == "someone left"
        lobby.send("still alone")
        assert lobby.recv(timeout=5) == "still alone"  # nothing of blue's came first
    finally:
        assert process.stop() == 0
