"""Settings for every test: hypothesis derandomised (its cases drawn from each test's own
source, no database), so that every run tries the same cases and a bug one run finds,
every run finds."""

from hypothesis import settings

settings.register_profile("derandomized", derandomize=True, database=None)
settings.load_profile("derandomized")
