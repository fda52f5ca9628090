"""The shared count of open connections (geows.process.shares): the cap of the whole server
or of one worker, a dead worker's share given back, entries handed out and freed."""

from __future__ import annotations

import os

import pytest

from geows import limits
from geows.process.shares import OpenConnections


def test_the_cap_counts_every_share_and_a_released_share_frees_its_room():
    segment = OpenConnections.create()
    first, second = segment.assign(), segment.assign()
    # A worker maps the segment from the descriptor it inherits.
    a = OpenConnections(os.dup(segment.fd)).share(first)
    b = OpenConnections(os.dup(segment.fd)).share(second)
    assert [a.take(5, whole_server=True) for _ in range(3)] == [True] * 3
    assert [b.take(5, whole_server=True) for _ in range(3)] == [True, True, False]
    b.give()
    assert a.take(5, whole_server=True)
    assert not b.take(5, whole_server=True)
    segment.release(first)  # a died holding 4; b holds 1
    assert [b.take(5, whole_server=True) for _ in range(5)] == [True] * 4 + [False]


def test_without_max_request_workers_each_worker_is_capped_alone():
    segment = OpenConnections.create()
    a = segment.share(segment.assign())
    b = segment.share(segment.assign())
    assert [a.take(2, whole_server=False) for _ in range(3)] == [True, True, False]
    assert [b.take(2, whole_server=False) for _ in range(3)] == [True, True, False]


def test_entries_are_handed_out_until_none_is_free_and_freed_on_release():
    segment = OpenConnections.create()
    entries = [segment.assign() for _ in range(limits.SHARED_COUNT_ENTRIES)]
    assert sorted(entries) == list(range(limits.SHARED_COUNT_ENTRIES))
    assert segment.free() == 0
    with pytest.raises(ValueError):
        segment.assign()
    segment.release(7)
    assert segment.free() == 1 and segment.assign() == 7
