"""Fixtures the link's tests share."""

from __future__ import annotations

import pytest

from tests.cluster.redis_server import RedisServer


@pytest.fixture
def redis_server():
    """A real redis-server on a loopback port of its own, stopped after the test."""
    server = RedisServer()
    yield server
    server.stop()
