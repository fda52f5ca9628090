"""The status page (SetHandler geows-status): what every worker process counts, summed, for
humans (HTML) and for machines (?auto: text/plain `Key: value` lines in mod_status' habit,
its keys where they mean the same, geows' own for the WebSocket figures; ?prometheus:
Prometheus' text exposition, geows.runtime.metrics).

Pure functions: the workers' snapshots (Server.snapshot) and the master's own figures in, the
page out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import quote

from geows.http import SERVER
from geows.runtime import metrics

# Figures change from one request to the next, and the page is nobody else's business.
HEADERS = (("Cache-Control", "no-cache, no-store"),)

# A WebSocket location's figures for one protocol, as in a snapshot.
COUNTERS = ("open", "accepted", "messages_in", "messages_out")
# A location's ordered broadcasts in a process (geows.cluster.figures.LocationFigures), the
# numbers the ?auto and HTML pages show, in their order.
LOCATION_FIGURES = ("last_seq", "delivered", "repaired", "gaps_lost", "lost_messages")


@dataclass(frozen=True, kw_only=True)
class Figures:
    """What one page shows."""

    snapshots: list[dict[str, Any]]
    rows: list[tuple[str, str, dict[str, int]]]  # see _location_rows
    server_name: str
    now: str
    started: str
    generation: int
    uptime: int  # seconds
    open: int
    accepted: int
    websocket: dict[str, int]  # COUNTERS summed over every location and protocol
    empty_slots: list[dict[str, Any]]  # the master's: generation, slot, reason, since, ...
    relay_dropped: int  # broadcasts the master dropped for workers that took nothing
    started_at: float  # Unix time
    # Per process with a Redis link (WebSocketBroadcast): its pid and its figures, as
    # geows.cluster.figures.LinkFigures' fields (dataclasses.asdict).
    links: list[tuple[int, dict[str, Any]]]
    rooms: list[tuple[str, str, int]]  # location, room, members summed over the processes


def page_form(query: str) -> str:
    """Which page a request's query asks for: "prometheus", "auto" or "html" (a key counts
    with a value too: Prometheus' scrape `params` send `prometheus=`)."""
    words = {word.split("=", 1)[0] for word in query.split("&")}
    return next((form for form in ("prometheus", "auto") if form in words), "html")


def render(snapshots: list[dict[str, Any]], *, started: float, generation: int, now: float,
           server_name: str, form: str,
           master: dict[str, Any] | None = None) -> tuple[str, bytes]:
    """The page's content type and content in `form` (page_form). `started` and `now` are
    Unix times; `generation` counts the server's restarts; `master`: the master's own
    figures (geows.process.master), none with -X: what the processes that ended had
    counted (`ended`, geows.process.totals, added to the totals), the serving
    generation's `empty_slots`, `relay_dropped`. A snapshot's `link` (its Redis link's
    figures, or None) and `rooms` (location -> room -> members) are its process's own."""
    master = master or {}
    ended = master.get("ended")
    counted = snapshots if ended is None else [*snapshots, ended]
    rows = _location_rows(counted)
    figures = Figures(
        snapshots=snapshots, rows=rows, server_name=server_name, now=_time(now),
        started=_time(started), generation=generation, uptime=max(0, int(now - started)),
        open=sum(s["open"] for s in snapshots), accepted=sum(s["accepted"] for s in counted),
        websocket={key: sum(counts[key] for _, _, counts in rows) for key in COUNTERS},
        empty_slots=master.get("empty_slots", []), relay_dropped=master.get("relay_dropped", 0),
        started_at=started, links=[(s["pid"], s["link"]) for s in snapshots if s["link"]],
        rooms=_room_rows(snapshots))
    if form == "prometheus":
        return metrics.CONTENT_TYPE, metrics.exposition(figures).encode()
    if form == "auto":
        return "text/plain; charset=utf-8", _auto(figures).encode()
    return "text/html; charset=utf-8", _html(figures).encode()


