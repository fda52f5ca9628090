"""Settings for every test: hypothesis derandomised (its cases drawn from each test's own
source, no database), so that every run tries the same cases and a bug one run finds,
every run finds; and Location matchers compiled afresh for each test."""

import pytest
from hypothesis import settings

from geows.config.model import location_matcher

settings.register_profile("derandomized", derandomize=True, database=None)
settings.load_profile("derandomized")


@pytest.fixture(autouse=True)
def fresh_location_matchers():
    """location_matcher caches what it compiles: without this, a test could pass on a
    matcher an earlier test built, and a mutation run (tests/mutation.sh, whose mutants run
    in processes forked after the clean run) would judge that run's matchers, not the
    mutant's."""
    location_matcher.cache_clear()
