"""What the master hands each worker it starts, through the worker's environment."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

ASSIGNMENT_ENV = "GEOWS_WORKER"  # the variable that holds it


@dataclass(kw_only=True)
class Assignment:
    """What the master hands a worker it starts."""

    generation: int
    channel: int  # the worker's end of its socketpair to the master
    listeners: list[tuple[str | None, int, int]]  # host, port and inherited fd of each Listen
    open_connections: int  # the inherited fd of the shared count (geows.process.shares)
    share: int             # this worker's entry in it
    started: float  # when the master started (Unix time): the server's uptime
    config: str   # what the master read: -f, -d and -D as given
    server_root: str | None
    defines: list[str]

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> Assignment:
        """The assignment in this process's environment, taken out of it (a plugin's child
        processes do not see it)."""
        fields = json.loads(os.environ.pop(ASSIGNMENT_ENV))
        # JSON has no tuples: each listener as the master gave it.
        fields["listeners"] = [tuple(listener) for listener in fields["listeners"]]
        return cls(**fields)