def _location_rows(snapshots: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, int]]]:
    """(location, protocol, counters) summed over the snapshots, in their order;
    a location nobody has connected to yet has one row, protocol "-", all zeros."""
    merged: dict[str, dict[str, dict[str, int]]] = {}
    for snapshot in snapshots:
        for name, protocols in snapshot["locations"].items():
            into = merged.setdefault(name, {})
            for label, counts in protocols.items():
                row = into.setdefault(label, dict.fromkeys(COUNTERS, 0))
                for key in COUNTERS:
                    row[key] += counts[key]
    return [(name, label, counts)
            for name, protocols in merged.items()
            for label, counts in (protocols or {"-": dict.fromkeys(COUNTERS, 0)}).items()]


def _room_rows(snapshots: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    """(location, room, members) summed over the snapshots, sorted."""
    members: dict[tuple[str, str], int] = {}
    for snapshot in snapshots:
        for name, rooms in snapshot["rooms"].items():
            for room, count in rooms.items():
                members[name, room] = members.get((name, room), 0) + count
    return [(name, room, count) for (name, room), count in sorted(members.items())]


def _auto(f: Figures) -> str:
    websocket = f.websocket
    lines = [
        f.server_name,  # mod_status' first line: the server's name
        f"ServerVersion: {SERVER}",
        f"CurrentTime: {f.now}",
        f"RestartTime: {f.started}",
        f"ParentServerMPMGeneration: {f.generation}",
        f"ServerUptimeSeconds: {f.uptime}",
        f"ServerUptime: {_duration(f.uptime)}",
        f"Processes: {len(f.snapshots)}",
        f"Stopping: {sum(s['state'] == 'draining' for s in f.snapshots)}",
        f"ConnsTotal: {f.open}",
        f"ConnsAccepted: {f.accepted}",
        f"WebSocketConns: {websocket['open']}",
        f"WebSocketConnsAccepted: {websocket['accepted']}",
        f"WebSocketMessagesIn: {websocket['messages_in']}",
        f"WebSocketMessagesOut: {websocket['messages_out']}",
        f"RelayDropped: {f.relay_dropped}",
        # One line per process and per location and protocol: numbers first, words last
        # (a location's name may hold spaces).
        *(f"Worker: {s['pid']} {s['generation']} {s['open']} {s['accepted']} "
          f"{int(s['started'])} {s['state']}" for s in f.snapshots),
        *(f"WebSocketLocation: {' '.join(str(counts[key]) for key in COUNTERS)} {label} {name}"
          for name, label, counts in f.rows),
        *(f"EmptySlot: {e['generation']} {e['slot']} {e['young_deaths']} {int(e['since'])} "
          f"{e['reason']}" for e in f.empty_slots),
        *(f"BroadcastLink: {pid} {int(link['up'])} {int(link['since'])} {link['reconnects']} "
          f"{link['published']} {link['local_only']} {link['url']}" for pid, link in f.links),
        *(f"BroadcastLocation: {pid} {' '.join(str(figures[key]) for key in LOCATION_FIGURES)} "
          f"{figures['epoch'] or '-'} {name}"
          for pid, link in f.links for name, figures in link["locations"].items()),
        *(f"Room: {members} {quote(room, safe='')} {name}" for name, room, members in f.rooms),
    ]
    return "\n".join(lines) + "\n"


def _html(f: Figures) -> str:
    websocket = f.websocket
    workers = [_row("td", s["pid"], s["generation"], s["state"], _time(s["started"]), s["open"],
                    s["accepted"]) for s in f.snapshots]
    locations = [_row("td", name, label, *(counts[key] for key in COUNTERS))
                 for name, label, counts in f.rows]
    return "\n".join([
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8"><title>geows Status</title></head><body>',
        f"<h1>geows Status for {escape(f.server_name)}</h1>",
        f"<dl><dt>Server Version: {SERVER}</dt>",
        f"<dt>Current Time: {f.now}</dt>",
        f"<dt>Start Time: {f.started}</dt>",
        f"<dt>Generation (restarts): {f.generation}</dt>",
        f"<dt>Server uptime: {_duration(f.uptime)}</dt>",
        f"<dt>{f.open} connections open, {f.accepted} accepted; "
        f"{websocket['open']} WebSocket connections open, {websocket['accepted']} accepted</dt>"
        f"<dt>{f.relay_dropped} broadcasts dropped for workers that took nothing</dt>"
        "</dl>",
        "<h2>Worker processes</h2>",
        "<table border=\"1\">",
        _row("th", "PID", "Generation", "State", "Started", "Open connections",
             "Connections accepted"),
        *workers,
        "</table>",
        *_empty_slots(f.empty_slots),
        *_links(f.links),
        *_rooms(f.rooms),
        "<h2>WebSocket locations</h2>",
        "<table border=\"1\">",
        _row("th", "Location", "Protocol", "Open connections", "Connections accepted",
             "Messages in", "Messages out"),
        *locations,
        _row("th", "Total", "", *(websocket[key] for key in COUNTERS)),
        "</table>",
        "</body></html>",
        "",
    ])


def _empty_slots(empty_slots: list[dict[str, Any]]) -> list[str]:
    """The serving generation's slots whose worker could not start or died, if any."""
    if not empty_slots:
        return []
    return ["<h2>Empty worker slots (their connections go to the other workers)</h2>",
            "<table border=\"1\">",
            _row("th", "Generation", "Slot", "Empty since", "Failures in a row", "Why"),
            *(_row("td", e["generation"], e["slot"], _time(e["since"]), e["young_deaths"],
                   e["reason"]) for e in empty_slots),
            "</table>"]


def _links(links: list[tuple[int, dict[str, Any]]]) -> list[str]:
    """Each process's Redis link and its ordered broadcasts per location, if it has one."""
    if not links:
        return []
    return ["<h2>Broadcasts across hosts (Redis)</h2>",
            "<table border=\"1\">",
            _row("th", "PID", "Redis", "Link", "Since", "Reconnects", "Published",
                 "This host only"),
            *(_row("td", pid, link["url"], "up" if link["up"] else "down", _time(link["since"]),
                   link["reconnects"], link["published"], link["local_only"])
              for pid, link in links),
            "</table>",
            "<table border=\"1\">",
            _row("th", "Location", "PID", "Epoch", "Last sequence number", "Delivered",
                 "Repaired from history", "Gaps lost", "Messages lost"),
            *(_row("td", name, pid, figures["epoch"] or "-",
                   *(figures[key] for key in LOCATION_FIGURES))
              for pid, link in links for name, figures in link["locations"].items()),
            "</table>"]


def _rooms(rooms: list[tuple[str, str, int]]) -> list[str]:
    """The rooms with members on this host."""
    if not rooms:
        return []
    return ["<h2>Rooms (members on this host)</h2>",
            "<table border=\"1\">",
            _row("th", "Location", "Room", "Members"),
            *(_row("td", name, room, members) for name, room, members in rooms),
            "</table>"]


def _row(cell: str, *values: object) -> str:
    return "<tr>" + "".join(f"<{cell}>{escape(str(v))}</{cell}>" for v in values) + "</tr>"


def _time(when: float) -> str:
    """A time as mod_status shows it: local, "Tuesday, 01-Apr-2025 10:00:00 UTC"."""
    return time.strftime("%A, %d-%b-%Y %H:%M:%S %Z", time.localtime(when))


def _duration(seconds: int) -> str:
    """As mod_status' uptime: "1 day 2 hours 5 seconds", the parts that are not zero."""
    parts = []
    for name, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {name}{'' if count == 1 else 's'}")
    return " ".join(parts) or "0 seconds"
