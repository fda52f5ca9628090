"""What the worker processes that ended had counted, for the status page's totals.

The master folds each ended worker's last status figures (Server.snapshot) into these
totals and hands them to every worker with the others' figures, so the page's counters
go on growing across reloads and deaths, as mod_status' survive a graceful restart. A
worker that exits says its last figures before it goes; one killed (-9) cannot, and what
it counted since its last report (limits.STATUS_INTERVAL) is lost.
"""

from __future__ import annotations

from typing import Any

# A snapshot's figures that are not totals: what was open is not any more.
_OPEN = "open"


def no_totals() -> dict[str, Any]:
    """Nothing ended yet: a snapshot's accepted connections and location rows, empty."""
    return {"accepted": 0, "locations": {}}


def add_ended(totals: dict[str, Any], snapshot: dict[str, Any]) -> None:
    """Add an ended worker's last snapshot to the totals, in place: its open connections
    ended with it."""
    totals["accepted"] += snapshot["accepted"]
    for name, protocols in snapshot["locations"].items():
        for label, counts in protocols.items():
            into = totals["locations"].setdefault(name, {}).setdefault(label, {_OPEN: 0})
            for key, value in counts.items():
                if key != _OPEN:
                    into[key] = into.get(key, 0) + value
