"""The totals of the workers that ended (geows.process.totals), as the status page adds them
to the live workers' figures (geows.runtime.status.render)."""

from __future__ import annotations

from geows.process.totals import add_ended, no_totals
from geows.runtime import status


def snapshot(pid: int, open: int, accepted: int, rows: dict) -> dict:
    return {"pid": pid, "started": 0.0, "generation": 0, "state": "serving", "open": open,
            "accepted": accepted, "locations": rows, "rooms": {}, "link": None}


def row(open: int, accepted: int, messages_in: int, messages_out: int) -> dict:
    return dict(zip(status.COUNTERS, (open, accepted, messages_in, messages_out), strict=True))


def page(snapshots: list[dict], ended: dict | None, auto: bool = True) -> str:
    return status.render(snapshots, master={"ended": ended}, started=0.0, generation=1, now=10.0,
                         server_name="h", form="auto" if auto else "html")[1].decode()


def test_an_ended_workers_figures_go_on_counting_but_not_its_open_connections():
    totals = no_totals()
    add_ended(totals, snapshot(1, 2, 50, {"<Location /echo>": {"rfc6455": row(2, 40, 7, 9)},
                                          "<Location /gone>": {}}))
    add_ended(totals, snapshot(2, 0, 5, {"<Location /echo>": {"rfc6455": row(0, 3, 1, 1)}}))
    assert totals == {"accepted": 55, "locations": {
        "<Location /echo>": {"rfc6455": row(0, 43, 8, 10)}}}
    live = snapshot(3, 1, 4, {"<Location /echo>": {"rfc6455": row(1, 2, 5, 5)},
                              "<Location /new>": {}})
    lines = page([live], totals).splitlines()[1:]
    assert [line for line in lines if not line.startswith(("ServerVersion", "CurrentTime",
                                                           "RestartTime", "ServerUptime"))] == [
        "ParentServerMPMGeneration: 1",
        "Processes: 1",
        "Stopping: 0",
        "ConnsTotal: 1",
        "ConnsAccepted: 59",
        "WebSocketConns: 1",
        "WebSocketConnsAccepted: 45",
        "WebSocketMessagesIn: 13",
        "WebSocketMessagesOut: 15",
        "RelayDropped: 0",
        "Worker: 3 0 1 4 0 serving",
        "WebSocketLocation: 1 45 13 15 rfc6455 <Location /echo>",
        "WebSocketLocation: 0 0 0 0 - <Location /new>"]
    assert ("1 connections open, 59 accepted; 1 WebSocket connections open, 45 accepted"
            in page([live], totals, auto=False))


def test_without_ended_workers_the_page_is_the_live_figures():
    live = snapshot(3, 1, 4, {"<Location /echo>": {"rfc6455": row(1, 2, 5, 5)}})
    assert page([live], None) == page([live], no_totals())
