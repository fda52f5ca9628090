"""The status page as Prometheus' text exposition (format 0.0.4): `?prometheus`.

The same figures as the ?auto and HTML pages (geows.runtime.status.Figures), named
`geows_*`: counters end in `_total` and only grow, as the page's totals do; a gauge is a
figure of now. Each process's own figures carry its `pid`; a location's, its `location` (as
`geows -S` names it) and `protocol`. A pure function: figures in, text out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from geows.http import SERVER

if TYPE_CHECKING:
    from geows.runtime.status import Figures

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# (name, type, help) of every family, in the exposition's order; a family without
# samples is left out.
FAMILIES = (
    ("geows_info", "gauge", "The server's version and name (the request's Host), always 1."),
    ("geows_start_time_seconds", "gauge", "When the master started, as a Unix time."),
    ("geows_uptime_seconds", "gauge", "Seconds since the master started."),
    ("geows_generation", "gauge", "Reloads since the master started."),
    ("geows_processes", "gauge", "Worker processes reporting, by state."),
    ("geows_connections_open", "gauge", "Open connections of every kind."),
    ("geows_connections_accepted_total", "counter",
     "Connections accepted, of every kind, by every worker that ever served."),
    ("geows_relay_dropped_total", "counter",
     "Broadcasts the master dropped for workers that took none."),
    ("geows_worker_connections_open", "gauge", "A worker process's open connections."),
    ("geows_worker_connections_accepted_total", "counter",
     "Connections a worker process accepted."),
    ("geows_worker_start_time_seconds", "gauge", "When a worker process started."),
    ("geows_websocket_connections_open", "gauge",
     "Open WebSocket connections per location and protocol."),
    ("geows_websocket_connections_accepted_total", "counter",
     "WebSocket connections accepted per location and protocol."),
    ("geows_websocket_messages_in_total", "counter",
     "WebSocket messages received per location and protocol."),
    ("geows_websocket_messages_out_total", "counter",
     "WebSocket messages sent per location and protocol."),
    ("geows_empty_slot_since_seconds", "gauge",
     "When a worker slot of the serving generation became empty, as a Unix time."),
    ("geows_empty_slot_failures", "gauge", "Failures in a row of an empty worker slot."),
    ("geows_broadcast_link_up", "gauge",
     "1 while a process's link to Redis (WebSocketBroadcast) is up, else 0."),
    ("geows_broadcast_link_since_seconds", "gauge",
     "When a process's link to Redis last went up or down, as a Unix time."),
    ("geows_broadcast_link_reconnects_total", "counter",
     "Times a process's link to Redis came up again after being down."),
    ("geows_broadcast_published_total", "counter",
     "Broadcasts a process published through Redis."),
    ("geows_broadcast_local_only_total", "counter",
     "Broadcasts a process delivered on this host only, Redis being unreachable."),
    ("geows_broadcast_last_seq", "gauge",
     "The sequence number of a location's last broadcast a process delivered, in its epoch."),
    ("geows_broadcast_delivered_total", "counter",
     "A location's broadcasts a process delivered from Redis, in order."),
    ("geows_broadcast_repaired_total", "counter",
     "Of those, the ones read from history to fill a gap."),
    ("geows_broadcast_gaps_lost_total", "counter",
     "A location's gaps that history no longer covered, in a process."),
    ("geows_broadcast_lost_messages_total", "counter", "The broadcasts in those gaps."),
    ("geows_room_members", "gauge", "A room's members on this host."),
)

# A sample: family name, labels, value.
Sample = tuple[str, dict[str, Any], float]


def exposition(f: Figures) -> str:
    """The figures in Prometheus' text format: each family's HELP and TYPE, then its
    samples."""
    samples: dict[str, list[Sample]] = {}
    for sample in _samples(f):
        samples.setdefault(sample[0], []).append(sample)
    lines = []
    for name, kind, help_text in FAMILIES:
        if name in samples:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
            lines += [f"{name}{_labels(labels)} {_value(value)}"
                      for _, labels, value in samples[name]]
    return "\n".join(lines) + "\n"


def _samples(f: Figures) -> list[Sample]:
    websocket_rows = [({"location": name, "protocol": label}, counts)
                      for name, label, counts in f.rows]
    states = sorted({s["state"] for s in f.snapshots} | {"serving"})
    return [
        ("geows_info", {"version": SERVER, "server_name": f.server_name}, 1),
        ("geows_start_time_seconds", {}, f.started_at),
        ("geows_uptime_seconds", {}, f.uptime),
        ("geows_generation", {}, f.generation),
        *(("geows_processes", {"state": state},
           sum(s["state"] == state for s in f.snapshots)) for state in states),
        ("geows_connections_open", {}, f.open),
        ("geows_connections_accepted_total", {}, f.accepted),
        ("geows_relay_dropped_total", {}, f.relay_dropped),
        *(sample for s in f.snapshots for sample in _worker(s)),
        *(("geows_websocket_connections_open", labels, counts["open"])
          for labels, counts in websocket_rows),
        *(("geows_websocket_connections_accepted_total", labels, counts["accepted"])
          for labels, counts in websocket_rows),
        *(("geows_websocket_messages_in_total", labels, counts["messages_in"])
          for labels, counts in websocket_rows),
        *(("geows_websocket_messages_out_total", labels, counts["messages_out"])
          for labels, counts in websocket_rows),
        *(sample for e in f.empty_slots for sample in _empty_slot(e)),
        *(sample for pid, link in f.links for sample in _link(pid, link)),
        *(("geows_room_members", {"location": name, "room": room}, members)
          for name, room, members in f.rooms),
    ]


def _worker(snapshot: dict[str, Any]) -> list[Sample]:
    labels = {"pid": snapshot["pid"], "generation": snapshot["generation"]}
    return [("geows_worker_connections_open", labels, snapshot["open"]),
            ("geows_worker_connections_accepted_total", labels, snapshot["accepted"]),
            ("geows_worker_start_time_seconds", labels, snapshot["started"])]


def _empty_slot(empty: dict[str, Any]) -> list[Sample]:
    labels = {"generation": empty["generation"], "slot": empty["slot"],
              "reason": empty["reason"]}
    return [("geows_empty_slot_since_seconds", labels, empty["since"]),
            ("geows_empty_slot_failures", labels, empty["young_deaths"])]


def _link(pid: int, link: dict[str, Any]) -> list[Sample]:
    labels = {"pid": pid}
    samples: list[Sample] = [
        ("geows_broadcast_link_up", {**labels, "url": link["url"]}, int(link["up"])),
        ("geows_broadcast_link_since_seconds", labels, link["since"]),
        ("geows_broadcast_link_reconnects_total", labels, link["reconnects"]),
        ("geows_broadcast_published_total", labels, link["published"]),
        ("geows_broadcast_local_only_total", labels, link["local_only"])]
    for name, figures in link["locations"].items():
        at = {"location": name, "pid": pid}
        samples += [
            ("geows_broadcast_last_seq", {**at, "epoch": figures["epoch"] or ""},
             figures["last_seq"]),
            ("geows_broadcast_delivered_total", at, figures["delivered"]),
            ("geows_broadcast_repaired_total", at, figures["repaired"]),
            ("geows_broadcast_gaps_lost_total", at, figures["gaps_lost"]),
            ("geows_broadcast_lost_messages_total", at, figures["lost_messages"])]
    return samples


def _labels(labels: dict[str, Any]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{key}="{_escape(str(value))}"' for key, value in labels.items()) + "}"


def _escape(value: str) -> str:
    """A label value as the format quotes it: backslash, double quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _value(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)
