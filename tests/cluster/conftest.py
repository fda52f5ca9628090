"""The fleet of tests/cluster/fleet.py as a fixture."""

from collections.abc import Iterator

import pytest

from tests.cluster.fleet import Fleet, running_fleet


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    with running_fleet() as made:
        yield made
