"""Rooms in one worker, through the real Server, Handshake and Session in this process:
who is a member, what a room's broadcast reaches, a connection leaving its rooms however it
ends (closed, refused after joining in on_connect), the counts, and a lost range reported."""

from __future__ import annotations

import logging

import gevent
from websockets.frames import Frame, Opcode

from geows.messages import TEXT
from tests.runtime.test_connection import Client, _read_to_the_end, opened

ECHO = "<Location /echo>"


def settings_of(served, name: str):
    (settings,) = [s for s, n in served.server.location_names.items() if n == name]
    return settings


def test_a_room_reaches_its_members_only_and_a_connection_leaves_its_rooms_as_it_ends(served):
    server = served.server
    member, member_handshake, member_greenlet = opened(served, "/echo?room=lobby")
    other, _, _ = opened(served, "/echo")
    member.send_text("join blue")
    other.send_text("join red")
    member.send_text("ping")
    other.send_text("ping")
    assert member.next_event() == Frame(Opcode.TEXT, b"ping")  # the joins were taken
    assert other.next_event() == Frame(Opcode.TEXT, b"ping")
    assert member_handshake.session.room_set == {"lobby", "blue"}
    assert server.room_counts() == {ECHO: {"lobby": 1, "blue": 1, "red": 1},
                                    "<Location /private>": {}, "<Location /ping>": {}}
    assert server.snapshot()["rooms"] == server.room_counts()  # for the status page
    echo = settings_of(served, ECHO)
    assert server.deliver(echo, TEXT, "to blue", "blue") == 1
    assert server.deliver(echo, TEXT, "to nobody", "green") == 0
    assert server.deliver(echo, TEXT, "to all") == 2
    server.deliver_relayed(ECHO, TEXT, "relayed to red", "red")
    server.deliver_relayed("<Location /nowhere>", TEXT, "to no location", "red")
    with gevent.Timeout(2):
        assert member.next_event() == Frame(Opcode.TEXT, b"to blue")
        assert member.next_event() == Frame(Opcode.TEXT, b"to all")
        assert other.next_event() == Frame(Opcode.TEXT, b"to all")
        assert other.next_event() == Frame(Opcode.TEXT, b"relayed to red")
    member.protocol.send_close(1000)
    member.flush()
    assert member.next_event().opcode is Opcode.CLOSE
    member_greenlet.join(timeout=2)
    assert member_greenlet.dead
    # on_disconnect still saw its rooms; then it left them, and empty rooms are gone.
    assert served.plugin.rooms_at_disconnect == [{"lobby", "blue"}]
    assert member_handshake.session.room_set == set()
    assert server.room_counts()[ECHO] == {"red": 1}
    assert server.deliver(echo, TEXT, "to blue again", "blue") == 0


def test_a_connection_refused_after_joining_in_on_connect_leaves_the_room(served):
    sock, handshake, greenlet = served.connect()
    Client(sock, "/echo?room=lobby&refuse")
    assert _read_to_the_end(sock).startswith(b"HTTP/1.1 403 ")
    greenlet.join(timeout=2)
    assert served.plugin.calls == ["on_connect"]
    assert served.server.room_counts()[ECHO] == {}
    assert handshake.session.room_set == set()
    assert not any(served.server.members.values())


def test_a_lost_range_is_logged_and_handed_to_the_plugin_once(served, caplog):
    with caplog.at_level(logging.ERROR, logger="geows.server"):
        served.server.report_gap(ECHO, 5, 9)
        served.server.report_gap(ECHO, 13, 13)  # the plugin raises: logged
        served.server.report_gap("<Location /nowhere>", 1, 2)
        gevent.sleep(0.05)
    assert served.plugin.gaps == [(ECHO, 5, 9), (ECHO, 13, 13)]
    assert f"{ECHO}: broadcasts 5 to 9 are lost" in caplog.text
    assert "<Location /nowhere>: broadcasts 1 to 2 are lost" in caplog.text
    assert f"{ECHO}: plugin on_broadcast_gap(13, 13) raised" in caplog.text
    assert "on_broadcast_gap failed on purpose" in caplog.text
