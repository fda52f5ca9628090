"""Fixtures the tests across hosts share: a real redis-server on loopback (the link's
tests), and the fleet of tests/cluster/fleet.py (hosts as network namespaces)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster.fleet import Fleet, running_fleet
from tests.cluster.redis_server import RedisServer


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server on a loopback port of its own, stopped after the test."""
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    with running_fleet() as made:
        yield made
