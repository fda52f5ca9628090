"""What the master hands each worker it starts: its Assignment, through the worker's
environment, and the generation's Parsed config, over its channel."""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import asdict, dataclass

from geows.config import Config

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


@dataclass(frozen=True)
class Parsed:
    """What the master read for one generation, which every worker of it runs, replacements
    included: the config, and each Python plugin's source text as it was then (a file
    edited on disk since waits for the next reload, as the config does)."""

    config: Config
    plugin_sources: dict[str, bytes]  # by WebSocketHandler's plugin path

    def to_bytes(self) -> bytes:
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def from_bytes(data: bytes) -> Parsed:
        """Only ever from the master, over the worker's own channel: pickle runs what it
        is given."""
        return pickle.loads(data)
