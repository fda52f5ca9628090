"""The status page (SetHandler geows-status): what every worker process counts, summed, for
humans (HTML) and for machines (?auto: text/plain `Key: value` lines in mod_status' habit,
its keys where they mean the same, geows' own for the WebSocket figures).

Pure functions: the workers' snapshots (Server.snapshot) in, the page out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from html import escape
from typing import Any

from geows.http import SERVER

# Figures change from one request to the next, and the page is nobody else's business.
HEADERS = (("Cache-Control", "no-cache, no-store"),)

# A WebSocket location's figures for one protocol, as in a snapshot.
COUNTERS = ("open", "accepted", "messages_in", "messages_out")


@dataclass(frozen=True, kw_only=True)
class _Figures:
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


def render(snapshots: list[dict[str, Any]], *, ended: dict[str, Any] | None = None,
           started: float, generation: int, now: float, server_name: str,
           auto: bool) -> tuple[str, bytes]:
    """The page's content type and content. `ended`: what the processes that ended had
    counted (geows.process.totals), added to the totals. `started` and `now` are Unix
    times; `generation` counts the server's restarts."""
    counted = snapshots if ended is None else [*snapshots, ended]
    rows = _location_rows(counted)
    figures = _Figures(
        snapshots=snapshots, rows=rows, server_name=server_name, now=_time(now),
        started=_time(started), generation=generation, uptime=max(0, int(now - started)),
        open=sum(s["open"] for s in snapshots), accepted=sum(s["accepted"] for s in counted),
        websocket={key: sum(counts[key] for _, _, counts in rows) for key in COUNTERS})
    if auto:
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


def _auto(f: _Figures) -> str:
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
        # One line per process and per location and protocol: numbers first, words last
        # (a location's name may hold spaces).
        *(f"Worker: {s['pid']} {s['generation']} {s['open']} {s['accepted']} "
          f"{int(s['started'])} {s['state']}" for s in f.snapshots),
        *(f"WebSocketLocation: {' '.join(str(counts[key]) for key in COUNTERS)} {label} {name}"
          for name, label, counts in f.rows),
    ]
    return "\n".join(lines) + "\n"


def _html(f: _Figures) -> str:
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
        "</dl>",
        "<h2>Worker processes</h2>",
        "<table border=\"1\">",
        _row("th", "PID", "Generation", "State", "Started", "Open connections",
             "Connections accepted"),
        *workers,
        "</table>",
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
